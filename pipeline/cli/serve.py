"""``storywatch serve``: the status page (``pipeline.serve.app``) under uvicorn.

Listens on 127.0.0.1 by default. Any other address needs ``STORYWATCH_SERVE_TOKEN`` in the
environment (checked on every request); without it the command refuses to start (exit 2).
A port already in use is a user error too, named with the fix.
"""

from __future__ import annotations

import argparse
import gc
import socket
import sys

import uvicorn

from pipeline.errors import UserError
from pipeline.serve.app import ServeConfig, create_app, serve_environment_token
from pipeline.serve.security import TOKEN_ENV, is_loopback


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that a busy port is reported before anything else."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror}); pick another "
            "--port (0 picks a free one) or stop what uses it"
        ) from None
    # Accepted connections inherit it: without it a keep-alive response sent in two writes
    # waits for the browser's delayed ACK (40 ms a request; bench/serve_pages.py).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(args: argparse.Namespace) -> int:
    token = serve_environment_token()
    if not is_loopback(args.host) and not token:
        raise UserError(
            f"--host {args.host}: the status page would be reachable from other machines, so it "
            f"needs an access token: set {TOKEN_ENV} (e.g. `export {TOKEN_ENV}=$(python -c "
            "'import secrets; print(secrets.token_urlsafe(24))')`) and open the page once with "
            "?token=…; or keep the default --host 127.0.0.1"
        )
    config = ServeConfig(
        ledger=args.ledger,
        alerts=args.alerts,
        feed_health=args.feed_health,
        dead_letters=args.dead_letters,
        delivery_dead_letters=args.delivery_dead_letters,
        feeds_file=args.feeds_file,
        subscribers=args.subscribers,
        watchlists=args.watchlists,
        preview_feed_dirs=list(args.preview_feeds or args.preview_feeds_default),
        token=token,
    )
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    app = create_app(config)
    app.state.warm()
    # The ~200k objects of the imported modules (the preview's matcher and gazetteers) and
    # the files just read, out of the collector's view: a full collection stalled a page by
    # ~140 ms (p95 of the 1,000-development page: 195 -> 60 ms, bench/serve_pages.py).
    gc.collect()
    gc.freeze()
    print(
        f"storywatch: status page on http://{url_host(args.host)}:{port}/"
        + (" (token required: open it with ?token=…)" if token else "")
        + "; Ctrl-C stops",
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            server_header=False,
            lifespan="off",
        )
    )
    server.run(sockets=[sock])
    print("storywatch: status page stopped", file=sys.stderr, flush=True)
    return 0
