"""Hostile parameters everywhere a user's text can reach a query, beyond ``test_safe_params.py``.

``tests/test_safe_params.py`` (the query layer's own) covers every parameter of every named
query through :func:`emdkg.queries.run` and the ``sites``/``query`` commands in-process, and
``tests/test_remote_store.py`` covers :func:`~emdkg.remote_store.bind_query` on its own. This
module adds what they do not reach:

* the API's other entry points (``sites``, ``resolve``, ``graph().neighbours``,
  ``graph().evidence_path``): only query texts the code itself holds reach the engine;
* ``emdkg sites / query / path / neighbours / load --graph / --endpoint`` as **real
  processes** (argv decoding, the error handler, exit codes);
* the web API of ``emdkg serve`` (``/api/queries/{name}?param=``, ``/ask/{name}``,
  ``/api/search``, ``/entity/…``, ``/figures/sites.svg``, ``/sparql`` with hostile query
  text and dataset IRIs): never a 5xx, and only known query texts reach the engine;
* ``emdkg load --graph IRI``: refused before any request, or used as exactly one IRI token
  in the count query (checked against a recording stub server);
* every URL option (``--endpoint``/``--store``/``--update``): an http(s) URL or a clean error;
* named queries over a **remote store** (a real Oxigraph server): the text sent is the file's
  text plus one ``VALUES`` row of IRIs, and the rows equal the embedded store's.

"No query-structure change" is checked the strongest way available: the query *text* the
engine receives is one the code holds (a named query file, or a constant), byte for byte.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from servers import FaultyProxy

from emdkg.errors import EmdkgError, QueryError, UnknownTermError
from emdkg.queries import get, names, run
from emdkg.resources import queries_dir
from emdkg.store import OxigraphStore
from emdkg.values import IRI

FRAGMENTS = [
    '"', "'", '"""', "{", "}", "} UNION {", " } ; DROP ALL ; #", "\n", "\r\n", "\t", ">", "<", "<>",
    "<https://w3id.org/emdkg/MultipleMyeloma>", "#", "?s", "$p", "\\", "\\u0022", ";", ".", "(", ")",
    "*", "SERVICE <http://127.0.0.1:9/>", "LOAD <file:///etc/passwd>", "FROM <file:///etc/passwd>",
    "file:///etc/passwd", "é", "多发性骨髓瘤", "💥", "\u200b", "multiple myeloma", "MM", "relapse",
    "emdkg:", "kb:", "doi:", "pmid:", "10.1038/", "http://", "urn:x", "^^", "@en", "_:b0", "%00", "%0d%0a",
    "../../etc/passwd", "' OR '1'='1", "${HOME}", "$(id)", "`id`", "%s%n",
]
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
hostile = st.one_of(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), _TEXT), min_size=1, max_size=5).map("".join),
    st.text(max_size=30),
)
# What can be put in a process's argv: no NUL, no lone surrogates.
argv_text = hostile.map(lambda s: "".join(c for c in s if c != "\x00" and not 0xD800 <= ord(c) <= 0xDFFF))

PARAMS = [(name, p.name) for name in names() for p in get(name).params]
BENIGN = ["multiple myeloma", "MM", "relapse", "skin", "blinatumomab", "VDCP", "no such thing at all", ""]


def file_text(name: str) -> str:
    return (queries_dir() / f"{name}.rq").read_bytes().decode("utf-8")


# --- recording what the embedded engine is asked ----------------------------------------------


class Recorder:
    """Wraps ``OxigraphStore._query`` (the one door to pyoxigraph) and records each query text."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.original = OxigraphStore._query

    def install(self) -> None:
        recorder = self

        def recording(store: OxigraphStore, query: str, bindings: Any) -> Any:
            recorder.texts.append(query)
            for value in (bindings or {}).values():
                assert value is None or not isinstance(value, str) or isinstance(value, IRI) or len(value) < 10_000
            return recorder.original(store, query, bindings)

        OxigraphStore._query = recording  # type: ignore[method-assign]

    def uninstall(self) -> None:
        OxigraphStore._query = self.original  # type: ignore[method-assign]

    def take(self) -> list[str]:
        texts, self.texts = self.texts, []
        return texts


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    r.install()
    try:
        yield r
    finally:
        r.uninstall()


@pytest.fixture(scope="module")
def kg(recorder: Recorder) -> Any:
    import emdkg

    return emdkg.load()


Operation = Callable[[Any, str], Any]

OPERATIONS: dict[str, Operation] = {
    "sites(disease)": lambda kg, text: kg.sites(text),
    "sites(phase)": lambda kg, text: kg.sites("multiple myeloma", text),
    "resolve": lambda kg, text: kg.resolve(text),
    "neighbours": lambda kg, text: kg.graph().neighbours(text),
    "evidence_path(from)": lambda kg, text: kg.graph().evidence_path(text, "acute lymphoblastic leukemia"),
    "evidence_path(to)": lambda kg, text: kg.graph().evidence_path("blinatumomab", text),
    **{f"query({n}, {p})": (lambda kg, text, n=n, p=p: kg.query(n, **{**get(n).example_params(), p: text}))
       for n, p in PARAMS},
}


@pytest.fixture(scope="module")
def allowed(kg: Any, recorder: Recorder) -> dict[str, set[str]]:
    """The query texts each operation sends for benign values: the only ones a hostile value may."""
    seen: dict[str, set[str]] = {}
    for name, operation in OPERATIONS.items():
        texts: set[str] = set()
        for value in BENIGN:
            try:
                operation(kg, value)
            except EmdkgError:
                pass
            texts.update(recorder.take())
        seen[name] = Allowed(texts | {file_text(n) for n in names()})
    return seen


@pytest.mark.parametrize("operation", list(OPERATIONS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile)
def test_api_entry_points_send_only_known_query_texts(
    kg: Any, recorder: Recorder, allowed: dict[str, set[str]], operation: str, text: str
) -> None:
    recorder.take()
    try:
        OPERATIONS[operation](kg, text)
    except (UnknownTermError, QueryError) as e:
        assert "\n" not in str(e)
    sent = recorder.take()
    unknown = [t for t in sent if t not in allowed[operation]]
    assert not unknown, f"a query text the code does not hold reached the engine: {unknown[0][:300]!r}"


# --- the command line as real processes ---------------------------------------------------------


def run_process(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emdkg", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "EMDKG_DEBUG": ""}, errors="surrogateescape")


def clean(done: subprocess.CompletedProcess[str], *, ok: tuple[int, ...] = (0, 2)) -> None:
    """Exit 0 with JSON, or a one-line error with exit 2; never a traceback or internal error."""
    context = f"{done.args[3:]} -> {done.returncode}: {done.stderr!r}"
    assert "Traceback" not in done.stderr + done.stdout, context
    assert done.returncode in ok, context
    if done.returncode == 0:
        json.loads(done.stdout)
    else:
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("emdkg: error: "), context


PROCESS = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@PROCESS
@given(disease=argv_text, phase=argv_text)
def test_sites_process(disease: str, phase: str) -> None:
    clean(run_process("sites", f"--disease={disease}", f"--phase={phase}", "--format", "json"))


@pytest.mark.slow
@PROCESS
@given(pair=st.sampled_from(PARAMS), value=argv_text)
def test_query_process(pair: tuple[str, str], value: str) -> None:
    name, param = pair
    args = ["query", name, "--format", "json"]
    for key, example in get(name).example_params().items():
        if key != param:
            args.append(f"--param={key}={example}")
    clean(run_process(*args, f"--param={param}={value}"))


@pytest.mark.slow
@PROCESS
@given(start=argv_text, end=argv_text)
def test_path_process(start: str, end: str) -> None:
    clean(run_process("path", "--format", "json", "--", start, end))


@pytest.mark.slow
@PROCESS
@given(entity=argv_text)
def test_neighbours_process(entity: str) -> None:
    clean(run_process("neighbours", "--format", "json", "--", entity))


@pytest.mark.slow
@PROCESS
@given(graph=argv_text)
def test_load_graph_process(graph: str) -> None:
    """A hostile --graph is refused before any request (the stub records none), or it is an IRI."""
    with FaultyProxy(None) as stub:
        done = run_process("load", f"--graph={graph}", "--timeout", "5",
                           "--store", stub.base_url + "/store", "--endpoint", stub.base_url + "/query")
        clean(done, ok=(2,))
        if stub.requests:
            count = stub.requests[0].form["query"][0]
            target = graph or re.search(r"GRAPH <([^>]*)>", count).group(1)  # "": the default graph
            assert count == f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{target}> {{ ?s ?p ?o }} }}"
        else:
            assert "not a valid absolute IRI" in done.stderr or "--graph" in done.stderr, done.stderr


@pytest.mark.slow
@PROCESS
@given(url=st.one_of(argv_text, st.sampled_from([
    "file:///etc/passwd", "gopher://127.0.0.1:9/", "http://[::1", "http://", "javascript:alert(1)",
    "http://127.0.0.1:9/\r\nX-Injected: 1", "ftp://127.0.0.1/", "//127.0.0.1:9/query", "http:///query",
])))
def test_endpoint_urls_process(url: str) -> None:
    """Every URL option: an http(s) URL, or a one-line error; nothing else is fetched."""
    clean(run_process("sites", "--disease=MM", f"--endpoint={url}", "--timeout", "2", "--format", "json"), ok=(2,))
    clean(run_process("load", f"--store={url}", f"--endpoint={url}", "--timeout", "2"), ok=(2,))


# --- URLs and --graph IRIs, in-process ----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(url=st.one_of(hostile, hostile.map(lambda s: "http://127.0.0.1:9/" + s), hostile.map(lambda s: "http://" + s)))
def test_check_url_accepts_only_http_urls(url: str) -> None:
    import httpx

    from emdkg.remote_store import check_url

    try:
        assert check_url(url, "--endpoint") == url
    except EmdkgError as e:
        assert e.message.startswith("--endpoint: ") and "\n" not in e.full_message
        return
    parsed = httpx.URL(url)
    assert parsed.scheme in ("http", "https") and parsed.host
    assert not any(c.isspace() or not c.isprintable() for c in url)


@settings(max_examples=60, deadline=None)
@example(graph="A:\x7f")
@example(graph="http://e.org/%")
@example(graph="http://e.org/> } ; DROP ALL #")
@given(graph=st.one_of(hostile, hostile.map(lambda s: "https://w3id.org/emdkg/" + s)))
def test_load_graph_iri_is_one_token(graph: str, kb_release_small: Any) -> None:
    from emdkg import release

    with FaultyProxy(None) as stub:
        try:
            release.load(stub.base_url + "/store", stub.base_url + "/query", update=stub.base_url + "/update",
                         graph=graph, release=kb_release_small, timeout=5)
        except QueryError:
            assert stub.requests == [], "an invalid graph IRI is refused before any request"
            return
        except EmdkgError as e:
            if not graph:  # no --graph: the release's owl:versionIRI (this one has none)
                assert "owl:versionIRI" in e.message and stub.requests == []
                return
            # else the stub answers nothing useful: the load fails after its first request
    assert stub.requests, graph
    count = stub.requests[0].form["query"][0]
    assert count == f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    ox.Store().query(count)  # one well-formed query: the IRI did not break out of its token
    assert len(re.findall(r"<[^>]*>", count)) == 1


@pytest.fixture(scope="module")
def kb_release_small() -> Any:
    from emdkg.release import ReleaseGraph

    return ReleaseGraph.from_ntriples(b'<https://w3id.org/emdkg/kb/x> <http://www.w3.org/2000/01/rdf-schema#label> "x" .\n')


# --- the web API of `emdkg serve` ------------------------------------------------------------------


class _SyncASGI(httpx.BaseTransport):
    """The real app (middleware, routing, worker pool) without a socket, for a sync client."""

    def __init__(self, app: Any) -> None:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.transport = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        async def send() -> httpx.Response:
            inner = httpx.Request(request.method, request.url, headers=request.headers, content=request.read())
            response = await self.transport.handle_async_request(inner)
            return httpx.Response(response.status_code, headers=response.headers, content=await response.aread())

        return asyncio.run_coroutine_threadsafe(send(), self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def web(kg: Any) -> Iterator[Any]:
    from emdkg.web.app import Settings, create_app

    app = create_app(kg, Settings(query_timeout=5, max_results=2000))
    with httpx.Client(transport=_SyncASGI(app), base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="module")
def web_allowed(web: Any, recorder: Recorder) -> frozenset[str]:
    """The query texts the pages and the API send for benign requests."""
    recorder.take()
    for name, param in PARAMS:
        for value in BENIGN:
            web.get(f"/api/queries/{name}", params={**get(name).example_params(), param: value})
            web.get(f"/ask/{name}", params={**get(name).example_params(), param: value})
    for value in BENIGN:
        web.get("/api/search", params={"q": value})
        web.get("/search", params={"q": value})
        web.get("/figures/sites.svg", params={"disease": value})
        web.get(f"/entity/{value}")
    web.get("/entity/emdkg:MultipleMyeloma")
    return Allowed(set(recorder.take()) | {file_text(n) for n in names()})


class Allowed(frozenset[str]):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"<{len(self)} allowed query texts>"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(pair=st.sampled_from(PARAMS), value=hostile, page=st.sampled_from(["/api/queries/", "/ask/"]))
def test_web_named_query_parameters(web: Any, recorder: Recorder, web_allowed: set[str],
                                    pair: tuple[str, str], value: str, page: str) -> None:
    name, param = pair
    recorder.take()
    response = web.get(page + name, params={**get(name).example_params(), param: value})
    assert response.status_code in (200, 400), (response.status_code, response.text[:300])
    if page.startswith("/api") and response.status_code == 400:
        body = response.json()
        assert body["error"] in ("unknown-term", "bad-parameters", "unknown-parameter") and "\n" not in body["message"]
    unknown = [t for t in recorder.take() if t not in web_allowed]
    assert not unknown, unknown[0][:300]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=hostile, where=st.sampled_from(["search", "api-search", "entity", "entity-iri", "figure", "param-name"]))
def test_web_other_parameters(web: Any, recorder: Recorder, web_allowed: set[str], value: str, where: str) -> None:
    recorder.take()
    if where == "search":
        response = web.get("/search", params={"q": value})
    elif where == "api-search":
        response = web.get("/api/search", params={"q": value})
    elif where == "entity":
        response = web.get("/entity/" + quote(value, safe=""))
    elif where == "entity-iri":
        response = web.get("/entity/", params={"iri": value})
    elif where == "figure":
        response = web.get("/figures/sites.svg", params={"disease": value})
    else:
        response = web.get("/api/queries/sites", params={"disease": "MM", value or "x": "1"})
    assert response.status_code < 500, (where, response.status_code, response.text[:300])
    unknown = [t for t in recorder.take() if t not in web_allowed]
    assert not unknown, unknown[0][:300]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@example(query="SELECT * WHERE { ?s ?p ?o } LIMIT 1", graph="http://e.org/%", method="GET")
@example(query="SELECT * WHERE { ?s ?p ?o } LIMIT 1", graph="a:\x7f", method="POST")
@example(query="SELECT * WHERE { ?s ?p ?o } LIMIT 1", graph="http://[x", method="GET")
@given(query=st.one_of(hostile, hostile.map(lambda s: f"SELECT * WHERE {{ ?s ?p {s} }} LIMIT 5")),
       graph=st.one_of(st.none(), hostile), method=st.sampled_from(["GET", "POST"]))
def test_sparql_endpoint_never_fails_with_5xx(web: Any, query: str, graph: str | None, method: str) -> None:
    params: dict[str, str] = {"query": query}
    if graph is not None:
        params["default-graph-uri"] = graph
    if method == "GET":
        response = web.get("/sparql", params=params)
    else:
        response = web.post("/sparql", data=params)
    assert response.status_code in (200, 400, 403, 406, 413, 422), (response.status_code, response.text[:300])
    if response.status_code != 200:
        assert response.json()["status"] == response.status_code


# --- named queries over a remote store -----------------------------------------------------------


@pytest.fixture(scope="module")
def remote(oxigraph_server: Any) -> Iterator[Any]:
    from servers import remote_store_for_files

    from emdkg.resources import bundled_rdf_files

    store = remote_store_for_files(oxigraph_server, bundled_rdf_files())
    sent: list[str] = []
    original = store._client.post

    def recording(url: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(kwargs["data"]["query"])
        return original(url, *args, **kwargs)

    store._client.post = recording
    store.sent = sent
    yield store
    store.close()


_VALUES_ROW = re.compile(r" VALUES \((?:\?\w+ ?)+\) \{ \((?:<[^<>\"{}|^`\\\x00-\x20]*> ?)+\) \}")


@pytest.mark.server
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(pair=st.sampled_from(PARAMS), value=hostile)
def test_remote_store_named_queries(remote: Any, kg: Any, pair: tuple[str, str], value: str) -> None:
    name, param = pair
    values = {**get(name).example_params(), param: value}
    remote.sent.clear()
    try:
        rows = run(remote, name, kg.terms, **values)
    except UnknownTermError:
        assert remote.sent == [], "nothing is sent for an unknown name"
        return
    (text,) = remote.sent
    rows_here = run(kg.store, name, kg.terms, **values)
    assert rows == rows_here, "the server answers as the embedded store"
    row = _VALUES_ROW.search(text)
    assert row is not None, text[:500]
    assert text[: row.start()] + text[row.end():] == file_text(name), "only one VALUES row of IRIs was added"
