"""The AWS endpoint a runtime hands its functions: the embedded moto's lifetime, or another
endpoint chosen with one setting."""

from __future__ import annotations

import pytest

from kernel_runtime import LambdaRuntime

pytestmark = pytest.mark.timeout(60)


def _buckets(lab: LambdaRuntime) -> list[str]:
    return [b["Name"] for b in lab.client("s3").list_buckets()["Buckets"]]


def test_moto_state_is_reset_when_the_last_runtime_closes() -> None:
    with LambdaRuntime() as first:
        first.client("s3").create_bucket(Bucket="left-behind")
        with LambdaRuntime() as second:  # shares the process-wide moto
            assert "left-behind" in _buckets(second)
        assert "left-behind" in _buckets(first)  # still open: nothing was reset
    with LambdaRuntime() as third:
        assert _buckets(third) == []


def test_another_endpoint_reaches_functions_and_clients() -> None:
    """``aws_endpoint_url`` (a LocalStack, real AWS ...): functions get it as AWS_ENDPOINT_URL,
    the runtime's own clients use it, and moto's push hooks are not attached."""
    with LambdaRuntime() as other:  # stands in for a LocalStack on another port
        other.client("s3").create_bucket(Bucket="over-there")
        with LambdaRuntime(aws_endpoint_url=other.endpoint_url) as lab:
            assert lab.aws is not None and not lab.aws.embedded and lab.aws.push is None
            assert "over-there" in _buckets(lab)
            lab.create_function(
                "where",
                "app.handler",
                "import os\nimport boto3\n"
                "def handler(event, context):\n"
                "    names = [b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']]\n"
                "    return {'endpoint': os.environ['AWS_ENDPOINT_URL'], 'buckets': names}\n",
            )
            import json

            result = json.loads(lab.invoke("where", {}).payload)
            assert result["endpoint"] == other.endpoint_url
            assert "over-there" in result["buckets"]
            assert lab.endpoint_url != other.endpoint_url  # the Lambda API stays local


def test_moto_control_api_is_not_served() -> None:
    """/moto-api/reset would let handler code wipe every service's state."""
    import urllib.error
    import urllib.request

    with LambdaRuntime() as lab:
        lab.client("s3").create_bucket(Bucket="keep-me")
        request = urllib.request.Request(f"{lab.endpoint_url}/moto-api/reset", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 403
        assert "keep-me" in _buckets(lab)


def test_moto_sqs_clock_is_tuned_and_still_right() -> None:
    """The cheap clock answers what moto's own did, and visibility timeouts still hold."""
    import time

    import moto.core.utils
    import moto.sqs.models

    with LambdaRuntime() as lab:
        assert moto.sqs.models.unix_time_millis is not moto.core.utils.unix_time_millis
        ours, theirs = moto.sqs.models.unix_time_millis(), moto.core.utils.unix_time_millis()
        assert abs(ours - theirs) < 50
        sqs = lab.client("sqs")
        url = sqs.create_queue(QueueName="vis", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="m")
        assert len(sqs.receive_message(QueueUrl=url).get("Messages", [])) == 1
        assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # in flight
        time.sleep(1.1)
        again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])
        assert again["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "2"
