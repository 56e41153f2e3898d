"""Real SPARQL servers for the tests, and a small HTTP proxy that fails on purpose.

The fixtures start a real Oxigraph server and a real Virtuoso once per session (on free ports
of 127.0.0.1, data in temporary folders, stopped at the end), through :mod:`emdkg.servers`. A
test that needs a server whose program is not installed is skipped, and says why; a server
that is installed but fails to start is an error, not a skip.

:class:`FaultyProxy` sits in front of a real server and forwards every request, except those a
rule picks: these get an HTTP error, a truncated body, no answer at all, or a dropped
connection. That is how the tests make a load fail at each step.

The fixtures are imported into ``conftest.py``, so every test module can use them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emdkg import servers
from emdkg.servers import LocalServer

__all__ = [
    "oxigraph_server",
    "virtuoso_server",
    "kb_release",
    "store_oxigraph_server",
    "FaultyProxy",
    "Fault",
    "put_graph",
    "graph_ntriples",
    "remote_store_for_files",
]


def _start(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    if servers.AVAILABLE[kind]() is None:
        what = {"oxigraph": "the `oxigraph` command (pip install oxigraph)",
                "virtuoso": "virtuoso-t and isql-vt (apt-get install virtuoso-opensource)"}[kind]
        pytest.skip(f"{kind} is not installed: {what}")
    server = servers.STARTERS[kind](tmp_path_factory.mktemp(kind))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A real ``oxigraph serve`` on 127.0.0.1 (union default graph), for the whole session."""
    yield from _start("oxigraph", tmp_path_factory)


@pytest.fixture(scope="session")
def virtuoso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A real Virtuoso (``virtuoso-t``) on 127.0.0.1, user dba/dba, for the whole session."""
    yield from _start("virtuoso", tmp_path_factory)


@pytest.fixture(scope="session")
def kb_release() -> Any:
    """The release graph of the bundled knowledge graph (built once)."""
    from emdkg.release import release_graph as build

    return build()


@pytest.fixture(scope="session")
def store_oxigraph_server(oxigraph_server: LocalServer, kb_release: Any) -> Any:
    """The release put into the live Oxigraph server by ``emdkg load``, queried over HTTP: the
    ``oxigraph_server`` backend of the compliance suite (tests/test_compliance.py)."""
    from emdkg.release import load
    from emdkg.remote_store import RemoteStore

    result = load(release=kb_release, **oxigraph_server.load_options())
    return RemoteStore(oxigraph_server.query_url_for(result.graph))


def put_graph(server: LocalServer, graph: str, ntriples: bytes) -> None:
    """Put N-Triples into ``graph`` of ``server`` directly (no emdkg.load), to set a scene."""
    auth = httpx.DigestAuth(server.user, server.password) if server.user else None
    response = httpx.put(
        server.store_url, params={"graph": graph}, content=ntriples,
        headers={"Content-Type": "application/n-triples"}, auth=auth, timeout=30, trust_env=False,
    )
    response.raise_for_status()


def graph_ntriples(server: LocalServer, graph: str) -> bytes | None:
    """The graph's triples as canonical N-Triples (blank nodes relabelled), None if absent."""
    from emdkg.release import ReleaseGraph, ntriples

    auth = httpx.DigestAuth(server.user, server.password) if server.user else None
    response = httpx.get(
        server.store_url, params={"graph": graph}, headers={"Accept": "application/n-triples"},
        auth=auth, timeout=30, trust_env=False,
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return ntriples(ReleaseGraph.from_ntriples(response.content))


def graphs_named(server: LocalServer, prefix: str) -> list[str]:
    """The named graphs of ``server`` whose IRI starts with ``prefix``."""
    query = (
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
        f'FILTER(STRSTARTS(STR(?g), "{prefix}")) }}'
    )
    response = httpx.post(
        server.query_url, data={"query": query}, headers={"Accept": "application/sparql-results+json"},
        timeout=30, trust_env=False,
    )
    response.raise_for_status()
    return sorted(b["g"]["value"] for b in response.json()["results"]["bindings"])


def remote_store_for_files(server: LocalServer, paths: Any, *, timeout: float = 30.0) -> Any:
    """A :class:`~emdkg.remote_store.RemoteStore` over a fresh graph of ``server`` holding
    ``paths`` (parsed by the embedded store, sent as N-Triples); the graph is the default graph
    of its queries, so stores made this way do not see each other."""
    from emdkg.remote_store import RemoteStore
    from emdkg.store import load_files

    graph = f"urn:emdkg:test:{uuid.uuid4()}"
    put_graph(server, graph, load_files(paths).serialize("ntriples"))
    return RemoteStore(server.query_url_for(graph), timeout=timeout)


# --------------------------------------------------------------------------------------------
# A proxy that fails on purpose
# --------------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, list[str]]
    body: bytes

    @property
    def graph(self) -> str:
        return (self.params.get("graph") or [""])[0]

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"))


@dataclass
class Fault:
    """What to do instead of forwarding: ``status`` (answer with it), ``truncate`` (forward
    half the body), ``hang`` (say nothing for that many seconds), ``close`` (drop the
    connection); ``before`` runs first (e.g. to stop the server behind the proxy)."""

    status: int | None = None
    truncate: bool = False
    hang: float | None = None
    close: bool = False
    before: Callable[[], None] | None = None


Rule = Callable[[Request], "Fault | None"]


class FaultyProxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream`` that applies ``rule`` to each request.

    ``requests`` records every request seen (method, path, graph) for the tests to inspect.
    """

    def __init__(self, upstream: str | None, rule: Rule | None = None) -> None:
        self.upstream = upstream
        self.rule = rule or (lambda request: None)
        self.requests: list[Request] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                request = Request(self.command, split.path, parse_qs(split.query), body)
                proxy.requests.append(request)
                fault = proxy.rule(request)
                if fault is not None:
                    if fault.before is not None:
                        fault.before()
                    if fault.hang is not None:
                        time.sleep(fault.hang)
                        self.close_connection = True
                        return
                    if fault.close:
                        self.close_connection = True
                        return
                    if fault.status is not None:
                        message = f"injected failure {fault.status}".encode()
                        self.send_response(fault.status)
                        self.send_header("Content-Type", "text/plain")
                        self.send_header("Content-Length", str(len(message)))
                        self.end_headers()
                        self.wfile.write(message)
                        return
                    if fault.truncate:
                        lines = body.splitlines(keepends=True)
                        body = b"".join(lines[: len(lines) // 2])
                if proxy.upstream is None:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                try:
                    answer = httpx.request(
                        self.command, proxy.upstream + self.path, content=body, headers=headers,
                        timeout=30, trust_env=False,
                    )
                except httpx.HTTPError:
                    self.send_response(502)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, server_url: str) -> str:
        """``server_url`` (of the upstream server) as seen through the proxy."""
        assert self.upstream is not None
        return self.base_url + server_url[len(self.upstream):]

    def load_options(self, server: LocalServer) -> dict[str, Any]:
        """:func:`emdkg.release.load` options for ``server`` with every URL through the proxy."""
        options = server.load_options()
        for key in ("store", "endpoint", "update"):
            options[key] = self.url(options[key])
        return options
