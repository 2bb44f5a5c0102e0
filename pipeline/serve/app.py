"""``storywatch serve``: the Starlette app over the files the pipeline writes.

    create_app(ServeConfig(...)) -> Starlette

Routes: ``/`` storylines, ``/storylines/{id}`` one storyline (timeline, developments,
filters ``since``/``until``/``kind``), ``/feeds``, ``/deliveries`` and its POST
``/deliveries/retry``, ``/preview`` (GET the form, POST a draft), ``/static/…``. Pages are
Jinja2 templates with autoescape on (everything from articles is text, never markup);
htmx (vendored in ``static/``) refreshes the feeds table and the retry row in place, and
every page also works without JavaScript. Each request reads the files again only when
their size or modification time changed (``_Cached``), and the ledger, on any backend,
through ``ledger_view.LedgerView`` (bounded, incremental), so the page follows a running
pipeline and stays fast. Guards: ``pipeline.serve.security``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.config.feeds import FeedList, load_feeds
from pipeline.errors import UserError
from pipeline.ledger import Ledger, local_path, open_ledger
from pipeline.serve import actions, present, queries
from pipeline.serve.ledger_view import LedgerView
from pipeline.serve.preview import MAX_DRAFT_BYTES, Corpus, preview
from pipeline.serve.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SECURITY_HEADERS,
    TOKEN_COOKIE,
    TOKEN_ENV,
    bearer,
    new_csrf_token,
    same_secret,
)

UTC = dt.UTC
KINDS = ("new_development", "coverage", "burst")
STATIC_DIR = Path(__file__).with_name("static")


@dataclass
class ServeConfig:
    ledger: str = "build/ledger.sqlite"
    alerts: Path | None = Path("build/alerts.jsonl")
    feed_health: Path | None = Path("build/feed-health.jsonl")
    #: every stage's permanent failures (the run's --dead-letter-out)
    dead_letters: Path | None = Path("build/dead-letters.jsonl")
    #: failed deliveries' reasons (default: delivery-dead-letters.jsonl beside the ledger)
    delivery_dead_letters: Path | None = None
    feeds_file: Path | None = Path("watchlists/feeds.yaml")
    subscribers: Path | None = None
    watchlists: Path = Path("watchlists")
    preview_feed_dirs: list[Path] = field(default_factory=lambda: [Path("seeds/feeds")])
    token: str | None = None
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC)
    #: a remote ledger (PostgreSQL, Firestore) is read again at most this often
    ledger_refresh_seconds: float = 2.0
    #: the page holds at most this many of the ledger's newest alerts and delivery rows
    max_ledger_alerts: int = 5000
    max_ledger_deliveries: int = 20000
    #: how a ledger URL is opened (tests hand the Firestore fake in here)
    ledger_opener: Callable[..., Ledger] = open_ledger

    @property
    def ledger_path(self) -> Path | None:
        return local_path(self.ledger)

    @property
    def dead_letter_path(self) -> Path | None:
        if self.delivery_dead_letters is not None:
            return self.delivery_dead_letters
        path = self.ledger_path
        return None if path is None else path.parent / "delivery-dead-letters.jsonl"


class _Cached:
    """A value computed from some files, recomputed only when one of them changed."""

    def __init__(self, paths: Callable[[], list[Path | None]], compute: Callable[[], Any]) -> None:
        self._paths = paths
        self._compute = compute
        self._key: tuple[Any, ...] | None = None
        self._value: Any = None

    def _stamp(self) -> tuple[Any, ...]:
        out = []
        for path in self._paths():
            try:
                st = path.stat() if path is not None else None
            except OSError:
                st = None
            out.append((st.st_mtime_ns, st.st_size) if st else None)
        return tuple(out)

    def get(self) -> Any:
        key = self._stamp()
        if key != self._key:
            self._value, self._key = self._compute(), key
        return self._value


class Guard:
    """Token on every request (when one is configured), CSRF on every POST, headers on every
    response. A plain ASGI middleware: the body is read once, by the route."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if self.token:
            given = request.query_params.get("token")
            if given is not None and same_secret(given, self.token):
                url = request.url.remove_query_params("token")
                response: Response = RedirectResponse(
                    str(url.path) + (f"?{url.query}" if url.query else ""), 303
                )
                response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
                await self._send(response, scope, receive, send)
                return
            presented = bearer(request.headers.get("authorization")) or request.cookies.get(
                TOKEN_COOKIE
            )
            if not same_secret(presented, self.token):
                response = PlainTextResponse(
                    "401: this status page needs its token: open it once as /?token=TOKEN "
                    "(the value of STORYWATCH_SERVE_TOKEN where `storywatch serve` runs), or send "
                    "Authorization: Bearer TOKEN",
                    401,
                )
                await self._send(response, scope, receive, send)
                return
        csrf = request.cookies.get(CSRF_COOKIE)
        fresh = None
        if not csrf:
            csrf = fresh = new_csrf_token()
        scope.setdefault("state", {})["csrf"] = csrf
        if request.method == "POST":
            body = await request.body()  # cached on the scope's receive for the route
            form = await Request(scope, _replay(body)).form(max_part_size=MAX_DRAFT_BYTES * 2)
            given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
            if fresh is not None or not isinstance(given, str) or not same_secret(given, csrf):
                response = PlainTextResponse(
                    "403: the form's CSRF token is missing or does not match this browser's; "
                    "reload the page and submit it again",
                    403,
                )
                await self._send(response, scope, receive, send)
                return
            receive = _replay(body)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if fresh is not None:
                    headers.append(
                        (
                            b"set-cookie",
                            f"{CSRF_COOKIE}={fresh}; Path=/; HttpOnly; SameSite=Strict".encode(),
                        )
                    )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _send(self, response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        for key, value in SECURITY_HEADERS.items():
            response.headers[key] = value
        await response(scope, receive, send)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("pipeline.serve", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["short_time"] = present.short_time
    env.filters["error_in_words"] = present.error_in_words
    return env


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def create_app(config: ServeConfig) -> Starlette:
    templates = Jinja2Templates(env=_environment())
    view = LedgerView(
        config.ledger,
        refresh_seconds=config.ledger_refresh_seconds,
        max_alerts=config.max_ledger_alerts,
        max_deliveries=config.max_ledger_deliveries,
        clock=config.clock,
        opener=config.ledger_opener,
    )
    file_alerts = _Cached(
        lambda: [config.alerts], lambda: queries.read_jsonl_objects(config.alerts)
    )
    # What the storylines are made of changes with the alerts file and the ledger's rows.
    made: dict[str, Any] = {"key": None}

    def current() -> dict[str, Any]:
        snap = view.snapshot()
        from_file = file_alerts.get()
        # the file's lines themselves are held, so a new read is never taken for the old one
        key = (from_file, snap.alerts_version)
        if made["key"] is None or key[0] is not made["key"][0] or key[1] != made["key"][1]:
            alerts = queries.merge_alerts(from_file, snap.alerts)
            rows = queries.delivery_rows(snap.deliveries)
            made.update(
                key=key,
                rows_version=snap.deliveries_version,
                alerts=alerts,
                storylines={s.storyline_id: s for s in queries.storylines(alerts, rows)},
            )
        elif snap.deliveries_version != made["rows_version"]:  # only delivery states changed
            rows = queries.delivery_rows(snap.deliveries)
            queries.attach_deliveries(made["storylines"].values(), rows)
            made["rows_version"] = snap.deliveries_version
        made["snapshot"] = snap
        return made

    health = queries.FeedHealthIndex(config.feed_health)
    feed_list = _Cached(lambda: [config.feeds_file], lambda: _load_feed_list(config.feeds_file))
    # The table changes with the health read, the feed list and the day (its per-day window).
    feed_tables: dict[str, Any] = {"key": None, "rows": []}

    def feed_table(now: dt.datetime) -> list[queries.FeedView]:
        listed = feed_list.get()
        key = (health.refresh().stamp, id(listed), now.astimezone(UTC).date())
        if key != feed_tables["key"]:
            feed_tables["rows"] = queries.feed_table(listed, health, now=now)
            feed_tables["key"] = key
        return list(feed_tables["rows"])

    corpus = Corpus(config.preview_feed_dirs)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("now", config.clock())
        context["csrf"] = request.scope.get("state", {}).get("csrf", "")
        context["nav"] = name
        context["ledger_error"] = view.snapshot().error
        return templates.TemplateResponse(request, name, context, status_code=status)

    async def index(request: Request) -> Response:
        page = current()
        snap = page["snapshot"]
        return render(
            request,
            "index.html",
            storylines=list(page["storylines"].values()),
            mutes=snap.active_mutes(config.clock()),
            source=_sources(config),
            truncated=snap.truncated,
            limits=(config.max_ledger_alerts, config.max_ledger_deliveries),
        )

    async def storyline(request: Request) -> Response:
        sid = request.path_params["storyline_id"]
        page = current()
        found = page["storylines"].get(sid)
        if found is None:
            return render(request, "missing.html", 404, what=f"storyline {sid}")
        since, until_ = (
            _date(request.query_params.get("since")),
            _date(request.query_params.get("until")),
        )
        kind = request.query_params.get("kind", "")
        kind = kind if kind in KINDS else ""
        shown = queries.filter_developments(
            found.developments, since=since, until=until_, kind=kind
        )
        mutes = page["snapshot"].active_mutes(config.clock())
        return render(
            request,
            "storyline.html",
            storyline=found,
            developments=list(reversed(shown)),
            chart=present.timeline(shown),
            since=since.isoformat() if since else "",
            until=until_.isoformat() if until_ else "",
            kind=kind,
            kinds=KINDS,
            mutes=mutes,
        )

    async def feeds(request: Request) -> Response:
        now = config.clock()
        rows = feed_table(now)
        return render(
            request,
            "feeds.html",
            feeds=rows,
            ago=lambda iso: present.ago(iso, now),
            until=lambda iso: present.until(iso, now),
            days=[(now.date() - dt.timedelta(days=6 - i)).strftime("%m-%d") for i in range(7)],
            failing=sum(1 for r in rows if r.status == "failing"),
            has_health=bool(health.latest),
        )

    async def deliveries_page(request: Request) -> Response:
        page = current()
        snap = page["snapshot"]
        dead = queries.dead_deliveries(
            snap.dead, page["alerts"], queries.read_jsonl_objects(config.dead_letter_path)
        )
        counts = queries.page_counts(snap.counts, snap.claimed)
        failures = [
            {k: queries.scrub(str(v)) for k, v in obj.items()}
            for obj in queries.read_jsonl_objects(config.dead_letters)
        ]
        return render(
            request,
            "deliveries.html",
            dead=dead,
            counts=counts,
            failures=failures[-200:][::-1],
            message=request.query_params.get("message", ""),
            can_send=config.subscribers is not None,
        )

    async def retry(request: Request) -> Response:
        form = await request.form()
        key = (
            str(form.get("alert_id") or ""),
            str(form.get("subscriber") or ""),
            str(form.get("channel") or ""),
        )
        if not all(key):
            return PlainTextResponse("400: alert_id, subscriber and channel are required", 400)
        try:
            result = actions.retry_dead(
                config.ledger,
                key,
                subscribers_file=config.subscribers,
                dead_letter_out=config.dead_letter_path,
                now=config.clock(),
                opener=config.ledger_opener,
            )
        except UserError as exc:
            message = "; ".join(queries.scrub(p) for p in exc.problems)
            result = None
        else:
            message = _retry_message(result)
        view.invalidate()  # show the row's new state now, on a remote ledger too
        if request.headers.get("hx-request"):
            return render(request, "_retry_result.html", key=key, message=message, result=result)
        return RedirectResponse(f"/deliveries?{_query(message=message)}", 303)

    async def preview_page(request: Request) -> Response:
        days = _int(request.query_params.get("days"), 7)
        return render(request, "preview.html", draft="", result=None, days=days)

    async def preview_post(request: Request) -> Response:
        form = await request.form(max_part_size=MAX_DRAFT_BYTES * 2)
        draft = form.get("draft")
        upload = form.get("file")
        text = draft if isinstance(draft, str) else ""
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(MAX_DRAFT_BYTES + 1)
            text = data.decode("utf-8", errors="replace")
        days = _int(str(form.get("days") or ""), 7)
        result = preview(
            text, config.watchlists, corpus, current()["alerts"], days=days, now=config.clock()
        )
        return render(request, "preview.html", draft=text, result=result, days=days)

    routes = [
        Route("/", index),
        Route("/storylines/{storyline_id:str}", storyline),
        Route("/feeds", feeds),
        Route("/deliveries", deliveries_page),
        Route("/deliveries/retry", retry, methods=["POST"]),
        Route("/preview", preview_page, methods=["GET"]),
        Route("/preview", preview_post, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, token=config.token)])

    def warm() -> None:
        """Read every file now, so the first visitor does not wait for it (the feed list's
        YAML alone takes ~0.2 s at 500 feeds); a ledger that cannot be read raises its
        UserError here, so ``storywatch serve`` exits naming it."""
        view.check()
        current()
        feed_table(config.clock())

    app.state.warm = warm
    return app


def _load_feed_list(path: Path | None) -> FeedList | None:
    if path is None or not path.is_file():
        return None
    try:
        return load_feeds(path)
    except UserError:  # the page shows what the health names; `storywatch validate` says why
        return None


def _sources(config: ServeConfig) -> dict[str, str]:
    """The files the page reads, for its footer (a remote ledger's password never shown)."""
    return {
        "ledger": queries.scrub(config.ledger),
        "alerts": str(config.alerts or ""),
        "feed health": str(config.feed_health or ""),
        "dead letters": str(config.dead_letters or ""),
        "delivery dead letters": str(config.dead_letter_path or ""),
    }


def _retry_message(result: actions.RetryResult) -> str:
    who = f"{result.key[1]}/{result.key[2]}"
    if not result.requeued:
        return f"not retried: the delivery to {who} is not dead any more (state: {result.state or 'none'})"
    if result.state == "sent":
        return f"retried: sent to {who}"
    if result.state == "dead":
        return f"retried, and it failed again for {who}: {queries.scrub(result.reason) or 'see the reason below'}"
    return f"queued for {who}: a running `storywatch run` (or `storywatch deliver`) sends it on its next sweep"


def _query(**params: str) -> str:
    return urlencode(params)


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, min(int(value or default), 365))
    except ValueError:
        return default


def serve_environment_token() -> str | None:
    return os.environ.get(TOKEN_ENV) or None
