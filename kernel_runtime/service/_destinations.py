"""Where asynchronous invocation records and dead-letter messages go.

The async queue only knows a target ARN and a body; a :class:`Deliverer` turns that into the
right AWS call. :class:`Boto3Deliverer` sends to the embedded AWS services (moto) over their
real APIs, so a learner reads the record back with the same ``receive_message`` they would use
on AWS. Lambda destinations are ours, not moto's, so they go through a callable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple, Protocol

__all__ = [
    "Boto3Deliverer",
    "Deliverer",
    "DeliveryError",
    "DestinationArn",
    "parse_destination_arn",
]

DeliveryKind = Literal["destination", "dlq"]

#: EventBridge detail types AWS uses for destination records.
DETAIL_TYPE_SUCCESS = "Lambda Function Invocation Result - Success"
DETAIL_TYPE_FAILURE = "Lambda Function Invocation Result - Failure"


class DeliveryError(Exception):
    """A destination or dead-letter target refused or could not take the message."""


class Deliverer(Protocol):
    """Sends one message to an SQS queue, SNS topic, EventBridge bus or Lambda function.

    ``attributes`` use the SQS/SNS ``MessageAttributes`` shape
    (``{"RequestID": {"DataType": "String", "StringValue": "..."}}``). Raises on failure: the
    caller counts ``DestinationDeliveryFailures`` / ``DeadLetterErrors`` and records the drop.
    """

    def deliver(
        self,
        target_arn: str,
        body: bytes,
        attributes: dict[str, dict] | None,
        *,
        kind: DeliveryKind,
    ) -> None: ...


class DestinationArn(NamedTuple):
    """The parts of a destination ARN that pick the service and the call."""

    arn: str
    partition: str
    service: str  # "sqs" | "sns" | "events" | "lambda" | "s3"
    region: str
    account: str
    resource: str  # queue name, topic name, "event-bus/<name>", "function:<name>[:q]", bucket


def parse_destination_arn(arn: str) -> DestinationArn:
    """Split ``arn:partition:service:region:account:resource``; ValueError if it is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[2] or not parts[5]:
        raise ValueError(f"not an ARN: {arn!r}")
    return DestinationArn(arn, parts[1], parts[2], parts[3], parts[4], parts[5])


class Boto3Deliverer:
    """Delivers through boto3 clients pointed at one endpoint (the embedded moto).

    Clients are created once per (service, region) and shared: boto3 clients are thread-safe,
    creating them is not (nor cheap, ~10-50 ms). ``invoke_lambda(function_arn, payload)`` is
    the local Lambda service's asynchronous invoke, used for Lambda destinations.
    ``credentials`` holds ``aws_access_key_id``/``aws_secret_access_key``/
    ``aws_session_token`` (missing keys default to moto's dummy ``testing``).
    """

    def __init__(
        self,
        endpoint_url: str,
        region: str = "us-east-1",
        credentials: Mapping[str, str] | None = None,
        *,
        invoke_lambda: Callable[[str, bytes], object] | None = None,
        max_attempts: int = 2,
        timeout_s: float = 10.0,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        creds = dict(credentials or {})
        self._credentials = {
            "aws_access_key_id": creds.get("aws_access_key_id", "testing"),
            "aws_secret_access_key": creds.get("aws_secret_access_key", "testing"),
            "aws_session_token": creds.get("aws_session_token"),
        }
        self._invoke_lambda = invoke_lambda
        self._max_attempts = max_attempts
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._queue_urls: dict[str, str] = {}

    # ------------------------------------------------------------------ plumbing

    def _client(self, service: str, region: str) -> Any:
        """A cached client; the lock makes creation (not use) single-threaded."""
        key = (service, region or self.region)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                import boto3  # deferred: ~0.3 s to import, and only delivery needs it
                from botocore.config import Config

                if self._session is None:
                    self._session = boto3.session.Session(**self._credentials)
                client = self._session.client(
                    service,
                    region_name=key[1],
                    endpoint_url=self.endpoint_url,
                    config=Config(
                        retries={"max_attempts": self._max_attempts, "mode": "standard"},
                        connect_timeout=self._timeout_s,
                        read_timeout=self._timeout_s,
                    ),
                )
                self._clients[key] = client
        return client

    def queue_url(self, queue_arn: str) -> str:
        """The queue URL for an SQS ARN, via GetQueueUrl (cached: URLs don't change)."""
        url = self._queue_urls.get(queue_arn)
        if url is None:
            dest = parse_destination_arn(queue_arn)
            kwargs: dict[str, str] = {"QueueName": dest.resource}
            if dest.account:
                kwargs["QueueOwnerAWSAccountId"] = dest.account
            url = self._client("sqs", dest.region).get_queue_url(**kwargs)["QueueUrl"]
            self._queue_urls[queue_arn] = url
        return url

    # ------------------------------------------------------------------ delivery

    def deliver(
        self,
        target_arn: str,
        body: bytes,
        attributes: dict[str, dict] | None,
        *,
        kind: DeliveryKind,
    ) -> None:
        """Send ``body`` to ``target_arn``; raise :class:`DeliveryError` (or the boto3 error)."""
        try:
            dest = parse_destination_arn(target_arn)
        except ValueError as exc:
            raise DeliveryError(str(exc)) from None
        text = body.decode("utf-8", errors="replace")
        if kind == "dlq" and dest.service not in ("sqs", "sns"):
            raise DeliveryError(f"a dead-letter queue must be SQS or SNS, not {target_arn}")
        if dest.service == "sqs":
            kwargs: dict[str, Any] = {"QueueUrl": self.queue_url(dest.arn), "MessageBody": text}
            if attributes:
                kwargs["MessageAttributes"] = attributes
            self._client("sqs", dest.region).send_message(**kwargs)
        elif dest.service == "sns":
            kwargs = {"TopicArn": dest.arn, "Message": text}
            if attributes:
                kwargs["MessageAttributes"] = attributes
            self._client("sns", dest.region).publish(**kwargs)
        elif dest.service == "events":
            self._put_event(dest, text)
        elif dest.service == "lambda":
            if self._invoke_lambda is None:
                raise DeliveryError(f"no Lambda invoker configured for destination {dest.arn}")
            self._invoke_lambda(dest.arn, body)
        else:
            raise DeliveryError(f"unsupported destination service {dest.service!r}: {dest.arn}")

    def _put_event(self, dest: DestinationArn, text: str) -> None:
        """PutEvents as Lambda does: source ``lambda``, detail type by the record's condition."""
        try:
            record = json.loads(text)
            context = record.get("requestContext", {})
            success = context.get("condition") == "Success"
            resources = [context["functionArn"]] if context.get("functionArn") else []
        except (ValueError, AttributeError):
            success, resources = False, []
        entry: dict[str, Any] = {
            "Source": "lambda",
            "DetailType": DETAIL_TYPE_SUCCESS if success else DETAIL_TYPE_FAILURE,
            "Detail": text,
            "EventBusName": dest.arn,
        }
        if resources:
            entry["Resources"] = resources
        answer = self._client("events", dest.region).put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            failed = answer.get("Entries", [{}])[0]
            raise DeliveryError(
                f"PutEvents to {dest.arn} failed: {failed.get('ErrorCode')} "
                f"{failed.get('ErrorMessage')}"
            )
