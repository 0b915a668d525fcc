"""Event builders: every event parses with the matching Powertools model (a handler typed
against AWS's shapes accepts it) and carries the details handlers rely on."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

import pytest
from aws_lambda_powertools.utilities.parser import models as pm
from boto3.dynamodb.types import TypeDeserializer

from kernel_runtime.errors import InvalidParameterValueException
from kernel_runtime.sources import (
    EVENT_SOURCES,
    EventSource,
    InvalidEventError,
    alb_event,
    api_gateway_http_event,
    api_gateway_rest_event,
    build_event,
    cloudwatch_logs_event,
    custom_event,
    dynamodb_event,
    dynamodb_record,
    encode_s3_key,
    eventbridge_event,
    from_dynamodb_json,
    function_url_event,
    kinesis_event,
    s3_event,
    s3_record,
    scheduled_event,
    sns_event,
    sqs_event,
    sqs_record,
    to_dynamodb_json,
)

NOW = datetime(2015, 4, 9, 12, 34, 56, 789000, tzinfo=timezone.utc)

# One Powertools model per source id: a new source without an entry here fails the test below.
MODELS: dict[str, Any] = {
    "apigateway-rest": pm.APIGatewayProxyEventModel,
    "apigateway-http": pm.APIGatewayProxyEventV2Model,
    "function-url": pm.LambdaFunctionUrlModel,
    "alb": pm.AlbModel,
    "s3-put": pm.S3Model,
    "s3-delete": pm.S3Model,
    "sqs": pm.SqsModel,
    "sqs-fifo": pm.SqsModel,
    "sns": pm.SnsModel,
    "dynamodb-insert": pm.DynamoDBStreamModel,
    "dynamodb-modify": pm.DynamoDBStreamModel,
    "dynamodb-remove": pm.DynamoDBStreamModel,
    "kinesis": pm.KinesisDataStreamModel,
    "eventbridge": pm.EventBridgeModel,
    "schedule": pm.EventBridgeModel,
    "cloudwatch-logs": pm.CloudWatchLogsModel,
    "custom": None,  # any JSON: no model, checked to survive a JSON round trip
}


def _json(event: Any) -> Any:
    """What the handler receives: the event after the Invoke API's JSON encoding."""
    return json.loads(json.dumps(event, allow_nan=False))


@pytest.mark.parametrize("source_id", sorted(EVENT_SOURCES))
def test_every_source_parses_with_its_powertools_model(source_id: str) -> None:
    event = _json(build_event(source_id, now=NOW, seed=7))
    model = MODELS[source_id]
    if model is None:
        assert event == EVENT_SOURCES[source_id].defaults()["payload"]
    else:
        model.model_validate(event)


@pytest.mark.parametrize(
    ("event", "model"),
    [
        (
            api_gateway_rest_event(
                method="POST", path="/files/a/b.png", resource="/files/{proxy+}", body=b"\x89PNG"
            ),
            pm.APIGatewayProxyEventModel,
        ),
        (
            api_gateway_http_event(method="PUT", headers={"Cookie": "a=1; b=2"}, body={"x": 1}),
            pm.APIGatewayProxyEventV2Model,
        ),
        (function_url_event(auth_type="AWS_IAM", body=b"\x00"), pm.LambdaFunctionUrlModel),
        (alb_event(method="POST", query="q=a%20b", body="hi"), pm.AlbModel),
        (s3_event(event_name="ObjectCreated:Copy"), pm.S3Model),
        (s3_event(event_name="ObjectCreated:CompleteMultipartUpload"), pm.S3Model),
        (s3_event(event_name="ObjectRemoved:DeleteMarkerCreated"), pm.S3Model),
        (s3_event(key=["a.txt", "b.txt"], content=b""), pm.S3Model),
        (sqs_event(messages=[{"n": 1}, "two"], message_attributes={"k": "v", "n": 3}), pm.SqsModel),
        (sns_event(subject="Hi", message_attributes={"b": b"\x01", "l": ["x"]}), pm.SnsModel),
        (
            dynamodb_event(event_name="MODIFY", new_image={"id": 1}, stream_view_type="KEYS_ONLY"),
            pm.DynamoDBStreamModel,
        ),
        (kinesis_event(records=[b"\x00\x01", "text", {"json": True}]), pm.KinesisDataStreamModel),
        (
            cloudwatch_logs_event(messages=["a", {"message": "b", "timestamp": 1, "id": "9"}]),
            pm.CloudWatchLogsModel,
        ),
    ],
    ids=lambda v: "" if isinstance(v, dict) else v.__name__,
)
def test_variants_parse_with_their_powertools_models(event: dict[str, Any], model: Any) -> None:
    model.model_validate(_json(event))


# ---------------------------------------------------------------- HTTP


def test_rest_v1_single_and_multi_value_maps() -> None:
    e = api_gateway_rest_event(
        method="get",
        resource="/items/{id}",
        path="/items/42",
        query="tag=a&tag=b&q=hello%20world",
        headers={"X-Custom": ["1", "2"], "user-agent": "curl/8.0"},
        stage="dev",
        now=NOW,
        seed=1,
    )
    assert e["httpMethod"] == "GET" and e["pathParameters"] == {"id": "42"}
    assert e["queryStringParameters"] == {"tag": "b", "q": "hello world"}  # last value wins
    assert e["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["hello world"]}
    assert e["headers"]["X-Custom"] == "2" and e["multiValueHeaders"]["X-Custom"] == ["1", "2"]
    assert "User-Agent" not in e["headers"] and e["headers"]["user-agent"] == "curl/8.0"
    ctx = e["requestContext"]
    assert ctx["requestTime"] == "09/Apr/2015:12:34:56 +0000"
    assert ctx["requestTimeEpoch"] == 1428582896789
    assert ctx["path"] == "/dev/items/42" and ctx["resourcePath"] == "/items/{id}"
    assert ctx["domainName"] == f"{ctx['apiId']}.execute-api.us-east-1.amazonaws.com"
    assert e["body"] is None and e["isBase64Encoded"] is False


def test_rest_v1_empty_maps_are_null_and_binary_body_is_base64() -> None:
    e = api_gateway_rest_event(path="/", body=b"\xff\x00")
    assert e["queryStringParameters"] is None
    assert e["multiValueQueryStringParameters"] is None
    assert e["pathParameters"] is None and e["stageVariables"] is None
    assert e["isBase64Encoded"] is True and base64.b64decode(e["body"]) == b"\xff\x00"
    greedy = api_gateway_rest_event(path="/files/a/b.txt", resource="/files/{proxy+}")
    assert greedy["pathParameters"] == {"proxy": "a/b.txt"}
    with pytest.raises(InvalidEventError, match="does not match"):
        api_gateway_rest_event(path="/users/1", resource="/items/{id}")


def test_http_v2_cookies_and_comma_joined_headers() -> None:
    e = api_gateway_http_event(
        method="POST",
        route="/items/{id}",
        path="/items/7",
        headers=[("Cookie", "theme=dark; lang=en"), ("X-Multi", "a"), ("x-multi", "b")],
        cookies=["session=abc"],
        query="a=1&a=2&b=x%2By",
        body="hello",
        now=NOW,
        seed=1,
    )
    assert e["cookies"] == ["session=abc", "theme=dark", "lang=en"]
    assert "cookie" not in e["headers"]
    assert e["headers"]["x-multi"] == "a,b"
    assert all(k == k.lower() for k in e["headers"])
    assert e["headers"]["content-length"] == "5"
    assert e["rawQueryString"] == "a=1&a=2&b=x%2By"
    assert e["queryStringParameters"] == {"a": "1,2", "b": "x+y"}
    assert e["routeKey"] == e["requestContext"]["routeKey"] == "POST /items/{id}"
    assert e["pathParameters"] == {"id": "7"}
    assert e["requestContext"]["time"] == "09/Apr/2015:12:34:56 +0000"
    assert e["requestContext"]["timeEpoch"] == 1428582896789
    bare = api_gateway_http_event()
    assert bare["routeKey"] == "$default" and bare["rawQueryString"] == ""
    assert not {"cookies", "queryStringParameters", "body", "pathParameters"} & set(bare)


def test_function_url_request_context() -> None:
    e = function_url_event(
        path="/hello", query={"name": "a b"}, url_id="abc123", region="eu-west-1"
    )
    ctx = e["requestContext"]
    assert ctx["domainName"] == "abc123.lambda-url.eu-west-1.on.aws"
    assert ctx["apiId"] == ctx["domainPrefix"] == "abc123"
    assert e["routeKey"] == ctx["routeKey"] == "$default" and ctx["stage"] == "$default"
    assert ctx["accountId"] == "anonymous" and "authorizer" not in ctx
    assert e["rawQueryString"] == "name=a+b" and e["queryStringParameters"] == {"name": "a b"}
    iam = function_url_event(auth_type="AWS_IAM", account_id="111122223333")["requestContext"]
    assert iam["accountId"] == "111122223333"
    assert iam["authorizer"]["iam"]["userArn"].startswith("arn:aws:iam::111122223333:")
    with pytest.raises(InvalidEventError, match="AuthType"):
        function_url_event(auth_type="COGNITO")  # type: ignore[arg-type]


def test_alb_query_stays_encoded_and_multi_value_mode() -> None:
    e = alb_event(query="q=a%20b&q=c", headers={"X-Y": "1"}, account_id="111122223333")
    assert e["queryStringParameters"] == {"q": "c"}
    assert e["headers"]["x-y"] == "1" and e["body"] == ""
    arn = e["requestContext"]["elb"]["targetGroupArn"]
    assert arn.startswith("arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/")
    mv = alb_event(query={"q": ["a b", "c"]}, multi_value_headers=True)
    assert mv["multiValueQueryStringParameters"] == {"q": ["a+b", "c"]}
    assert "headers" not in mv and "queryStringParameters" not in mv
    assert mv["multiValueHeaders"]["x-forwarded-proto"] == ["http"]


# ---------------------------------------------------------------- S3


def test_s3_key_is_form_encoded_and_decodes_back() -> None:
    record = s3_event(key="my file+x.txt")["Records"][0]
    assert record["s3"]["object"]["key"] == "my+file%2Bx.txt"
    assert unquote_plus(record["s3"]["object"]["key"]) == "my file+x.txt"
    assert encode_s3_key("photos/café ü.jpg") == "photos/caf%C3%A9+%C3%BC.jpg"


def test_s3_records_are_consistent() -> None:
    content = b"hello world"
    r = s3_record(bucket="b1", key="k", content=content, region="eu-west-1", now=NOW, seed=3)
    obj = r["s3"]["object"]
    assert obj["size"] == 11 and obj["eTag"] == hashlib.md5(content).hexdigest()
    assert r["s3"]["bucket"]["arn"] == "arn:aws:s3:::b1" and r["awsRegion"] == "eu-west-1"
    assert r["eventTime"] == "2015-04-09T12:34:56.789Z" and r["eventVersion"] == "2.1"
    assert len(obj["sequencer"]) == 18 and int(obj["sequencer"], 16) > 0
    big = b"x" * (9 * 1024 * 1024)
    mp = s3_record(event_name="ObjectCreated:CompleteMultipartUpload", content=big)
    assert mp["s3"]["object"]["eTag"].endswith("-2")
    deleted = s3_record(event_name="ObjectRemoved:Delete")["s3"]["object"]
    assert "size" not in deleted and "eTag" not in deleted
    marker = s3_record(event_name="ObjectRemoved:DeleteMarkerCreated")["s3"]["object"]
    assert len(marker["versionId"]) == 32
    with pytest.raises(InvalidEventError, match="ObjectCreated:Put"):
        s3_record(event_name="ObjectCreated:Upload")


# ---------------------------------------------------------------- SQS, SNS


def test_sqs_md5s_match_the_body_and_moto() -> None:
    from moto.sqs.models import Message

    body = {"order": 1, "note": "ü"}
    attrs = {"s": "text", "n": 42, "b": b"\x00\x01"}
    r = sqs_event(messages=[body], message_attributes=attrs)["Records"][0]
    assert r["body"] == json.dumps(body)
    assert r["md5OfBody"] == hashlib.md5(r["body"].encode()).hexdigest()
    assert r["messageAttributes"]["n"] == {
        "stringValue": "42",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Number",
    }
    reference = Message("id", r["body"])
    reference.message_attributes = {
        "s": {"DataType": "String", "StringValue": "text"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    assert r["md5OfMessageAttributes"] == reference.attribute_md5
    assert "md5OfMessageAttributes" not in sqs_record()


def test_sqs_fifo_attributes_and_standard_queue() -> None:
    records = sqs_event(
        messages=["a", "b"], queue_name="orders.fifo", message_group_id="g1", now=NOW, seed=2
    )["Records"]
    assert records[0]["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    for r in records:
        attrs = r["attributes"]
        assert attrs["MessageGroupId"] == "g1"
        assert attrs["MessageDeduplicationId"] == hashlib.sha256(r["body"].encode()).hexdigest()
        assert attrs["SequenceNumber"].isdigit() and len(attrs["SequenceNumber"]) == 20
    assert int(records[0]["attributes"]["SequenceNumber"]) < int(
        records[1]["attributes"]["SequenceNumber"]
    )
    assert records[1]["attributes"]["SentTimestamp"] == "1428582896789"
    assert len({r["messageId"] for r in records}) == 2
    standard = sqs_event(messages=["a"])["Records"][0]["attributes"]
    assert not {"SequenceNumber", "MessageGroupId", "MessageDeduplicationId"} & set(standard)
    real = sqs_record(
        message_id="m-1", receipt_handle="rh", attributes={"ApproximateReceiveCount": "3"}
    )
    assert (real["messageId"], real["receiptHandle"]) == ("m-1", "rh")
    assert real["attributes"]["ApproximateReceiveCount"] == "3"


def test_sns_record_fields() -> None:
    r = sns_event(message={"a": 1}, topic_name="t", message_attributes={"n": 1.5}, now=NOW)
    sns = r["Records"][0]["Sns"]
    assert sns["Message"] == '{"a": 1}' and sns["Subject"] is None
    assert sns["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:t"
    assert r["Records"][0]["EventSubscriptionArn"].startswith(sns["TopicArn"] + ":")
    assert sns["Timestamp"] == "2015-04-09T12:34:56.789Z"
    assert sns["MessageAttributes"] == {"n": {"Type": "Number", "Value": "1.5"}}
    assert len(base64.b64decode(sns["Signature"])) == 256


# ---------------------------------------------------------------- DynamoDB

VALUE = {
    "s": "x",
    "i": 101,
    "f": 2.5,
    "d": Decimal("1.10"),
    "b": b"\x00\xff",
    "t": True,
    "none": None,
    "l": [1, "a", [False]],
    "m": {"nested": {"k": "v"}},
    "ss": {"b", "a"},
    "ns": {3, 1, Decimal("2.5")},
    "bs": {b"\x01", b"\x00"},
}


def test_dynamodb_json_types() -> None:
    item = to_dynamodb_json(VALUE)["M"]
    assert item["s"] == {"S": "x"} and item["i"] == {"N": "101"} and item["f"] == {"N": "2.5"}
    assert item["b"] == {"B": "AP8="} and item["t"] == {"BOOL": True}
    assert item["none"] == {"NULL": True}
    assert item["l"] == {"L": [{"N": "1"}, {"S": "a"}, {"L": [{"BOOL": False}]}]}
    assert item["m"] == {"M": {"nested": {"M": {"k": {"S": "v"}}}}}
    assert item["ss"] == {"SS": ["a", "b"]} and item["ns"] == {"NS": ["1", "2.5", "3"]}
    assert item["bs"] == {"BS": ["AA==", "AQ=="]}
    assert from_dynamodb_json(to_dynamodb_json(VALUE)) == VALUE
    assert from_dynamodb_json(json.loads(json.dumps(to_dynamodb_json(VALUE)))) == VALUE


def test_dynamodb_json_through_boto3_type_deserializer() -> None:
    plain = {k: v for k, v in VALUE.items() if k not in ("b", "bs")}  # boto3 wants raw bytes
    assert TypeDeserializer().deserialize(to_dynamodb_json(plain)) == plain
    typed = to_dynamodb_json(VALUE)["M"]
    assert TypeDeserializer().deserialize({"B": base64.b64decode(typed["b"]["B"])}) == b"\x00\xff"


@pytest.mark.parametrize("bad", [set(), {1, "a"}, float("nan"), object(), {1: "x"}])
def test_dynamodb_json_refuses_what_dynamodb_refuses(bad: Any) -> None:
    with pytest.raises(InvalidEventError):
        to_dynamodb_json(bad)


def test_dynamodb_sizes_match_the_aws_sample_events() -> None:
    """AWS's sample stream records (Id N 101, Message S ...) have SizeBytes 26, 59 and 38."""
    item, changed = (
        {"Message": "New item!", "Id": 101},
        {"Message": "This item has changed", "Id": 101},
    )
    keys = {"Id": 101}
    insert = dynamodb_record(event_name="INSERT", keys=keys, new_image=item)
    modify = dynamodb_record(event_name="MODIFY", keys=keys, new_image=changed, old_image=item)
    remove = dynamodb_record(event_name="REMOVE", keys=keys, old_image=changed)
    sizes = [r["dynamodb"]["SizeBytes"] for r in (insert, modify, remove)]
    assert sizes == [26, 59, 38]


@pytest.mark.parametrize(
    ("view", "event_name", "present"),
    [
        ("NEW_AND_OLD_IMAGES", "MODIFY", {"NewImage", "OldImage"}),
        ("NEW_AND_OLD_IMAGES", "INSERT", {"NewImage"}),
        ("NEW_AND_OLD_IMAGES", "REMOVE", {"OldImage"}),
        ("NEW_IMAGE", "MODIFY", {"NewImage"}),
        ("OLD_IMAGE", "MODIFY", {"OldImage"}),
        ("KEYS_ONLY", "MODIFY", set()),
    ],
)
def test_dynamodb_stream_view_type(view: str, event_name: str, present: set[str]) -> None:
    r = dynamodb_record(
        event_name=event_name,
        new_image={"pk": "a", "v": 2},
        old_image={"pk": "a", "v": 1},
        stream_view_type=view,
    )["dynamodb"]
    assert {"NewImage", "OldImage"} & set(r) == present
    assert r["Keys"] == {"pk": {"S": "a"}} and r["StreamViewType"] == view


def test_dynamodb_batch_and_errors() -> None:
    e = dynamodb_event(
        records=[
            {"event_name": "INSERT", "new_image": {"id": 1}},
            {"event_name": "REMOVE", "old_image": {"id": 1}},
        ],
        table_name="orders",
        now=NOW,
    )["Records"]
    assert e[0]["eventSourceARN"] == e[1]["eventSourceARN"]
    assert e[0]["eventSourceARN"] == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2015-04-09T00:00:00.000"
    )
    assert int(e[0]["dynamodb"]["SequenceNumber"]) < int(e[1]["dynamodb"]["SequenceNumber"])
    assert e[0]["dynamodb"]["ApproximateCreationDateTime"] == 1428582896.0
    typed = dynamodb_record(keys={"id": {"N": "5"}}, new_image={"id": {"N": "5"}}, typed=True)
    assert typed["dynamodb"]["NewImage"] == {"id": {"N": "5"}}
    with pytest.raises(InvalidEventError, match="needs old_image"):
        dynamodb_record(event_name="MODIFY", new_image={"id": 1})
    with pytest.raises(InvalidEventError, match="INSERT, MODIFY or REMOVE"):
        dynamodb_record(event_name="UPDATE", new_image={"id": 1})
    with pytest.raises(InvalidEventError, match="StreamViewType"):
        dynamodb_record(new_image={"id": 1}, stream_view_type="ALL")


# ---------------------------------------------------------------- Kinesis, logs, EventBridge


def test_kinesis_data_and_sequence_numbers() -> None:
    records = kinesis_event(records=[b"\x00raw", "text"], stream_name="s", now=NOW, seed=4)[
        "Records"
    ]
    assert base64.b64decode(records[0]["kinesis"]["data"]) == b"\x00raw"
    assert base64.b64decode(records[1]["kinesis"]["data"]) == b"text"
    seqs = [r["kinesis"]["sequenceNumber"] for r in records]
    assert all(len(s) == 56 and s.isdigit() for s in seqs) and int(seqs[0]) < int(seqs[1])
    assert records[1]["eventID"] == f"shardId-000000000000:{seqs[1]}"
    assert records[1]["kinesis"]["approximateArrivalTimestamp"] == 1428582896.789
    assert isinstance(records[0]["kinesis"]["approximateArrivalTimestamp"], float)
    assert records[0]["eventSourceARN"] == "arn:aws:kinesis:us-east-1:123456789012:stream/s"


def test_cloudwatch_logs_data_is_a_gzipped_data_message() -> None:
    e = cloudwatch_logs_event(messages=["one", "two"], log_group="/aws/lambda/f", now=NOW, seed=5)
    payload = json.loads(gzip.decompress(base64.b64decode(e["awslogs"]["data"])))
    assert payload["messageType"] == "DATA_MESSAGE" and payload["owner"] == "123456789012"
    assert payload["logGroup"] == "/aws/lambda/f"
    assert payload["logStream"].startswith("2015/04/09/[$LATEST]")
    assert payload["subscriptionFilters"] == ["my-subscription-filter"]
    assert [ev["message"] for ev in payload["logEvents"]] == ["one", "two"]
    assert payload["logEvents"][1]["timestamp"] == 1428582896789
    ids = [ev["id"] for ev in payload["logEvents"]]
    assert all(len(i) == 56 for i in ids) and int(ids[0]) < int(ids[1])


def test_eventbridge_and_schedule() -> None:
    e = eventbridge_event(detail={"a": 1}, detail_type="T", source="my.app", now=NOW)
    assert (e["detail-type"], e["source"], e["time"]) == ("T", "my.app", "2015-04-09T12:34:56Z")
    s = scheduled_event(rule_name="nightly", region="eu-west-1", account_id="111122223333")
    assert s["resources"] == ["arn:aws:events:eu-west-1:111122223333:rule/nightly"]
    assert (s["detail-type"], s["source"], s["detail"]) == ("Scheduled Event", "aws.events", {})
    with pytest.raises(InvalidEventError, match="Detail is malformed"):
        eventbridge_event(detail=["not", "an", "object"])  # type: ignore[arg-type]


# ---------------------------------------------------------------- registry, determinism, errors


@pytest.mark.parametrize("source_id", sorted(EVENT_SOURCES))
def test_same_now_and_seed_give_the_same_event(source_id: str) -> None:
    a = build_event(source_id, now=NOW, seed=11)
    assert a == build_event(source_id, now=NOW, seed=11)
    if source_id not in ("custom", "schedule", "eventbridge"):
        assert a != build_event(source_id, now=NOW, seed=12)


def test_fresh_ids_without_a_seed_and_a_shared_random() -> None:
    assert sqs_record()["messageId"] != sqs_record()["messageId"]
    rng = random.Random(1)
    first, second = sqs_record(seed=rng), sqs_record(seed=rng)
    assert first["messageId"] != second["messageId"]
    rng = random.Random(1)
    assert sqs_record(seed=rng)["messageId"] == first["messageId"]


def test_registry_describes_fields_for_forms() -> None:
    assert set(EVENT_SOURCES) >= {"apigateway-rest", "s3-put", "sqs-fifo", "custom"}
    for source_id, source in EVENT_SOURCES.items():
        assert isinstance(source, EventSource) and source.id == source_id and source.title
        for f in source.fields:
            assert f.kind in ("str", "int", "json", "text", "bool"), (source_id, f.name)
            assert f.choices == () or f.default in f.choices
            json.dumps(f.default)
    defaults = EVENT_SOURCES["sqs"].defaults()
    defaults["messages"].append("mutated")
    assert EVENT_SOURCES["sqs"].defaults()["messages"] == ["Hello from SQS!"]


def test_build_event_fields_override_defaults() -> None:
    e = build_event("s3-put", key="in/a b.txt", size=5, region="ap-south-1")["Records"][0]
    assert e["s3"]["object"]["key"] == "in/a+b.txt" and e["s3"]["object"]["size"] == 5
    assert e["awsRegion"] == "ap-south-1"
    assert build_event("custom", payload=[1, "two"]) == [1, "two"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build_event("sqs-standard"), "Unknown event source 'sqs-standard'"),
        (lambda: build_event("sqs", bodies=["x"]), "Unknown field"),
        (lambda: build_event("s3-put", event_name="ObjectRemoved:Delete"), "must be one of"),
        (lambda: custom_event({"when": datetime.now()}), "Could not parse request body into json"),
        (lambda: custom_event({"x": float("nan")}), "Could not parse request body into json"),
        (lambda: api_gateway_rest_event(method="FETCH"), "Invalid HTTP method"),
        (lambda: api_gateway_http_event(path="items"), "starts with '/'"),
        (lambda: sqs_event(messages=[]), "at least one message"),
    ],
)
def test_bad_input_is_a_clear_error(call: Any, message: str) -> None:
    with pytest.raises(InvalidEventError, match=message) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, InvalidParameterValueException)
    assert info.value.code == "InvalidParameterValueException" and info.value.status == 400
