"""Issue 4's acceptance: the three patterns a Lambda course teaches, end to end, with real boto3
calls and real HTTP: an API backend, event processing, stream processing."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest

from kernel_runtime import LambdaRuntime

from ._functions import eventually

pytestmark = pytest.mark.timeout(180)

T = TypeVar("T")


@pytest.fixture(scope="module")
def lab() -> Iterator[LambdaRuntime]:
    with LambdaRuntime() as runtime:
        yield runtime


def _fn(lab: LambdaRuntime, name: str, source: str, **config: Any) -> str:
    config.setdefault("memory_size", 1769)  # boto3's import at 128 MB's CPU share takes seconds
    lab.create_function(name, "app.handler", source, **config)
    return lab.service.registry.function_arn(name)


# -- (1) API backend ------------------------------------------------------------------------------
ITEMS = """
import json
import boto3

table = boto3.resource("dynamodb").Table("items")

def handler(event, context):
    method = event["requestContext"]["http"]["method"]
    if method == "POST":
        item = json.loads(event["body"])
        table.put_item(Item=item)
        return {"statusCode": 201, "headers": {"location": "/items/" + item["id"]},
                "body": json.dumps(item)}
    found = table.get_item(Key={"id": event["pathParameters"]["id"]}).get("Item")
    if found is None:
        return {"statusCode": 404, "body": json.dumps({"message": "no such item"})}
    return found  # payload 2.0: a plain JSON return is the 200 body
"""


def _http(method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_api_backend_http_to_function_to_dynamodb_and_back(lab: LambdaRuntime) -> None:
    lab.client("dynamodb").create_table(
        TableName="items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    _fn(lab, "items-api", ITEMS)
    api = lab.create_http_api({"POST /items": "items-api", "GET /items/{id}": "items-api"})
    status, headers, body = _http("POST", f"{api.url}/items", {"id": "42", "name": "towel"})
    assert status == 201 and body == {"id": "42", "name": "towel"}
    assert headers["location"] == "/items/42"
    stored = lab.client("dynamodb").get_item(TableName="items", Key={"id": {"S": "42"}})
    assert stored["Item"]["name"] == {"S": "towel"}
    status, headers, body = _http("GET", f"{api.url}/items/42")
    assert (status, body) == (200, {"id": "42", "name": "towel"})
    assert headers["Content-Type"] == "application/json"
    assert _http("GET", f"{api.url}/items/7")[:3:2] == (404, {"message": "no such item"})
    assert _http("DELETE", f"{api.url}/items/42")[:3:2] == (404, {"message": "Not Found"})


# -- (2) event processing -------------------------------------------------------------------------
THUMBNAIL = """
import boto3
from urllib.parse import unquote_plus

s3 = boto3.client("s3")
table = boto3.resource("dynamodb").Table("thumbs")

def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=bucket, Key="thumbs/" + key, Body=body.upper())
        table.put_item(Item={"id": key, "size": record["s3"]["object"]["size"]})
"""

AUDIT = """
import boto3

table = boto3.resource("dynamodb").Table("thumbs")

def handler(event, context):
    message = event["Records"][0]["Sns"]
    table.put_item(Item={"id": context.function_name + ":" + message["MessageId"],
                         "text": message["Message"]})
"""


def test_event_processing_s3_to_function_to_s3_and_dynamodb(lab: LambdaRuntime) -> None:
    s3, ddb = lab.client("s3"), lab.client("dynamodb")
    ddb.create_table(
        TableName="thumbs",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    s3.create_bucket(Bucket="photos")
    arn = _fn(lab, "thumbnail", THUMBNAIL)
    s3.put_bucket_notification_configuration(
        Bucket="photos",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ]
        },
    )
    s3.put_object(Bucket="photos", Key="in/cat pic.txt", Body=b"meow")

    def derived() -> bytes | None:
        try:
            return s3.get_object(Bucket="photos", Key="thumbs/in/cat pic.txt")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    assert eventually(derived) == b"MEOW"
    # the handler writes the item after the object: it may still be on its way
    item = eventually(
        lambda: ddb.get_item(TableName="thumbs", Key={"id": {"S": "in/cat pic.txt"}}).get("Item")
    )
    assert item["size"] == {"N": "4"}
    # the derived object is outside the prefix filter: no second invocation, no loop
    time.sleep(0.3)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="photos")["Contents"])
    assert keys == ["in/cat pic.txt", "thumbs/in/cat pic.txt"]


def test_event_processing_sns_fans_out_to_two_functions(lab: LambdaRuntime) -> None:
    sns, ddb = lab.client("sns"), lab.client("dynamodb")
    topic = sns.create_topic(Name="signups")["TopicArn"]
    for name in ("welcome-mail", "audit-log"):
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=_fn(lab, name, AUDIT))
    message_id = sns.publish(TopicArn=topic, Message="ada@example.com")["MessageId"]
    for name in ("welcome-mail", "audit-log"):
        key = {"id": {"S": f"{name}:{message_id}"}}
        item = eventually(lambda key=key: ddb.get_item(TableName="thumbs", Key=key).get("Item"))
        assert item["text"] == {"S": "ada@example.com"}


# -- (3) stream processing -----------------------------------------------------------------------
CLICKS = """
import base64, json
import boto3


s3 = boto3.client("s3")
counter = boto3.resource("dynamodb").Table("thumbs")

def handler(event, context):
    values = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    if any(v.get("poison") for v in values):
        raise ValueError("poison record")
    n = counter.update_item(Key={"id": "batches"}, UpdateExpression="ADD n :one",
                            ExpressionAttributeValues={":one": 1},
                            ReturnValues="UPDATED_NEW")["Attributes"]["n"]
    first = event["Records"][0]["kinesis"]["sequenceNumber"]
    s3.put_object(Bucket="clicks", Key=f"out/{int(n):04d}-{first}.json",
                  Body=json.dumps([v["n"] for v in values]))
"""


def test_stream_processing_kinesis_in_order_with_a_poison_record(lab: LambdaRuntime) -> None:
    kinesis, s3, sqs = lab.client("kinesis"), lab.client("s3"), lab.client("sqs")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream_arn = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
    s3.create_bucket(Bucket="clicks")
    failed_url = sqs.create_queue(QueueName="clicks-failed")["QueueUrl"]
    failed_arn = sqs.get_queue_attributes(QueueUrl=failed_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    _fn(lab, "clicks", CLICKS, timeout=30)
    mapping = lab.client("lambda").create_event_source_mapping(
        FunctionName="clicks",
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=5,  # bisecting spends retries too: 10 -> 5 -> 2 -> 1
        DestinationConfig={"OnFailure": {"Destination": failed_arn}},
    )
    values = [{"n": i, "poison": i == 13} for i in range(20)]
    sent = kinesis.put_records(
        StreamName="clicks",
        Records=[{"Data": json.dumps(v).encode(), "PartitionKey": "user-1"} for v in values],
    )["Records"]

    def failure() -> dict | None:
        got = sqs.receive_message(QueueUrl=failed_url, WaitTimeSeconds=1).get("Messages")
        return json.loads(got[0]["Body"]) if got else None

    record = eventually(failure, timeout=60)
    info = record["KinesisBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["batchSize"] == 1 and info["streamArn"] == stream_arn
    assert info["startSequenceNumber"] == sent[13]["SequenceNumber"]

    def processed() -> list[int] | None:
        listing = s3.list_objects_v2(Bucket="clicks", Prefix="out/").get("Contents", [])
        keys = sorted(o["Key"] for o in listing)  # by the processing counter
        done = [
            n
            for k in keys
            for n in json.loads(s3.get_object(Bucket="clicks", Key=k)["Body"].read())
        ]
        return done if len(done) >= 19 else None

    assert eventually(processed, timeout=30) == [i for i in range(20) if i != 13]
    lab.client("lambda").delete_event_source_mapping(UUID=mapping["UUID"])
