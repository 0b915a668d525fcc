"""Event source benchmark (issue 4): an SQS event source mapping draining a queue.

2,000 messages wait in a queue; a mapping with batch size 10 drains them through a no-op
function. Measured twice in one run, the second time with moto's SQS replaced by an in-memory
queue that costs next to nothing, so the supervisor's CPU time splits into three parts:

* moto (+ the boto3 HTTP round trips to it): CPU(drain on moto) - CPU(drain in memory);
* the invokes: CPU of the same number of synchronous invokes of a 10-record event, timed alone;
* the mapping itself: CPU(drain in memory) - the invokes.

moto runs in the runtime's own process (embedded), so its cost is CPU of this process too.
Filling the queue is timed as well: moto's SendMessage gets slower as a queue grows
(../shared/reference/moto.md section 3).

``python benchmarks/bench_sources.py [--messages N] [--json]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
import uuid
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kernel_runtime import LambdaRuntime  # noqa: E402
from kernel_runtime.sources import EventSourceMappings, sqs_event  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"


class MemoryQueue:
    """The SQS calls the poller makes, answered from a list: a stand-in that costs ~nothing."""

    def __init__(self, bodies: list[str], arn: str) -> None:
        self.arn = arn
        self.url = "memory://" + arn.rsplit(":", 1)[1]
        self._lock = threading.Lock()
        now = str(int(time.time() * 1000))
        self._ready = [
            {
                "MessageId": str(uuid.uuid4()),
                "ReceiptHandle": uuid.uuid4().hex,
                "Body": body,
                "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "Attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": now,
                },
            }
            for body in bodies
        ]
        self.deleted = 0

    def get_queue_url(self, **_: Any) -> dict[str, Any]:
        return {"QueueUrl": self.url}

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"VisibilityTimeout": "30", "QueueArn": self.arn}}

    def receive_message(self, *, MaxNumberOfMessages: int = 1, **_: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            got, self._ready = self._ready[:MaxNumberOfMessages], self._ready[MaxNumberOfMessages:]
        return {"Messages": got} if got else {}

    def delete_message_batch(self, *, Entries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            self.deleted += len(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def change_message_visibility_batch(self, **_: Any) -> dict[str, Any]:
        return {"Successful": [], "Failed": []}


def _drain(lab: LambdaRuntime, arn: str, n: int, factory: Any) -> tuple[float, float]:
    """(wall s, supervisor CPU s) for a fresh mapping to delete ``n`` messages."""
    manager = EventSourceMappings(lab.service, client_factory=factory, sqs_wait_time_s=1)
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        uid = manager.create_event_source_mapping("noop", arn, batch_size=10)["UUID"]
        deadline = time.monotonic() + 600
        while manager.stats(uid).deleted < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"drained {manager.stats(uid).deleted} of {n} in 600 s")
            time.sleep(0.005)
        return time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        manager.close()


def bench_sqs_mapping(messages: int = 2000) -> dict[str, Any]:
    with LambdaRuntime() as lab:
        lab.create_function("noop", "app.handler", NOOP, memory_size=1769)
        lab.service.event_source_mappings.close()
        sqs = lab.client("sqs")
        url = sqs.create_queue(QueueName="bench", Attributes={"VisibilityTimeout": "30"})[
            "QueueUrl"
        ]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bodies = [json.dumps({"order": i, "item": "towel"}) for i in range(messages)]
        fill0 = time.perf_counter()
        fill_first = fill_last = 0.0
        for start in range(0, messages, 10):
            t = time.perf_counter()
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "MessageBody": b}
                    for i, b in enumerate(bodies[start : start + 10])
                ],
            )
            elapsed = time.perf_counter() - t
            fill_first = fill_first or elapsed
            fill_last = elapsed
        fill_s = time.perf_counter() - fill0

        moto_wall, moto_cpu = _drain(lab, arn, messages, None)
        memory = MemoryQueue(bodies, arn)
        mem_wall, mem_cpu = _drain(lab, arn, messages, lambda service, region: memory)

        event = json.dumps(sqs_event(messages=bodies[:10])).encode()
        batches = messages // 10
        cpu0 = time.process_time()
        for _ in range(batches):
            lab.invoke("noop", event)
        invoke_cpu = time.process_time() - cpu0
    per = 1e6 / messages
    return {
        "messages": messages,
        "fill_s": fill_s,
        "fill_first_batch_ms": fill_first * 1e3,
        "fill_last_batch_ms": fill_last * 1e3,
        "drain_s": moto_wall,
        "drain_msgs_per_s": messages / moto_wall,
        "drain_in_memory_s": mem_wall,
        "moto_cpu_us_per_msg": max(0.0, moto_cpu - mem_cpu) * per,
        "invoke_cpu_us_per_msg": invoke_cpu * per,
        "mapping_cpu_us_per_msg": max(0.0, mem_cpu - invoke_cpu) * per,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:  # as a script, or as part of the package
        from . import bench_service
    except ImportError:
        import bench_service
    with bench_service.scratch_store():  # not the user's store
        result = bench_sqs_mapping(args.messages)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value:,.2f}" if isinstance(value, float) else f"{key:>26}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
