"""Sources that push: S3 event notifications, SNS subscriptions, EventBridge rules and
schedules, CloudWatch Logs subscription filters and Secrets Manager rotation, from the embedded
moto to the local Lambda service.

moto has no hook for any of these (../shared/reference/moto.md section 2): its own Lambda
backend drops S3 events for functions it does not know, builds SNS events from placeholders,
answers EventBridge Lambda targets with HTTP 500 and never fires schedules. So a few of its
internals are replaced, once per process, by wrappers that hand the events to the runtime whose
registry holds the target function. The wrappers only enqueue (every one of these services
invokes Lambda asynchronously, and they run in moto's request thread), and they never raise: a
hook error must not turn a caller's PutObject or Publish into an HTTP 500.

moto's version is pinned (pyproject.toml) and :func:`check_moto` verifies at start-up that every
replaced attribute exists, so an upgrade that moves them fails loudly with the attribute's name.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import importlib
import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import LambdaError
from ._events import eventbridge_event, s3_record, sns_record

if TYPE_CHECKING:
    from ._schedule import ScheduleExpression

__all__ = ["MOTO_VERSIONS", "MotoHookError", "PushSources", "check_moto"]

log = logging.getLogger(__name__)

#: moto releases whose internals the hooks were written against and tested with.
MOTO_VERSIONS = ("5.2",)

#: (module, class or None, attribute) of every moto internal this module replaces or calls.
HOOKED: tuple[tuple[str, str | None, str], ...] = (
    ("moto.awslambda.utils", None, "get_backend"),
    ("moto.s3.notifications", None, "send_event"),
    ("moto.s3.notifications", None, "_invoke_awslambda"),
    ("moto.s3.models", "S3Backend", "put_bucket_notification_configuration"),
    ("moto.s3.exceptions", None, "InvalidArgumentError"),
    ("moto.sns.models", "Subscription", "publish"),
    ("moto.sns.models", "Subscription", "get_post_data"),
    ("moto.sns.models", "Subscription", "_parse_message_structure"),
    ("moto.events.models", "Rule", "send_to_targets"),
    ("moto.events.models", "EventsBackend", "put_rule"),
    ("moto.events.models", None, "events_backends"),
    ("moto.events.exceptions", None, "ValidationException"),
    ("moto.events.exceptions", None, "InvalidEventPatternException"),
    ("moto.events.utils", "EventTemplateParser", "parse"),
    # made cheap by kernel_runtime.aws._tune_moto
    ("moto.sqs.models", None, "unix_time_millis"),
    ("moto.sqs.models", "SQSBackend", "is_message_valid_based_on_retention_period"),
)


class MotoHookError(RuntimeError):
    """The installed moto lacks an internal the push sources hook into (moto was upgraded)."""


def check_moto() -> None:
    """Fail with the missing attribute's name if moto's internals moved."""
    from importlib.metadata import version

    installed = version("moto")
    if not any(installed == v or installed.startswith(v + ".") for v in MOTO_VERSIONS):
        raise MotoHookError(
            f"moto {installed} is installed; lambda-lab's push sources are written against "
            f"moto {' or '.join(MOTO_VERSIONS)}.x (pinned in pyproject.toml)"
        )
    for module_name, owner, attribute in HOOKED:
        where = f"{module_name}.{owner + '.' if owner else ''}{attribute}"
        try:
            target: Any = importlib.import_module(module_name)
            if owner is not None:
                target = getattr(target, owner)
        except (ImportError, AttributeError) as exc:
            raise MotoHookError(f"moto {installed} has no {where}: {exc}") from None
        if not hasattr(target, attribute):
            raise MotoHookError(f"moto {installed} has no {where}")


# -- which runtime gets an event ---------------------------------------------------------------
_SINKS: list[PushSources] = []
_SINKS_LOCK = threading.Lock()
_INSTALLED = False


def _sink_for(function_arn: str) -> PushSources | None:
    """The newest open runtime whose registry holds the function of ``function_arn``."""
    with _SINKS_LOCK:
        sinks = list(reversed(_SINKS))
    for sink in sinks:
        if sink.knows(function_arn):
            return sink
    return None


def _newest_sink(account_id: str, region: str) -> PushSources | None:
    with _SINKS_LOCK:
        for sink in reversed(_SINKS):
            if sink.service.account_id == account_id and sink.service.region == region:
                return sink
    return None


def _never_raise(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("push source %s failed; the event is dropped", what)
                return None

        guarded.__wrapped__ = fn  # type: ignore[attr-defined]
        return guarded

    return wrap


def _iso(t: float) -> str:
    """EventBridge's event time: ISO 8601, seconds, UTC (moto keeps a float epoch)."""
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _install() -> None:
    """Replace moto's internals, once per process (idempotent)."""
    global _INSTALLED
    with _SINKS_LOCK:
        if _INSTALLED:
            return
        check_moto()
        import moto.awslambda.utils as lambda_utils
        import moto.events.models as events_models
        import moto.s3.models as s3_models
        import moto.s3.notifications as s3_notifications
        import moto.sns.models as sns_models

        lambda_utils.get_backend = _LambdaFacade  # type: ignore[assignment]
        _install_s3(s3_notifications, s3_models)
        _install_sns(sns_models)
        _install_events(events_models)
        _INSTALLED = True


# -- S3 -----------------------------------------------------------------------------------------
def _install_s3(notifications: Any, models: Any) -> None:
    original_send = notifications.send_event
    original_put_config = models.S3Backend.put_bucket_notification_configuration

    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        original_send(account_id, event_name, bucket, key)  # SQS, SNS and EventBridge targets
        _s3_to_lambda(account_id, str(getattr(event_name, "value", event_name)), bucket, key)

    def put_bucket_notification_configuration(
        self: Any, bucket_name: str, notification_config: dict[str, Any]
    ) -> None:
        bucket = self.get_bucket(bucket_name)
        previous = bucket.notification_configuration
        original_put_config(self, bucket_name, notification_config)
        config = bucket.notification_configuration
        for target in getattr(config, "cloud_function", None) or ():
            if _sink_for(target.arn) is None:
                bucket.notification_configuration = previous
                from moto.s3.exceptions import InvalidArgumentError

                raise InvalidArgumentError(
                    "Unable to validate the following destination configurations",
                    target.arn,
                    f"The function {target.arn} does not exist",
                )

    notifications.send_event = send_event
    notifications._invoke_awslambda = lambda *args, **kwargs: None  # replaced by send_event
    models.S3Backend.put_bucket_notification_configuration = put_bucket_notification_configuration


_SEQUENCER_LOCK = threading.Lock()
_SEQUENCER = [0]


def _sequencer() -> str:
    """S3's per-key ordering token: hex, increasing for later events."""
    with _SEQUENCER_LOCK:
        _SEQUENCER[0] += 1
        return f"{int(_dt.datetime.now().timestamp() * 1e6):013X}{_SEQUENCER[0]:06X}"


@_never_raise("S3 -> Lambda")
def _s3_to_lambda(account_id: str, event_name: str, bucket: Any, key: Any) -> None:
    config = bucket.notification_configuration
    if config is None or not config.cloud_function:
        return
    if event_name == "s3:ObjectCreated:Put" and getattr(key, "multipart", None) is not None:
        return  # moto also emits a Put for the object a multipart upload completes
    for target in config.cloud_function:
        if not target.matches(event_name, key.name):
            continue
        sink = _sink_for(target.arn)
        if sink is None:
            log.warning("S3 event %s for unknown function %s dropped", event_name, target.arn)
            continue
        record = sink.s3_record(account_id, event_name, bucket, key, target.id)
        sink.deliver(target.arn, {"Records": [record]}, "s3")


# -- SNS ----------------------------------------------------------------------------------------
def _install_sns(models: Any) -> None:
    original_publish = models.Subscription.publish

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol != "lambda":
            return original_publish(
                self,
                message,
                message_id,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
        _sns_to_lambda(self, message, message_id, subject, message_attributes, message_structure)
        return None

    models.Subscription.publish = publish


@_never_raise("SNS -> Lambda")
def _sns_to_lambda(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
    message_structure: str | None,
) -> None:
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = subscription._parse_message_structure(message, subscription.protocol)
    sink = _sink_for(subscription.endpoint)
    if sink is None:
        log.warning("SNS message for unknown function %s dropped", subscription.endpoint)
        return
    post = subscription.get_post_data(
        message, message_id, subject, message_attributes=message_attributes
    )
    topic_arn = subscription.topic_arn
    record = sns_record(
        message=message,
        subject=subject,
        topic_arn=topic_arn,
        message_id=message_id,
        message_attributes=message_attributes,
        subscription_arn=subscription.arn,
        signature=post.get("Signature"),
        signing_cert_url=post.get("SigningCertURL"),
        region=topic_arn.split(":")[3],
        account_id=topic_arn.split(":")[4],
        now=sink.now(),
    )
    sink.deliver(subscription.endpoint, {"Records": [record]}, "sns")


# -- EventBridge --------------------------------------------------------------------------------
def _install_events(models: Any) -> None:
    original_send = models.Rule.send_to_targets
    original_put_rule = models.EventsBackend.put_rule

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        lambda_targets = [t for t in self.targets if _is_lambda(t.get("Arn", ""))]
        if not lambda_targets:
            return original_send(self, original_event, transform_input)
        if not _rule_matches(self, original_event):
            return None
        _events_to_lambda(self, lambda_targets, original_event)
        others = [t for t in self.targets if not _is_lambda(t.get("Arn", ""))]
        if others:
            import copy

            rest = copy.copy(self)
            rest.targets = others
            original_send(rest, original_event, transform_input)
        return None

    def put_rule(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        from moto.events.exceptions import InvalidEventPatternException, ValidationException

        from ._patterns import EventPattern, InvalidEventPattern
        from ._schedule import InvalidScheduleExpression, ScheduleExpression

        expression = kwargs.get("scheduled_expression")
        parsed = None
        if expression:
            try:
                parsed = ScheduleExpression.parse(expression)
            except InvalidScheduleExpression:
                raise ValidationException("Parameter ScheduleExpression is not valid.") from None
        if kwargs.get("event_pattern"):
            try:
                EventPattern.parse(kwargs["event_pattern"])
            except InvalidEventPattern as exc:
                raise InvalidEventPatternException(exc.reason) from None
        rule = original_put_rule(self, name, *args, **kwargs)
        if parsed is not None:
            sink = _newest_sink(self.account_id, self.region_name)
            if sink is not None:
                sink.schedule(rule, parsed)
        return rule

    models.Rule.send_to_targets = send_to_targets
    models.EventsBackend.put_rule = put_rule


_PATTERNS: dict[str, Any] = {}


def _rule_matches(rule: Any, event: Any) -> bool:
    """EventBridge's matching with our pattern engine (moto's lacks operators such as
    ``suffix``, ``wildcard`` and ``$or``); compiled once per pattern text."""
    raw = rule.event_pattern._raw_pattern
    if not raw:
        return True
    pattern = _PATTERNS.get(raw)
    if pattern is None:
        from ._patterns import EventPattern

        pattern = _PATTERNS[raw] = EventPattern.parse(raw)
    return bool(pattern.matches(event))


def _is_lambda(arn: str) -> bool:
    return arn.startswith("arn:") and arn.split(":")[2:3] == ["lambda"]


def _json_path(event: Any, path: str) -> Any:
    """EventBridge's InputPath: ``$`` or a dotted JSON path such as ``$.detail.id``."""
    value = event
    for part in path.lstrip("$").strip(".").split(".") if path.strip() != "$" else ():
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """The payload of one target, as EventBridge forms it: Input, InputPath, InputTransformer,
    or the whole event."""
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        return _json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return event


@_never_raise("EventBridge -> Lambda")
def _events_to_lambda(rule: Any, targets: list[dict[str, Any]], original_event: Any) -> None:
    event = dict(original_event)
    if isinstance(event.get("time"), (int, float)):
        event["time"] = _iso(float(event["time"]))
    for target in targets:
        arn = target["Arn"]
        sink = _sink_for(arn)
        if sink is None:
            log.warning(
                "EventBridge event of rule %s for unknown function %s dropped", rule.arn, arn
            )
            continue
        sink.deliver(arn, _target_input(target, event), "events")


# -- the rest of moto's Lambda backend, duck-typed ------------------------------------------------
class _FunctionFacade:
    """What moto's services call on a function they found (``.invoke(body, ...)``)."""

    def __init__(self, sink: PushSources, arn: str) -> None:
        self.sink = sink
        self.function_arn = arn

    def invoke(self, body: str, request_headers: Any = None, response_headers: Any = None) -> Any:
        return self.sink.invoke_sync(self.function_arn, body)


class _LambdaFacade:
    """Stands in for ``moto.awslambda.utils.get_backend(account, region)``: the services that
    reach Lambda through it (CloudWatch Logs subscription filters, Secrets Manager rotation,
    EventBridge's own notifications) reach the local Lambda service instead."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def _arn(self, name: str, qualifier: str | None = None) -> str:
        if name.startswith("arn:"):
            return name
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def get_function(self, function_name_or_arn: str, qualifier: str | None = None) -> Any:
        arn = self._arn(function_name_or_arn, qualifier)
        sink = _sink_for(arn)
        if sink is None:
            from moto.awslambda.exceptions import UnknownFunctionException

            raise UnknownFunctionException(arn)
        return _FunctionFacade(sink, arn)

    def invoke(
        self,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any = None,
        response_headers: Any = None,
    ) -> Any:
        return self.get_function(function_name, qualifier).invoke(body)

    @_never_raise("CloudWatch Logs -> Lambda")
    def send_log_event(
        self,
        function_arn: str,
        filter_name: str,
        log_group_name: str,
        log_stream_name: str,
        log_events: Any,
    ) -> None:
        import gzip

        sink = _sink_for(function_arn)
        if sink is None:
            log.warning("log events for unknown function %s dropped", function_arn)
            return
        data = {
            "messageType": "DATA_MESSAGE",
            "owner": self.account_id,
            "logGroup": log_group_name,
            "logStream": log_stream_name,
            "subscriptionFilters": [filter_name],
            "logEvents": list(log_events),
        }
        packed = gzip.compress(json.dumps(data, separators=(",", ":")).encode())
        event = {"awslogs": {"data": base64.b64encode(packed).decode()}}
        sink.deliver(function_arn, event, "logs")

    # Event source mappings registered in moto's own Lambda backend are never created here
    # (the runtime runs its own pollers); moto still calls these when a table/queue/stream
    # has such a mapping, so they answer "nothing to do".
    def send_sqs_batch(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def send_kinesis_message(self, *args: Any, **kwargs: Any) -> None:
        return None

    def send_dynamodb_items(self, *args: Any, **kwargs: Any) -> None:
        return None


# -- the per-runtime receiver ---------------------------------------------------------------------
class PushSources:
    """Receives the events moto pushes for one Lambda service and invokes its functions
    asynchronously, as S3, SNS, EventBridge and CloudWatch Logs do; fires EventBridge
    schedules on the platform clock. ``stats`` counts events per source (delivered, dropped)."""

    def __init__(self, service: Any, clock: Any) -> None:
        self.service = service
        self.clock = clock
        self.stats: Counter[str] = Counter()
        self._timers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._closed = False
        _install()
        with _SINKS_LOCK:
            _SINKS.append(self)

    def knows(self, function_arn: str) -> bool:
        """Whether ``function_arn`` names a function (version, alias) of this service."""
        if self._closed:
            return False
        parts = function_arn.split(":")
        if len(parts) >= 7 and (
            parts[3] != self.service.region or parts[4] != self.service.account_id
        ):
            return False
        try:
            self.service.registry.resolve(function_arn)
        except LambdaError:
            return False
        return True

    def deliver(self, function_arn: str, event: Any, source: str) -> None:
        """Invoke asynchronously (the service queues it and applies retries/destinations)."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        try:
            self.service.invoke(function_arn, body, invocation_type="Event")
        except LambdaError as exc:
            self.stats[f"{source}.dropped"] += 1
            log.warning("%s event for %s dropped: %s", source, function_arn, exc)
            return
        self.stats[f"{source}.delivered"] += 1

    def invoke_sync(self, function_arn: str, body: Any) -> bytes:
        """A synchronous invoke for the services that wait (Secrets Manager rotation)."""
        data = body if isinstance(body, bytes) else str(body).encode()
        result = self.service.invoke(function_arn, data)
        self.stats["sync.delivered"] += 1
        return result.payload

    # -- S3 records -----------------------------------------------------------------------------
    def s3_record(
        self, account_id: str, event_name: str, bucket: Any, key: Any, configuration_id: str
    ) -> dict[str, Any]:
        """One S3 event record from moto's bucket and key, with the fields moto leaves out."""
        created = event_name.startswith("s3:ObjectCreated")
        versioned = getattr(bucket, "is_versioned", False) and key.version_id != "null"
        owner = _principal(account_id)
        return s3_record(
            event_name=event_name.removeprefix("s3:"),
            bucket=bucket.name,
            key=key.name,
            size=key.size if created else None,
            etag=key.etag.strip('"') if created else None,
            version_id=key.version_id if versioned else None,
            sequencer=_sequencer(),
            principal_id=f"AWS:{owner}",
            owner_id=owner,
            source_ip="127.0.0.1",
            configuration_id=configuration_id,
            region=bucket.region_name,
            account_id=account_id,
            now=self.now(),
        )

    def now(self) -> _dt.datetime:
        """The platform clock's time (events are stamped with it)."""
        return _dt.datetime.fromtimestamp(self.clock.now(), _dt.timezone.utc)

    # -- schedules ------------------------------------------------------------------------------
    def schedule(self, rule: Any, expression: ScheduleExpression) -> None:
        """Fire ``rule`` on its schedule, on the platform clock, until it is deleted, disabled,
        changed, or this runtime closes."""
        anchor = self.now()
        token = uuid.uuid4().hex
        with self._lock:
            if self._closed:
                return
            self._timers[rule.arn] = (token, None)
        self._arm(rule, expression, anchor, token)

    def _arm(
        self, rule: Any, expression: ScheduleExpression, after: _dt.datetime, token: str
    ) -> None:
        when = expression.next_after(after)
        if when is None:
            return
        delay = max(0.0, when.timestamp() - self.clock.now())
        with self._lock:
            current = self._timers.get(rule.arn)
            if self._closed or current is None or current[0] != token:
                return
            timer = self.clock.call_later(delay, self._fire, rule, expression, when, token)
            self._timers[rule.arn] = (token, timer)

    def _fire(
        self, rule: Any, expression: ScheduleExpression, when: _dt.datetime, token: str
    ) -> None:
        from moto.events.models import events_backends

        try:
            backend = events_backends[rule.account_id][rule.region_name]
            live = backend.event_buses[rule.event_bus_name].rules.get(rule.name)
        except KeyError:
            live = None
        if live is not rule or rule.scheduled_expression != expression.text:
            with self._lock:
                if self._timers.get(rule.arn, (None,))[0] == token:
                    del self._timers[rule.arn]
            return  # deleted or replaced (a new put_rule armed its own timer)
        if rule.state == "ENABLED":
            event = eventbridge_event(
                detail_type="Scheduled Event",
                source="aws.events",
                resources=[rule.arn],
                region=rule.region_name,
                account_id=rule.account_id,
                now=when,
            )
            self.stats["schedule.fired"] += 1
            try:
                rule.send_to_targets(event)
            except Exception:
                log.exception("schedule of %s failed to reach its targets", rule.arn)
        self._arm(rule, expression, when, token)

    def close(self) -> None:
        """Stop receiving events and firing schedules."""
        with self._lock:
            self._closed = True
            timers = [t for _, t in self._timers.values() if t is not None]
            self._timers.clear()
        for timer in timers:
            timer.cancel()
        with _SINKS_LOCK:
            if self in _SINKS:
                _SINKS.remove(self)


def _principal(account_id: str) -> str:
    """A stable, AWS-looking principal id for the account (S3 shows the caller's)."""
    return "A" + hashlib.sha1(account_id.encode()).hexdigest()[:13].upper()
