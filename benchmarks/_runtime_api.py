"""A minimal AWS Lambda Runtime API server, for hosting awslambdaric in benchmarks.

It serves the four endpoints a runtime client needs (``/2018-06-01`` base):

* ``GET  /runtime/invocation/next``: long poll; answered with the event and the
  headers ``Lambda-Runtime-Aws-Request-Id``, ``Lambda-Runtime-Deadline-Ms``,
  ``Lambda-Runtime-Invoked-Function-Arn`` and ``Lambda-Runtime-Trace-Id``.
* ``POST /runtime/invocation/{id}/response``: 202.
* ``POST /runtime/invocation/{id}/error``: 202.
* ``POST /runtime/init/error``: 202.

Design, chosen for the lowest warm round trip: raw HTTP/1.1 over blocking
sockets, one daemon thread per connection, and no thread hand-off on the hot
path. When :meth:`RuntimeAPIServer.invoke` finds a parked ``/next`` it writes
the event on that connection itself, reads the runtime's ``/response`` (or
``/error``) from the same keep-alive connection, answers 202 and only then hands
the connection back to its reader thread. A result posted on another
connection is still accepted (the invoker polls for it), so the fast path is an
optimisation, not an assumption.

Usage::

    srv = RuntimeAPIServer()             # listens on 127.0.0.1:<ephemeral>
    env["AWS_LAMBDA_RUNTIME_API"] = srv.address
    ...spawn the runtime...
    srv.wait_ready(10)                   # first GET /next arrived
    status, body = srv.invoke(b'{"x": 1}', timeout=3)
    srv.close()

``status`` is ``"ok"`` (the body is the handler's result), ``"error"`` (the body
is the runtime's error JSON; ``srv.last_error_type`` holds the
``Lambda-Runtime-Function-Error-Type`` header) or ``"init_error"``.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import uuid

__all__ = ["Invocation", "RuntimeAPIServer", "RuntimeInitError"]

_PREFIX = b"/2018-06-01/runtime/"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100  # RIE's MaxPayloadSize
_MAX_HEADER_BYTES = 64 * 1024

_REASONS = {
    200: b"OK",
    202: b"Accepted",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Payload Too Large",
    500: b"Internal Server Error",
}


class RuntimeInitError(RuntimeError):
    """The runtime posted to /runtime/init/error; ``body`` holds its JSON."""

    def __init__(self, body: bytes, error_type: str | None):
        super().__init__(f"runtime init failed: {error_type}: {body[:500]!r}")
        self.body = body
        self.error_type = error_type


class _Closed(Exception):
    pass


class Invocation:
    """One event in flight. Completed by a /response or /error post."""

    __slots__ = (
        "arn",
        "body",
        "deadline_ms",
        "done",
        "error_type",
        "payload",
        "request_id",
        "status",
        "trace_id",
    )

    def __init__(self, request_id, payload, deadline_ms, arn, trace_id):
        self.request_id = request_id
        self.payload = payload
        self.deadline_ms = deadline_ms
        self.arn = arn
        self.trace_id = trace_id
        self.done = threading.Event()
        self.status = None
        self.body = None
        self.error_type = None

    def finish(self, status, body, error_type=None):
        if self.done.is_set():
            return False
        self.status, self.body, self.error_type = status, body, error_type
        self.done.set()
        return True


class _Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "path")

    def __init__(self, method, path, headers, body, keep_alive):
        self.method, self.path, self.headers = method, path, headers
        self.body, self.keep_alive = body, keep_alive


class _Conn:
    """One client connection: socket, read buffer and ownership hand-off."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.open = True
        # Set by the invoker when it gives the connection back to the reader.
        self.turn = threading.Event()

    # -- reading ---------------------------------------------------------
    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise _Closed()
        self.buf += data

    def read_request(self) -> _Request:
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buf) > _MAX_HEADER_BYTES:
                raise _Closed()
            self._fill()
        head = bytes(buf[:end]).split(b"\r\n")
        del buf[: end + 4]
        try:
            method, path, version = head[0].split(b" ", 2)
        except ValueError:
            raise _Closed() from None
        headers = {}
        for line in head[1:]:
            k, sep, v = line.partition(b":")
            if sep:
                headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        if headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        else:
            n = int(headers.get("content-length") or 0)
            while len(buf) < n:
                self._fill()
            body = bytes(buf[:n])
            del buf[:n]
        conn_hdr = headers.get("connection", "").lower()
        keep_alive = (conn_hdr != "close") if version == b"HTTP/1.1" else (conn_hdr == "keep-alive")
        return _Request(method, path, headers, body, keep_alive)

    def _read_chunked(self) -> bytes:
        buf = self.buf
        out = bytearray()
        while True:
            while (i := buf.find(b"\r\n")) < 0:
                self._fill()
            size = int(bytes(buf[:i]).split(b";")[0], 16)
            del buf[: i + 2]
            if size == 0:
                while (j := buf.find(b"\r\n")) < 0:  # trailers, until an empty line
                    self._fill()
                while j != 0:
                    del buf[: j + 2]
                    while (j := buf.find(b"\r\n")) < 0:
                        self._fill()
                del buf[:2]
                return bytes(out)
            while len(buf) < size + 2:
                self._fill()
            out += buf[:size]
            del buf[: size + 2]

    # -- writing ---------------------------------------------------------
    def send(
        self, status: int, body: bytes = b"", headers: dict | None = None, keep_alive: bool = True
    ):
        parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))]
        if headers:
            for k, v in headers.items():
                parts.append(f"{k}: {v}\r\n".encode("latin-1"))
        parts.append(b"Content-Length: %d\r\n" % len(body))
        if not keep_alive:
            parts.append(b"Connection: close\r\n")
        parts.append(b"\r\n")
        parts.append(body)
        self.sock.sendall(b"".join(parts))

    def close(self):
        self.open = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.turn.set()


def _readable(sock: socket.socket, timeout: float) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(timeout * 1000.0))


def _error_type(req: _Request) -> str | None:
    """Lambda-Runtime-Function-Error-Type, else the body's errorType.

    awslambdaric's C++ client posts /invocation/{id}/error without that header
    (only the X-Ray cause header); its /init/error (http.client) sends it.
    """
    et = req.headers.get("lambda-runtime-function-error-type")
    if et:
        return et
    try:
        et = json.loads(req.body).get("errorType")
    except (ValueError, AttributeError):
        return None
    return et if isinstance(et, str) else None


def _json_error(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class RuntimeAPIServer:
    """Runtime API on 127.0.0.1:<ephemeral port>; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:bench",
    ):
        self.function_arn = function_arn
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((host, port))
        self._lsock.listen(64)
        self.host, self.port = self._lsock.getsockname()[:2]
        self.address = f"{self.host}:{self.port}"

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._parked: list[_Conn] = []  # connections blocked in GET /next
        self._conns: set[_Conn] = set()
        self._threads: list[threading.Thread] = []
        self._pending: dict[str, Invocation] = {}
        self._closed = False
        self._invoke_lock = threading.Lock()  # one invoke at a time, as in Lambda

        self.ready = threading.Event()
        self.first_next_ns: int | None = None  # perf_counter_ns of the first /next
        self.init_error: RuntimeInitError | None = None
        self.next_count = 0
        self.last_error_type: str | None = None

        t = threading.Thread(target=self._accept_loop, name="runtime-api-accept", daemon=True)
        self._threads.append(t)
        t.start()

    # ------------------------------------------------------------------ API
    def wait_ready(self, timeout: float | None = None) -> float:
        """Block until the first GET /next arrives.

        Returns the seconds waited. Raises RuntimeInitError if the runtime posted
        /init/error first, TimeoutError on timeout, ConnectionError once closed.
        """
        t0 = time.monotonic()
        deadline = None if timeout is None else t0 + timeout
        with self._cond:
            while not self.ready.is_set():
                if self.init_error is not None:
                    raise self.init_error
                if self._closed:
                    raise ConnectionError("Runtime API server closed")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no GET /next within {timeout} s")
                self._cond.wait(remaining)
        return time.monotonic() - t0

    def invoke(
        self,
        payload: bytes,
        timeout: float = 3.0,
        *,
        request_id: str | None = None,
        trace_id: str | None = None,
    ) -> tuple[str, bytes]:
        """Send one event and block until the runtime answers.

        Returns ``(status, body)`` with status ``"ok"``, ``"error"`` or
        ``"init_error"``. ``timeout`` (seconds) covers waiting for a /next and
        the handler's run; it also sets Lambda-Runtime-Deadline-Ms. Raises
        TimeoutError when it expires (the runtime is then in an unknown state;
        kill it) and ConnectionError once the server is closed.
        """
        if isinstance(payload, str):
            payload = payload.encode()
        with self._invoke_lock:
            t_end = time.monotonic() + timeout
            rid = request_id or str(uuid.uuid4())
            inv = Invocation(
                rid,
                payload,
                int(time.time() * 1000 + timeout * 1000),
                self.function_arn,
                trace_id
                or f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                f"Parent={uuid.uuid4().hex[:16]};Sampled=0",
            )
            conn = self._take_parked(t_end)
            with self._lock:
                self._pending[rid] = inv
            try:
                self._serve_invocation(conn, inv, t_end)
                if not inv.done.wait(max(0.0, t_end - time.monotonic())):
                    raise TimeoutError(f"no response for {rid} within {timeout} s")
            finally:
                with self._lock:
                    self._pending.pop(rid, None)
            self.last_error_type = inv.error_type
            return inv.status, inv.body

    def close(self):
        """Stop accepting, close every connection, fail pending invokes, join threads."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            conns = list(self._conns)
            pending = list(self._pending.values())
            self._parked.clear()
            self._cond.notify_all()
        for inv in pending:
            inv.finish("closed", b"")
        try:
            self._lsock.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        except OSError:
            pass
        try:
            self._lsock.close()
        except OSError:
            pass
        for c in conns:
            c.close()
        me = threading.current_thread()
        for t in list(self._threads):
            if t is not me:
                t.join(2.0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------- internals
    def _take_parked(self, t_end: float) -> _Conn:
        with self._cond:
            while True:
                if self._closed:
                    raise ConnectionError("Runtime API server closed")
                while self._parked:
                    conn = self._parked.pop()
                    if conn.open:
                        return conn
                if self.init_error is not None:
                    raise self.init_error
                remaining = t_end - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no runtime is waiting on GET /next")
                self._cond.wait(remaining)

    def _serve_invocation(self, conn: _Conn, inv: Invocation, t_end: float):
        """Fast path: answer the parked /next, then read the result here.

        The connection stays owned by this thread until the runtime's next
        request has been answered, then goes back to its reader thread.
        """
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.arn,
            "Lambda-Runtime-Trace-Id": inv.trace_id,
        }
        try:
            conn.send(200, inv.payload, headers)
            while not inv.done.is_set():
                # Poll in slices so a result posted on another connection, or
                # close(), is noticed; normally data arrives on this socket.
                remaining = t_end - time.monotonic()
                if remaining <= 0:
                    return
                if not conn.buf and not _readable(conn.sock, min(remaining, 0.05)):
                    continue
                conn.sock.settimeout(max(remaining, 0.001))
                try:
                    req = conn.read_request()
                finally:
                    conn.sock.settimeout(None)
                if not self._dispatch(conn, req):
                    conn.close()
                    return
        except (_Closed, OSError, ValueError):
            conn.close()
        finally:
            conn.turn.set()  # hand the connection back to its reader thread

    def _accept_loop(self):
        while not self._closed:
            try:
                sock, _ = self._lsock.accept()
            except OSError:
                break
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            t = threading.Thread(
                target=self._conn_loop, args=(conn,), name="runtime-api-conn", daemon=True
            )
            with self._lock:
                if self._closed:
                    conn.close()
                    break
                self._conns.add(conn)
                self._threads.append(t)
            t.start()

    def _conn_loop(self, conn: _Conn):
        try:
            while conn.open and not self._closed:
                req = conn.read_request()
                if req.method == b"GET" and req.path == _PREFIX + b"invocation/next":
                    conn.turn.clear()
                    with self._cond:
                        if self._closed:
                            break
                        self.next_count += 1
                        if self.first_next_ns is None:
                            self.first_next_ns = time.perf_counter_ns()
                            self.ready.set()
                        self._parked.append(conn)
                        self._cond.notify_all()
                    conn.turn.wait()  # an invoker now owns the socket
                    continue
                if not self._dispatch(conn, req):
                    break
        except (_Closed, OSError, ValueError):
            pass
        finally:
            conn.close()
            with self._cond:
                self._conns.discard(conn)
                if conn in self._parked:
                    self._parked.remove(conn)

    def _dispatch(self, conn: _Conn, req: _Request) -> bool:
        """Answer one non-/next request. Returns False to close the connection."""
        path = req.path
        ka = req.keep_alive
        if not path.startswith(_PREFIX):
            conn.send(404, _json_error("not found", "NotFound"), keep_alive=ka)
            return ka
        rest = path[len(_PREFIX) :]
        if req.method != b"POST":
            if req.method == b"GET" and rest == b"invocation/next":
                # /next on a connection owned by an invoker: not expected from
                # a well-behaved client (it must wait for our 202 first).
                conn.send(
                    403, _json_error("unexpected /next", "InvalidStateTransition"), keep_alive=False
                )
                return False
            conn.send(405, _json_error("method not allowed", "MethodNotAllowed"), keep_alive=ka)
            return ka
        if rest == b"init/error":
            err = RuntimeInitError(req.body, _error_type(req))
            with self._cond:
                self.init_error = err
                pending = list(self._pending.values())
                self._cond.notify_all()
            for inv in pending:
                inv.finish("init_error", req.body, err.error_type)
            conn.send(202, b'{"status":"OK"}', {"Content-Type": "application/json"}, keep_alive=ka)
            return ka
        if rest.startswith(b"invocation/"):
            rid, _, kind = rest[len(b"invocation/") :].partition(b"/")
            rid_s = rid.decode("latin-1")
            with self._lock:
                inv = self._pending.get(rid_s)
            if inv is None or kind not in (b"response", b"error"):
                conn.send(
                    400 if inv is None else 404,
                    _json_error(f"unknown request id {rid_s}", "InvalidRequestID"),
                    keep_alive=ka,
                )
                return ka
            if kind == b"response":
                if len(req.body) > MAX_RESPONSE_BYTES:
                    conn.send(
                        413,
                        _json_error("response too large", "RequestEntityTooLarge"),
                        keep_alive=ka,
                    )
                    inv.finish(
                        "error",
                        _json_error(
                            f"Response payload size ({len(req.body)} bytes) exceeded maximum "
                            f"allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
                            "Function.ResponseSizeTooLarge",
                        ),
                        "Function.ResponseSizeTooLarge",
                    )
                    return ka
                ok = inv.finish("ok", req.body)
            else:
                ok = inv.finish("error", req.body, _error_type(req))
            if ok:
                conn.send(
                    202, b'{"status":"OK"}', {"Content-Type": "application/json"}, keep_alive=ka
                )
            else:
                conn.send(
                    403,
                    _json_error("invocation already completed", "InvalidStateTransition"),
                    keep_alive=ka,
                )
            return ka
        conn.send(404, _json_error("not found", "NotFound"), keep_alive=ka)
        return ka
