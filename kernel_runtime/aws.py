"""The AWS services functions talk to: the embedded moto (the default) or another endpoint.

By default the edge endpoint serves every AWS service with moto, mounted in the runtime's own
process (a thread of the edge server): it starts with the runtime, and its state is reset when
the last runtime of the process closes, so one session's buckets never leak into the next.
With ``aws_endpoint_url`` (a LocalStack, or real AWS) functions, pollers and destinations use
that endpoint instead; moto's push paths (S3, SNS, EventBridge to Lambda) only exist for the
embedded moto.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

__all__ = ["AwsServices"]

log = logging.getLogger(__name__)

_OPEN: list[AwsServices] = []
_OPEN_LOCK = threading.Lock()


class AwsServices:
    """The AWS endpoint of one runtime and what hangs off it (the push sources)."""

    def __init__(self, service: Any, clock: Any, endpoint_url: str, *, embedded: bool) -> None:
        self.endpoint_url = endpoint_url
        self.embedded = embedded
        self.push: Any = None
        service.connect_endpoint(endpoint_url)
        self._service = service
        if embedded:
            from .sources._push import PushSources

            _tune_moto()
            self.push = PushSources(service, clock)
        with _OPEN_LOCK:
            _OPEN.append(self)

    def client(self, service_name: str, region: str | None = None) -> Any:
        """A shared boto3 client for ``service_name`` at this endpoint (thread-safe to use)."""
        return self._service.deliverer._client(service_name, region or self._service.region)

    def close(self) -> None:
        """Stop the push sources; reset moto's state if no other runtime uses it."""
        if self.push is not None:
            self.push.close()
        with _OPEN_LOCK:
            if self in _OPEN:
                _OPEN.remove(self)
            last = self.embedded and not any(a.embedded for a in _OPEN)
        if last:
            reset_moto()


def reset_moto() -> None:
    """Forget every bucket, table, queue ... the embedded moto holds (process-wide state)."""
    try:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
    except Exception:  # a failed reset must not fail the close
        log.exception("resetting moto's state failed")


_TUNED = False


def _tune_moto() -> None:
    """Make moto's SQS clock cheap (once per process).

    Every SQS message's ``visible``/``delayed`` check asks ``unix_time_millis()``, which moto
    computes through naive datetimes (``utcnow().replace(...)`` minus the epoch, ~18 us), and a
    receive checks every message of the queue several times: at 1,000 queued messages one
    ReceiveMessage cost ~1.5 s and filling the queue ~29 s. ``time.time()`` gives the same
    number for the current time in ~0.1 us (measured: 87 ms per receive, 2 s to fill). Only the
    no-argument call is replaced; conversions of given datetimes keep moto's code.

    A receive also checks each message's retention through GetQueueAttributes, which recounts
    the whole queue three times per message; the queue's retention period is read directly.
    """
    global _TUNED
    if _TUNED:
        return
    from .sources._push import check_moto

    check_moto()  # both attributes replaced here are on its list
    import moto.sqs.models as sqs_models

    original = sqs_models.unix_time_millis

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else original(dt)

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    sqs_models.unix_time_millis = unix_time_millis
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )
    _TUNED = True
