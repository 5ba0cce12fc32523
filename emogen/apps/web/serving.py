"""The HTTP server under the app: werkzeug's threaded server with an idle timeout per connection, a cap on the
connections served at once, and a Server header that names no versions."""

from __future__ import annotations

import socket
import threading

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, make_server

CONNECTION_TIMEOUT = 30.0  # seconds a connection may sit without sending (slow or stalled clients)
MAX_CONNECTIONS = 64  # connections served at once; more are closed at once, before a thread is spent on them


class QuietHandler(WSGIRequestHandler):
    """Request handler whose socket times out when idle and whose Server header is just the product."""

    timeout = CONNECTION_TIMEOUT
    server_version = "EmoGen"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version


def make_web_server(
    host: str, port: int, app: Flask, max_connections: int = MAX_CONNECTIONS, timeout: float = CONNECTION_TIMEOUT
) -> ThreadedWSGIServer:
    """A threaded server for ``app`` that serves at most ``max_connections`` connections at once."""
    # werkzeug answers a taken port by printing and exiting; try the address first, so the caller can say it in
    # one line and clean up (an OSError: the port in use, a host that does not resolve or is not this machine's).
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(info[0], socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(info[4])
    handler = type("Handler", (QuietHandler,), {"timeout": timeout})
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    slots = threading.BoundedSemaphore(max_connections)
    serve = server.process_request

    def process_request(request, client_address) -> None:
        if not slots.acquire(blocking=False):
            server.shutdown_request(request)  # full: close at once rather than queue a thread behind the others
            return
        try:
            serve(request, client_address)
        except BaseException:
            slots.release()
            raise

    finish = server.process_request_thread

    def process_request_thread(request, client_address) -> None:
        try:
            finish(request, client_address)
        finally:
            slots.release()

    server.process_request = process_request
    server.process_request_thread = process_request_thread
    return server
