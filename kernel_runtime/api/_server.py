"""The HTTP server of the edge: werkzeug's threaded server with HTTP/1.1 keep-alive.

werkzeug's request handler answers every request with ``Connection: close`` (it cannot drain
a request body it did not read without reading into the next request). A boto3 client then
pays a TCP connect and a new server thread per call; with keep-alive a warm Invoke round trip
is a couple of milliseconds. So the handler here reimplements ``run_wsgi``: each request's body
is bounded by its Content-Length (or its chunked framing) and drained after the response, the
connection stays open, and small responses leave in one ``send`` with their headers
(TCP_NODELAY is set as well, so no write waits for an ACK).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import LimitedStream

__all__ = ["EdgeServer"]

log = logging.getLogger(__name__)
_werkzeug_log = logging.getLogger("werkzeug")

#: A request body left unread beyond this is not drained: the connection is closed instead.
_DRAIN_LIMIT = 256 * 1024 * 1024
_INTERNAL_ERROR = b"Internal Server Error"


def _preserve_underscored(environ: dict[str, Any], headers: Any) -> None:
    """What moto's own request handler does for header names with underscores (S3 metadata
    such as ``x-amz-meta-my_key``): keep them, under their original spelling."""
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    dashed = {environ_key_for_header(n) for n in headers if "_" not in n}
    names: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in headers.items():
        if not should_preserve_original_header_name(name):
            continue
        key = environ_key_for_header(name)
        if key in dashed:  # never let an underscored header stand in for a dashed one
            continue
        names.setdefault(key, name)
        values.setdefault(key, []).append(value.replace("\r\n", ""))
    for key, key_values in values.items():
        environ[key] = ",".join(key_values)
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names


class _KeepAliveHandler(WSGIRequestHandler):
    """werkzeug's handler, keeping HTTP/1.1 connections open between requests."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (a Unix socket): nothing to tune
            pass
        connections = getattr(self.server, "edge_connections", None)
        if connections is not None:
            connections.add(self.connection)

    def finish(self) -> None:
        connections = getattr(self.server, "edge_connections", None)
        if connections is not None:
            connections.discard(self.connection)
        super().finish()

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if any("_" in name for name in self.headers):
            _preserve_underscored(environ, self.headers)
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if _werkzeug_log.isEnabledFor(logging.INFO):  # formatting it costs ~20 µs
            super().log_request(code, size)

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        if not environ.get("wsgi.input_terminated"):  # chunked bodies end by themselves
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
                self.close_connection = True
            environ["wsgi.input"] = LimitedStream(self.rfile, max(length, 0))
            environ["wsgi.input_terminated"] = True
        head = environ["REQUEST_METHOD"] == "HEAD"
        status_set: str | None = None
        headers_set: list[tuple[str, str]] = []
        sent = False
        chunked = False

        def write(data: bytes) -> None:
            nonlocal sent, chunked
            if not sent:
                assert status_set is not None, "write() before start_response"
                sent = True
                code_text, _, reason = status_set.partition(" ")
                code = int(code_text)
                self.log_request(code)
                self.send_response_only(code, reason)
                has_length = False
                for key, value in headers_set:
                    self.send_header(key, value)
                    has_length = has_length or key.lower() == "content-length"
                if not (has_length or head or code < 200 or code in (204, 304)):
                    if self.request_version >= "HTTP/1.1":
                        chunked = True
                        self.send_header("Transfer-Encoding", "chunked")
                    else:
                        self.close_connection = True
                self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
                if data and not head:
                    self._headers_buffer.append(  # type: ignore[attr-defined]
                        b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
                    )
                self.flush_headers()
                return
            if data and not head:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            nonlocal status_set, headers_set
            if exc_info:
                try:
                    if sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            status_set, headers_set = status, list(headers)
            return write

        app: Callable[..., Iterable[bytes]] = self.server.app  # type: ignore[attr-defined]
        try:
            result = app(environ, start_response)
            try:
                for data in result:
                    write(data)
                if not sent:
                    write(b"")
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except (ConnectionError, TimeoutError):
            raise
        except Exception:
            log.exception("edge: %s %s failed", environ["REQUEST_METHOD"], environ["RAW_URI"])
            if sent:  # the response is half written: only closing can signal the failure
                self.close_connection = True
            else:
                status_set = "500 Internal Server Error"
                headers_set = [
                    ("Content-Type", "text/plain"),
                    ("Content-Length", str(len(_INTERNAL_ERROR))),
                ]
                write(_INTERNAL_ERROR)
        self._drain(environ["wsgi.input"])

    def _drain(self, stream: Any) -> None:
        """Read what the app left of the request body, so the next request starts clean."""
        if self.close_connection:
            return
        total = 0
        try:
            while True:
                chunk = stream.read(1024 * 1024)
                if not chunk:
                    return
                total += len(chunk)
                if total > _DRAIN_LIMIT:
                    self.close_connection = True
                    return
        except Exception:  # a client that went away mid-body
            self.close_connection = True


class EdgeServer:
    """Serves a WSGI app (normally an :class:`~kernel_runtime.api.EdgeApp`) on one port.

    ``port=0`` picks a free port; ``url`` is known once ``start()`` returns. ``stop()`` closes
    the listening socket and every open keep-alive connection. Subclasses change the request
    handler, the accept loop's poll interval and the thread's name through class attributes.
    """

    handler_class: type[WSGIRequestHandler] = _KeepAliveHandler
    poll_interval = 0.1
    thread_name = "lambda-lab-edge"

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        _werkzeug_log.setLevel(logging.WARNING)

    @property
    def url(self) -> str:
        """The endpoint URL (``AWS_ENDPOINT_URL``) for clients on this machine."""
        if self._server is None:
            raise RuntimeError("the edge server is not started")
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> EdgeServer:
        """Bind and serve from a daemon thread; returns once the socket is listening."""
        if self._server is not None:
            return self
        server = make_server(
            self.host, self.port, self.app, threaded=True, request_handler=self.handler_class
        )
        server.edge_connections = set()  # type: ignore[attr-defined]
        self.port = server.server_port
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"{self.thread_name}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close keep-alive connections, wait for the serving thread."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        for conn in list(server.edge_connections):  # type: ignore[attr-defined]
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EdgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"url={self.url}" if self._server is not None else "stopped"
        return f"<EdgeServer {state}>"
