"""Run the serving app under uvicorn: bind, load, follow the alias, log, and stop gracefully.

The port is bound before the model loads, so a taken port is one clear line at once. SIGTERM and
SIGINT stop the server the way uvicorn does (no new connections; requests in flight are
answered), then the request log is flushed and :func:`serve` returns what was served.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from bricksml import layout
from bricksml.errors import BricksmlError
from bricksml.inference.model import resolve_ref
from bricksml.serving import served
from bricksml.serving.app import Limits, create_app
from bricksml.serving.follower import AliasFollower, Holder
from bricksml.serving.log_writer import RequestLogWriter
from bricksml.tracking import setup
from bricksml.tracking.model_refs import AliasRef, ModelRef

#: Seconds a stopping server gives the requests in flight.
GRACE_SECONDS = 30


@dataclass(frozen=True)
class ServeOptions:
    """Where and how to serve; ``request_log`` is the table name (None: no log)."""

    endpoint: str
    host: str = "127.0.0.1"
    port: int = 8080
    request_log: str | None = None
    poll_seconds: float = 1.0
    log_flush_seconds: float = 1.0
    limits: Limits = field(default_factory=Limits)


def serve(ref: ModelRef, options: ServeOptions) -> dict[str, Any]:
    """Serve ``ref`` until stopped; an alias reference is followed. Returns what was served."""
    sock = bind(options.host, options.port)
    try:
        setup.configure()
        model = served.load(resolve_ref(ref))
    except BaseException:
        sock.close()
        raise
    holder = Holder(model)
    follower = None
    if isinstance(ref, AliasRef):
        follower = AliasFollower(holder, ref.name, ref.alias, options.poll_seconds)
    writer = None
    if options.request_log:
        writer = RequestLogWriter(layout.local_table_dir(options.request_log), options.log_flush_seconds)
    app = create_app(holder, options.endpoint, options.limits, writer, follower)
    port = sock.getsockname()[1]
    url = f"http://{options.host}:{port}/serving-endpoints/{options.endpoint}/invocations"
    following = f"following @{ref.alias}, checked every {options.poll_seconds:g} s" if follower else "fixed"
    banner = f"serving {model.name} v{model.version} ({following}) at {url}"
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        backlog=2048,
    )
    server = _Server(config, banner)
    started = time.time()
    if writer is not None:
        writer.start()
    if follower is not None:
        follower.start()
    try:
        server.run(sockets=[sock])
    finally:
        if follower is not None:
            follower.stop()
        if writer is not None:
            writer.close()
        sock.close()
    summary: dict[str, Any] = {
        "endpoint": options.endpoint,
        "url": url,
        "model_name": holder.model.name,
        "model_version": holder.model.version,
        "seconds": round(time.time() - started, 3),
        **app.state.counters.__dict__,
        "swaps": [s.__dict__ for s in follower.swaps] if follower else [],
        "request_log": options.request_log,
        "request_log_rows": writer.rows_written if writer else 0,
        "request_log_folder": str(writer.folder) if writer else None,
    }
    return summary


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one line that says the port is taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BricksmlError(f"--host {host!r}: not an address this machine has ({exc.strerror})") from None
    family = infos[0][0]
    # IPPROTO_TCP named: asyncio turns Nagle's algorithm off only on sockets whose protocol says TCP,
    # and a response written in two parts (headers, body) would otherwise wait 40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BricksmlError(
                f"port {port} on {host} is taken (another server?); stop it or pass --port with a free one"
            ) from None
        raise BricksmlError(
            f"cannot listen on {host}:{port}: {exc.strerror}; pass another --host/--port"
        ) from None
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, announcing itself once it accepts and ending quietly on a stop signal.

    uvicorn re-raises a caught SIGTERM after its graceful shutdown, which kills the process before
    the request log is flushed; a stop signal is the normal end of ``bricksml serve``.
    """

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        print(self.banner, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stop = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in stop}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
