"""LogTail: a live tail of a function's log group, filtered with a CloudWatch filter pattern.

It follows the store (:meth:`kernel_runtime.observe.Store.follow`) on the follower's daemon
thread and appends new lines with ``Output.append_stdout``; only the last ``max_lines`` are
kept, so a long load test cannot grow the notebook without bound. Changing the filter restarts
the follower, which re-reads the group (from where the tail began) through the new filter.
"""

from __future__ import annotations

import html
import threading
from collections import deque
from datetime import datetime, timezone
from typing import Any

import ipywidgets as w

from ._forms import View, describe_error

__all__ = ["LogTail"]

_ERROR_STYLE = "color:#b52a2a"


def format_event(event: dict[str, Any]) -> str:
    """One log event as ``aws logs tail --format short`` prints it: time, then the message."""
    t = datetime.fromtimestamp(event["timestamp"] / 1000, tz=timezone.utc)
    message = str(event["message"])
    if not message.endswith("\n"):
        message += "\n"
    return f"{t.strftime('%H:%M:%S')}.{t.microsecond // 1000:03d} {message}"


class LogTail(View):
    """Follow ``/aws/lambda/<function_name>``. ``pattern``: a CloudWatch Logs filter pattern
    (``ERROR``, ``"cold start"``, ``{ $.level = "ERROR" }`` ...; blank: everything).
    ``history``: show the events already stored too, not only those stored after the tail was
    created. ``.lines`` holds the kept lines."""

    def __init__(
        self,
        runtime: Any = None,
        function_name: str = "",
        *,
        pattern: str = "",
        max_lines: int = 500,
        history: bool = True,
        interval: float = 0.25,
    ) -> None:
        super().__init__()
        if max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, got {max_lines!r}")
        if runtime is None:
            from . import _session

            runtime = _session.runtime()
        self.runtime = runtime
        self.function_name = runtime.function(function_name).name  # ResourceNotFound if absent
        self.group = f"/aws/lambda/{self.function_name}"
        self.max_lines = max_lines
        self.history = history
        self.interval = interval
        self.lines: deque[str] = deque(maxlen=max_lines)
        self._shown = 0  # lines in the Output's outputs (the kept ones are a suffix of them)
        self._lock = threading.Lock()
        self._generation = 0
        self._follower: Any = None
        self._after_id = 0  # events up to this store id are not shown (history=False)
        if not history and runtime.store is not None:
            newest = runtime.store.log_events(self.group, limit=1, start_from_head=False)
            self._after_id = int(newest[-1]["eventId"]) if newest else 0
        self.filter = w.Text(
            value=pattern,
            description="Filter",
            placeholder='CloudWatch filter pattern, e.g. ERROR or { $.level = "ERROR" }',
            continuous_update=False,
            layout=w.Layout(width="70%"),
        )
        self.clear_button = w.Button(description="Clear", icon="eraser")
        self.status = w.HTML()
        self.output = w.Output(
            layout=w.Layout(max_height="24em", overflow="auto", border="1px solid #ddd")
        )
        self.widget = w.VBox(
            [
                w.HTML(f"<b>{html.escape(self.group)}</b>"),
                w.HBox([self.filter, self.clear_button]),
                self.status,
                self.output,
            ]
        )
        self.filter.observe(lambda _change: self.start(), names="value")
        self.clear_button.on_click(lambda _: self.clear())
        self.start()

    @property
    def following(self) -> bool:
        return self._follower is not None and self._follower.running

    def start(self) -> None:
        """(Re)start following with the current filter: the view is cleared and refilled
        with the matching events stored so far (since the tail began without ``history``),
        then new events stream in."""
        self.stop()
        self.clear()
        store = self.runtime.store
        if store is None:
            self._error("the runtime was started with store=False: there are no logs to tail")
            return
        pattern = self.filter.value
        with self._lock:
            self._generation += 1
            generation = self._generation
        try:
            follower = store.follow(
                self.group,
                lambda events: self._on_events(generation, events),
                pattern=pattern or None,
                from_start=True,
                interval=self.interval,
            )
        except ValueError as exc:  # InvalidFilterPattern (InvalidParameterException)
            self._error(describe_error(exc))
            return
        self._follower = follower
        shown = f"filter {html.escape(pattern)}" if pattern.strip() else "all events"
        self.status.value = f"<span style='color:#666'>following · {shown}</span>"

    def stop(self) -> None:
        """Stop following (idempotent); the lines shown stay."""
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.stop()  # joins its thread: no callback runs after this

    def clear(self) -> None:
        with self._lock:
            self.lines.clear()
            self._shown = 0
            self.output.outputs = ()

    def _on_events(self, generation: int, events: list[dict[str, Any]]) -> None:
        text = [format_event(e) for e in events if int(e["eventId"]) > self._after_id]
        if not text:
            return
        with self._lock:
            if generation != self._generation:
                return  # a batch of a follower replaced since
            self.lines.extend(text)
            if self._shown + len(text) <= self.max_lines:
                self._shown += len(text)
                self.output.append_stdout("".join(text))
            else:  # over the cap: the view restarts from the kept lines
                self._shown = len(self.lines)
                kept = "".join(self.lines)
                self.output.outputs = ({"output_type": "stream", "name": "stdout", "text": kept},)

    def _error(self, text: str) -> None:
        self.status.value = f"<span style='{_ERROR_STYLE}'>{html.escape(text)}</span>"

    def close(self) -> None:
        self.stop()
        super().close()

    def _text(self) -> str:
        state = "following" if self.following else "stopped"
        return f"<LogTail {self.group} {state}, {len(self.lines)} lines>"
