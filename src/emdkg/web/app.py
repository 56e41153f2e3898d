"""The Starlette application: :func:`create_app` builds it around a knowledge graph and settings.

>>> from emdkg.web.app import Settings
>>> Settings().host, Settings().max_results
('127.0.0.1', 10000)

The app holds no global state: everything hangs off ``app.state`` (``kg``, ``store``,
``runner``, ``settings``, ``templates``), so tests can build as many apps as they like.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emdkg.web.runner import OxigraphEngine, QueryRunner, RemoteEngine
from emdkg.web.sparql import ProtocolError

__all__ = ["Settings", "create_app", "create_app_from_env", "WEB_DIR"]

WEB_DIR = Path(__file__).resolve().parent
SETTINGS_ENV = "EMDKG_SERVE_SETTINGS"


@dataclass(frozen=True)
class Settings:
    """How the server runs; the ``emdkg serve`` options map one to one onto these fields."""

    host: str = "127.0.0.1"
    port: int = 8000
    endpoint: str | None = None
    #: Seconds a query may run before the client gets 503 ``timeout``.
    query_timeout: float = 10.0
    #: Rows (SELECT) or triples (CONSTRUCT/DESCRIBE) above which a query is refused (422).
    max_results: int = 10_000
    #: Largest request body (and query string) accepted, in bytes (413 above).
    max_body: int = 1_000_000
    #: Let queries use SERVICE (federation: the server then fetches from other hosts).
    allow_service: bool = False
    #: Queries evaluated at the same time; more wait (then 503 ``busy``).
    max_concurrent: int = 4
    #: Threads still running a timed-out query that do not count against ``max_concurrent``.
    max_abandoned: int = 4
    #: Cached answers (0 disables the cache).
    cache_entries: int = 512
    #: uvicorn worker processes (each loads the knowledge graph and has its own cache).
    workers: int = 1
    #: Extra RDF files to load besides (or, with ``bundled=False``, instead of) the bundled graph.
    data: tuple[str, ...] = ()
    bundled: bool = True

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str) -> Settings:
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        if "data" in values:
            values["data"] = tuple(values["data"])
        return cls(**values)


def load_knowledge_graph(settings: Settings) -> Any:
    """The knowledge graph the settings name: a remote endpoint, or the bundled graph (+ files)."""
    import emdkg

    if settings.endpoint:
        connect = getattr(emdkg, "connect", None)
        if connect is not None:
            return connect(settings.endpoint)
        from emdkg.api import KnowledgeGraph
        from emdkg.remote_store import RemoteStore

        return KnowledgeGraph(RemoteStore(settings.endpoint))
    paths = [Path(p) for p in settings.data]
    return emdkg.load(paths or None, include_bundled=settings.bundled)


def store_of(kg: Any) -> Any:
    """The store behind a knowledge graph (or the object itself when it is already a store)."""
    return getattr(kg, "store", kg)


def endpoint_of(kg: Any, settings: Settings) -> str | None:
    if settings.endpoint:
        return settings.endpoint
    store = store_of(kg)
    for name in ("endpoint", "url", "query_url"):
        value = getattr(store, name, None) or getattr(kg, name, None)
        if isinstance(value, str):
            return value
    return None


def make_engine(kg: Any, settings: Settings) -> Any:
    """The engine /sparql runs on: the in-process pyoxigraph store, else the remote endpoint."""
    store = store_of(kg)
    native = getattr(store, "native", None)
    if native is not None and not settings.endpoint:
        return OxigraphEngine(native)
    url = endpoint_of(kg, settings)
    if url:
        return RemoteEngine(url)
    raise ProtocolError(500, "no-engine", "emdkg serve needs the oxigraph backend or --endpoint URL")


# --- request body limit -----------------------------------------------------------------------


#: The largest header block accepted (431 above), whatever HTTP parser uvicorn uses.
MAX_HEADER_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    pass


class LimitMiddleware:
    """413 for a request body (or a query string) larger than ``max_body`` bytes.

    A declared Content-Length over the limit is refused before the body is read; a chunked
    body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        if sum(len(k) + len(v) + 4 for k, v in headers) > MAX_HEADER_BYTES:
            # uvicorn bounds headers only with its h11 parser, not with httptools (its default
            # when installed): bound them here for both.
            await _too_large(MAX_HEADER_BYTES, send, status=431, what="request headers")
            return
        declared = None
        for key, value in headers:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
        if declared is not None and (declared < 0 or declared > self.max_body) or len(
            scope.get("query_string", b"")
        ) > self.max_body:
            await _too_large(self.max_body, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(self.max_body, send)


async def _too_large(limit: int, send: Send, *, status: int = 413, what: str = "request") -> None:
    body = json.dumps(
        {
            "error": "request-too-large" if status == 413 else "headers-too-large",
            "status": status,
            "message": f"the {what} is larger than this endpoint's limit of {limit} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    """Headers that keep pages from loading anything but our own assets."""

    CSP = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html") and b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", self.CSP.encode()))
                    extra.append((b"x-frame-options", b"DENY"))
                message = {**message, "headers": headers + [h for h in extra if h[0] not in names]}
            await send(message)

        await self.app(scope, receive, with_headers)


# --- errors -----------------------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/sparql", "/api/")):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" not in accept and "application/json" in accept


async def protocol_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProtocolError)
    if _wants_json(request):
        return JSONResponse(exc.as_json(), status_code=exc.status, headers=exc.headers)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": exc.status, "title": exc.code.replace("-", " "), "message": exc.message},
        status_code=exc.status, headers=exc.headers,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {404: "not found", 405: "method not allowed", 400: "bad request", 413: "request too large"}
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if _wants_json(request):
        return JSONResponse(
            {"error": titles.get(exc.status_code, "error").replace(" ", "-"), "status": exc.status_code, "message": message},
            status_code=exc.status_code, headers=exc.headers,
        )
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html",
        {"status": exc.status_code, "title": titles.get(exc.status_code, "error"), "message": message},
        status_code=exc.status_code, headers=exc.headers,
    )


async def server_error(request: Request, exc: Exception) -> Response:
    # A bug: say so plainly, without a traceback (it is in the server log).
    message = "internal error: the server failed on this request (see its log)"
    if _wants_json(request):
        return JSONResponse({"error": "internal-error", "status": 500, "message": message}, status_code=500)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": 500, "title": "internal error", "message": message}, status_code=500
    )


# --- the factory ------------------------------------------------------------------------------


def create_app(kg: Any, settings: Settings | None = None) -> Starlette:
    """The web application over ``kg`` (a :class:`~emdkg.api.KnowledgeGraph`, or a bare store)."""
    from emdkg.web import pages
    from emdkg.web.sparql import sparql_endpoint

    settings = settings or Settings()
    engine = make_engine(kg, settings)
    runner = QueryRunner(
        engine,
        timeout=settings.query_timeout,
        max_results=settings.max_results,
        max_concurrent=settings.max_concurrent,
        max_abandoned=settings.max_abandoned,
        allow_service=settings.allow_service,
        cache_entries=settings.cache_entries,
    )
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    templates.env.globals.update(pages.TEMPLATE_GLOBALS)
    templates.env.filters.update(pages.TEMPLATE_FILTERS)

    routes = [
        Route("/sparql", sparql_endpoint, methods=["GET", "POST"], name="sparql"),  # first: the hot path
        Route("/", pages.home, name="home"),
        Route("/search", pages.search_page, name="search"),
        Route("/entity/{ref:path}", pages.entity_page, name="entity"),
        Route("/figures/sites.svg", pages.sites_figure, name="sites_figure"),
        Route("/errors", pages.errors_page, name="errors"),
        Route("/query", pages.query_page, methods=["GET", "POST"], name="query"),
        Route("/ask/{name}", pages.named_page, name="ask"),
        Route("/api/queries", pages.api_queries, name="api_queries"),
        Route("/api/queries/{name}", pages.api_query, name="api_query"),
        Route("/api/search", pages.api_search, name="api_search"),
        Route("/healthz", pages.health, name="health"),
        Mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static"),
    ]

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        yield
        runner.close()

    app = Starlette(
        routes=routes,
        exception_handlers={ProtocolError: protocol_error, HTTPException: http_error, 500: server_error},
        lifespan=lifespan,
    )
    app.state.kg = kg
    app.state.store = store_of(kg)
    app.state.runner = runner
    app.state.settings = settings
    app.state.templates = templates
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(LimitMiddleware, max_body=settings.max_body)
    return app


def create_app_from_env() -> Starlette:
    """The app for ``uvicorn --factory`` in each worker process (settings in ``$EMDKG_SERVE_SETTINGS``)."""
    settings = Settings.from_env(os.environ.get(SETTINGS_ENV, "{}"))
    return create_app(load_knowledge_graph(settings), settings)
