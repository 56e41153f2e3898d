"""The remote store: safe bindings over the SPARQL protocol, same rows as embedded, one-line errors."""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emdkg.errors import QueryError, RemoteError
from emdkg.remote_store import RemoteStore, bind_query, query_form, sparql_term
from emdkg.store import load_files
from emdkg.values import IRI, BNode, LangString

# --- terms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (IRI("https://w3id.org/emdkg/Relapse"), "<https://w3id.org/emdkg/Relapse>"),
        ('say "hi"\n\\ bye', '"say \\"hi\\"\\n\\\\ bye"'),
        (LangString("myélome", "FR"), '"myélome"@fr'),
        ("\x00\x7f\t", '"\\u0000\\u007F\\t"'),
        (7, '"7"^^<http://www.w3.org/2001/XMLSchema#integer>'),
        (Decimal("12.50"), '"12.5"^^<http://www.w3.org/2001/XMLSchema#decimal>'),
        (True, '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'),
    ],
)
def test_sparql_term(value: Any, text: str) -> None:
    assert sparql_term(value) == text


@pytest.mark.parametrize(
    "value",
    [
        IRI("http://e.org/a> . ?s ?p ?o . <x"),
        IRI("http://e.org/a b"),
        IRI("http://e.org/{x}"),
        IRI("http://e.org/a\\u003E"),
        IRI("relative/iri"),
        LangString("x", 'en" } #'),
        BNode("b0"),
        "lone \ud800 surrogate",
        object(),
    ],
)
def test_values_that_cannot_be_one_term_are_refused(value: Any) -> None:
    with pytest.raises(QueryError):
        sparql_term(value)


# --- where the VALUES row goes ----------------------------------------------------------------

CASES = [
    # (query, bindings, expected)
    (
        "PREFIX e: <http://e.org/{}> # a { in a comment\nSELECT ?d (CONCAT(\"{\", ?d) AS ?x) WHERE { ?d e:p ?o }",
        {"d": IRI("http://e.org/a")},
        "PREFIX e: <http://e.org/{}> # a { in a comment\nSELECT ?d (CONCAT(\"{\", ?d) AS ?x) WHERE { VALUES (?d) { (<http://e.org/a>) } ?d e:p ?o }",
    ),
    (
        "SELECT ?s (EXISTS { ?s ?p 1 } AS ?e) { ?s ?p ?o }",
        {"s": IRI("http://e.org/a")},
        "SELECT ?s (EXISTS { ?s ?p 1 } AS ?e) { VALUES (?s) { (<http://e.org/a>) } ?s ?p ?o }",
    ),
    (
        "CONSTRUCT { ?s <http://e.org/q> ?o } WHERE { ?s ?p ?o }",
        {"s": IRI("http://e.org/a")},
        "CONSTRUCT { ?s <http://e.org/q> ?o } WHERE { VALUES (?s) { (<http://e.org/a>) } ?s ?p ?o }",
    ),
    (
        "ask{?s ?p ?o}",
        {"o": "x", "s": IRI("http://e.org/a")},
        'ask{ VALUES (?o ?s) { ("x" <http://e.org/a>) }?s ?p ?o}',
    ),
    (
        "SELECT * WHERE { ?s ?p ?o }",
        {"$p": IRI("http://e.org/p"), "o": None},
        "SELECT * WHERE { VALUES (?p) { (<http://e.org/p>) } ?s ?p ?o }",
    ),
    (
        "SELECT ?d (COUNT(*) AS ?n) WHERE { SELECT ?d WHERE { ?d ?p ?o } } GROUP BY ?d",
        {"d": IRI("http://e.org/a")},
        "SELECT ?d (COUNT(*) AS ?n) WHERE { VALUES (?d) { (<http://e.org/a>) } { SELECT ?d WHERE { ?d ?p ?o } } } GROUP BY ?d",
    ),
]


@pytest.mark.parametrize("query, bindings, expected", CASES)
def test_bind_query_places_one_values_row(query: str, bindings: dict[str, Any], expected: str) -> None:
    assert bind_query(query, bindings) == expected


def test_bind_query_refusals() -> None:
    with pytest.raises(QueryError, match="not in the SELECT projection"):
        bind_query("SELECT ?s WHERE { ?s ?p ?o }", {"o": 1})
    with pytest.raises(QueryError, match="full CONSTRUCT"):
        bind_query("CONSTRUCT WHERE { ?s ?p ?o }", {"o": 1})
    with pytest.raises(QueryError, match="variable name"):
        bind_query("SELECT * WHERE { ?s ?p ?o }", {"o) } } DROP ALL #": 1})
    assert bind_query("SELECT ?s WHERE { ?s ?p ?o }", {"o": None}) == "SELECT ?s WHERE { ?s ?p ?o }"


def test_query_form() -> None:
    assert query_form("# SELECT\nPREFIX a: <http://e.org/ASK> CONSTRUCT { } WHERE { }") == "CONSTRUCT"
    assert query_form("INSERT DATA { <a:b> <a:c> <a:d> }") is None


# --- hostile values cannot change the query's structure (hypothesis) ---------------------------

QUERY = """PREFIX e: <http://e.org/>
SELECT ?d ?label (COUNT(?x) AS ?n) WHERE {
  ?f e:disease ?d ; e:label ?label .
  OPTIONAL { ?f e:x ?x FILTER(?x != "}") }
  FILTER NOT EXISTS { ?f e:flag "{" }
}
GROUP BY ?d ?label ORDER BY ?label"""

# What RFC 3987 takes in a path (the engines refuse more than the IRIREF grammar does; invalid
# IRIs are refused before they reach a query, tested above): SPARQL punctuation included.
_IRI_CHARS = st.sampled_from(list("abcXYZ019-._~!$&'()*+,;=:@/éß多"))
hostile_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('"\'\\{}<>?$#.;,()\n\r\t\x00\x7fu0022 ')),
        st.characters(blacklist_categories=("Cs",)),  # lone surrogates: refused, tested below
    ),
    max_size=40,
)
hostile_value = st.one_of(
    hostile_text,
    st.builds(LangString, hostile_text, st.from_regex(r"[a-z]{2}(-[a-z0-9]{2,8})?", fullmatch=True)),
    st.builds(lambda tail: IRI("http://e.org/" + tail), st.text(alphabet=_IRI_CHARS, max_size=30)),
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)


def _algebra(query: str) -> tuple[Any, list[Any]]:
    """rdflib's algebra of ``query``, with the rows of its VALUES blocks taken out."""
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    algebra = prepareQuery(query).algebra
    rows: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, CompValue):
            if node.name == "values":
                rows.append(node["res"])
                node["res"] = "ROWS"
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(algebra)
    return algebra, rows


def _rdflib_term(value: Any) -> Any:
    from rdflib import Literal, URIRef

    from emdkg.rdflib_store import _rdflib_term as term

    result = term(value)
    if isinstance(result, Literal) and result.datatype is None and not result.language:
        return Literal(str(result))
    return result if not isinstance(result, URIRef) else URIRef(str(result))


# rdflib, as SPARQL 1.1 section 19.2 says, expands \uXXXX escapes in the whole query text before
# parsing, so a value holding a backslash, "u" and four hex digits reads back changed (never
# unescaped: the structure still holds). Oxigraph and Virtuoso read it unchanged (see the
# server test of the same).
_PREPROCESSED = re.compile(r"\\u[0-9a-f]{4}", re.IGNORECASE)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=hostile_value, label=hostile_value)
def test_hostile_values_only_change_the_values_row(d: Any, label: Any) -> None:
    placeholder, placeholder_rows = _algebra(bind_query(QUERY, {"d": IRI("http://e.org/a"), "label": "x"}))
    hostile, rows = _algebra(bind_query(QUERY, {"d": d, "label": label}))
    assert hostile == placeholder  # the same algebra apart from the VALUES row
    assert len(rows) == len(placeholder_rows) == 1 and len(rows[0]) == 1
    from rdflib import Variable

    row = rows[0][0]
    assert set(row) == {Variable("d"), Variable("label")}
    for name, value in (("d", d), ("label", label)):
        if isinstance(value, str) and _PREPROCESSED.search(value):
            continue
        assert row[Variable(name)] == _rdflib_term(value)


# --- errors of a server that misbehaves ---------------------------------------------------------


class _Stub:
    """A tiny HTTP server on 127.0.0.1 answering every POST with ``status`` after ``delay`` s."""

    def __init__(self, status: int = 200, body: bytes = b"{}", delay: float = 0.0, content_type: str = "application/json") -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(stub.delay)
                self.send_response(stub.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                self.wfile.write(stub.body)

        self.status, self.body, self.delay = status, body, delay
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    made: list[_Stub] = []

    def make(**kwargs: Any) -> _Stub:
        made.append(_Stub(**kwargs))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_timeout_is_a_one_line_remote_error(stub) -> None:
    server = stub(delay=3)
    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"no answer within 0.5 s \(timed out\)"):
        RemoteStore(server.url, timeout=0.5).select("SELECT * WHERE { ?s ?p ?o }")
    assert time.monotonic() - started < 2.5


def test_server_error_and_bad_query(stub) -> None:
    with pytest.raises(RemoteError, match="HTTP 500"):
        RemoteStore(stub(status=500, body=b"boom\nstack trace").url).select("SELECT * { ?s ?p ?o }")
    with pytest.raises(QueryError, match="HTTP 400 Bad Request: syntax error at 1:2"):
        RemoteStore(stub(status=400, body=b"syntax error at 1:2").url).select("SELECT * { ?s ?p ?o }")
    with pytest.raises(RemoteError, match="expected SPARQL JSON results"):
        RemoteStore(stub(body=b"<html>", content_type="text/html").url).select("SELECT * { ?s ?p ?o }")


def test_connection_refused() -> None:
    from emdkg.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/query"
    with pytest.raises(RemoteError, match="cannot connect to .*: connection refused"):
        RemoteStore(url, timeout=2).ask("ASK { ?s ?p ?o }")


def test_wrong_query_form_and_read_only() -> None:
    store = RemoteStore("http://127.0.0.1:9/query")
    with pytest.raises(QueryError, match="select\\(\\) needs a SELECT query"):
        store.select("ASK { ?s ?p ?o }")
    with pytest.raises(Exception, match="read-only"):
        store.load_bytes(b"", "turtle")
    with pytest.raises(Exception, match="not an http"):
        RemoteStore("ftp://example.org/sparql")


def test_json_results_become_neutral_values(stub) -> None:
    body = b"""{"head": {"vars": ["i", "b", "l", "t", "n", "u"]}, "results": {"bindings": [
      {"i": {"type": "uri", "value": "http://e.org/a"},
       "b": {"type": "bnode", "value": "nodeID://b1"},
       "l": {"type": "literal", "value": "x", "xml:lang": "EN"},
       "t": {"type": "typed-literal", "value": "1.50", "datatype": "http://www.w3.org/2001/XMLSchema#decimal"},
       "n": {"type": "literal", "value": "042", "datatype": "http://www.w3.org/2001/XMLSchema#integer"}}]}}"""
    rows = RemoteStore(stub(body=body).url).select("SELECT * { ?s ?p ?o }")
    assert rows.variables == ("i", "b", "l", "t", "n", "u")
    assert rows == [{"i": "http://e.org/a", "b": "nodeID://b1", "l": "x", "t": Decimal("1.5"), "n": 42, "u": None}]
    row = rows[0]
    assert type(row["i"]) is IRI and type(row["b"]) is BNode and row["l"].lang == "en"


# --- against a live Oxigraph server ----------------------------------------------------------------


@pytest.mark.server
def test_store_parity_queries_on_oxigraph_server(oxigraph_server, tmp_path) -> None:
    """The store layer's own parity queries give the same rows over HTTP as embedded."""
    from servers import remote_store_for_files
    from test_store import GRAPH_TRIG, KB_TTL, PARITY_QUERIES, normalised

    from emdkg.values import split_sorted

    (tmp_path / "kb.ttl").write_text(KB_TTL)
    (tmp_path / "release.trig").write_text(GRAPH_TRIG)
    paths = [tmp_path / "kb.ttl", tmp_path / "release.trig"]
    embedded = load_files(paths)
    remote = remote_store_for_files(oxigraph_server, paths)
    assert len(remote) == len(embedded)
    for name, query in PARITY_QUERIES.items():
        rows = {"remote": remote.select(query), "embedded": embedded.select(query)}
        assert rows["remote"].variables == rows["embedded"].variables
        if name == "aggregate":  # GROUP_CONCAT order is up to the engine
            for each in rows.values():
                for row in each:
                    row["sites"] = split_sorted(row["sites"])
        assert normalised(rows["remote"]) == normalised(rows["embedded"]), name
    assert remote.ask("ASK { ?s ?p ?o }")
    construct = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
    from emdkg.release import ReleaseGraph, ntriples

    assert ntriples(ReleaseGraph.from_ntriples(remote.construct(construct))) == ntriples(
        ReleaseGraph.from_ntriples(embedded.construct(construct))
    )


@pytest.mark.server
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=hostile_text, lang=st.sampled_from(["en", "zh", "en-gb"]))
def test_hostile_literal_round_trips_on_oxigraph_server(oxigraph_server, text: str, lang: str) -> None:
    """A stored literal with hostile text is found by binding exactly that text, and only it."""
    import uuid

    from servers import put_graph

    from emdkg.release import ReleaseGraph, ntriples
    from emdkg.store import _ox_term

    import pyoxigraph as ox

    graph = f"urn:emdkg:test:{uuid.uuid4()}"
    subject = ox.NamedNode("http://e.org/s")
    triples = [
        ox.Triple(subject, ox.NamedNode("http://e.org/p"), _ox_term(text)),
        ox.Triple(subject, ox.NamedNode("http://e.org/p"), _ox_term(LangString(text, lang))),
        ox.Triple(subject, ox.NamedNode("http://e.org/p"), ox.Literal(text + "!")),
    ]
    put_graph(oxigraph_server, graph, ntriples(ReleaseGraph.from_quads(triples)))
    store = RemoteStore(oxigraph_server.query_url_for(graph), timeout=10)
    query = "SELECT ?o ?s WHERE { ?s <http://e.org/p> ?o }"
    assert store.select(query, {"o": text}) == [{"o": text, "s": "http://e.org/s"}]
    rows = store.select(query, {"o": LangString(text, lang)})
    assert rows == [{"o": text, "s": "http://e.org/s"}] and rows[0]["o"].lang == lang


# --- the named queries on Virtuoso ----------------------------------------------------------------

#: Named queries whose unchanged text loses rows on Virtuoso 7.2 (its transitive-path evaluation
#: of rdfs:subClassOf* joined with other patterns drops solutions; `prognosis` loses them only
#: after other queries ran on the same server). For these the test still asserts that Virtuoso
#: never answers about a subject (a row's first column) the embedded store does not: missing
#: rows are Virtuoso's, foreign ones would be ours.
VIRTUOSO_LOSES_ROWS = frozenset(
    ("evidence", "incidence", "prognosis", "programmes", "regimen-components", "sites",
     "therapies", "treatment-phases")
)


@pytest.fixture(scope="module")
def virtuoso_release(virtuoso_server, kb_release):
    from emdkg.release import load

    result = load(release=kb_release, **virtuoso_server.load_options())
    return RemoteStore(virtuoso_server.query_url_for(result.graph), timeout=30)


def _named_query_names():
    from emdkg.queries import names

    return names()


@pytest.mark.server
@pytest.mark.parametrize("name", _named_query_names())
def test_named_query_unchanged_on_virtuoso(virtuoso_release, kb_release, name: str) -> None:
    """The query text unchanged; its parameters resolved by the embedded index (see below)."""
    from test_compliance import normalised

    from emdkg.queries import bindings_for, get, shape_rows
    from emdkg.release import ntriples
    from emdkg.store import OxigraphStore
    from emdkg.terms import index_for

    embedded = OxigraphStore()  # exactly what was loaded into Virtuoso
    embedded.load_bytes(ntriples(kb_release), "ntriples")
    query = get(name)
    bindings = bindings_for(embedded, query, query.example_params(), index_for(embedded))
    expected = normalised(shape_rows(query, embedded.select(query.text, bindings)))
    rows = normalised(shape_rows(query, virtuoso_release.select(query.text, bindings)))
    if name in VIRTUOSO_LOSES_ROWS:
        # rows that aggregate fewer solutions differ in their lists, so compare what a row is about
        # (its first column: the site, the therapy, the regimen...)
        known = {repr(row[0]) for row in expected}
        assert rows == [] or {repr(row[0]) for row in rows} <= known, (
            "Virtuoso answered about something the embedded store does not know"
        )
    else:
        assert rows == expected


@pytest.mark.server
def test_term_index_query_is_refused_by_virtuoso(virtuoso_release) -> None:
    """Names resolve through one query with rdfs:subClassOf* open at both ends, which Virtuoso
    refuses ("transitive start not given"): over Virtuoso, give parameters as IRIs or CURIEs
    resolved elsewhere, or use Oxigraph server."""
    from emdkg.terms import INDEX_QUERY

    with pytest.raises(RemoteError, match="transitive start not given"):
        virtuoso_release.select(INDEX_QUERY)


# --- emdkg.connect() and --endpoint ------------------------------------------------------------


@pytest.mark.server
def test_connect_gives_the_same_api_over_http(store_oxigraph_server) -> None:
    import emdkg

    kg = emdkg.connect(store_oxigraph_server.url, timeout=10)
    assert kg.backend == "remote"
    local = emdkg.load()
    assert kg.sites("multiple myeloma", "relapse") == local.sites("multiple myeloma", "relapse")
    assert kg.query("incidence", disease="MM") == local.query("incidence", disease="MM")
    assert kg.resolve("ALL").label == "acute lymphoblastic leukemia"


@pytest.mark.server
@pytest.mark.parametrize(
    "args",
    [
        ["sites", "--disease", "multiple myeloma", "--phase", "relapse", "--format", "json"],
        ["query", "therapies", "--param", "disease=ALL", "--format", "csv"],
        ["sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?s a ?c }", "--format", "csv"],
    ],
)
def test_query_commands_take_endpoint(store_oxigraph_server, cli, args: list[str]) -> None:
    local = cli(*args)
    remote = cli(*args, "--endpoint", store_oxigraph_server.url, "--timeout", "10")
    assert remote.exit_code == local.exit_code == 0, remote.stderr
    assert remote.stdout == local.stdout


def test_endpoint_option_errors(stub, cli) -> None:
    slow = stub(delay=3)
    result = cli("sites", "--disease", "MM", "--endpoint", slow.url, "--timeout", "0.5")
    assert result.exit_code == 2
    assert result.stderr_lines == [f"emdkg: error: {slow.url}: no answer within 0.5 s (timed out)"]
    result = cli("sites", "--disease", "MM", "--endpoint", slow.url, "--data", "x.ttl")
    assert result.exit_code == 2 and "cannot be combined with --data" in result.stderr
    result = cli("sites", "--disease", "MM", "--timeout", "3")
    assert result.exit_code == 2 and "--timeout needs --endpoint" in result.stderr


def test_auto_auth_answers_a_basic_challenge() -> None:
    """Servers other than Virtuoso ask for Basic: the first 401 decides the scheme."""
    import base64

    seen: list[str | None] = []
    expected = "Basic " + base64.b64encode(b"u:p").decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.headers.get("Authorization"))
            ok = self.headers.get("Authorization") == expected
            body = b'{"head": {}, "boolean": true}' if ok else b""
            self.send_response(200 if ok else 401)
            if not ok:
                self.send_header("WWW-Authenticate", 'Basic realm="sparql"')
            self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sparql"
        store = RemoteStore(url, user="u", password="p")
        assert store.ask("ASK {}") and store.ask("ASK {}")
        assert seen == [None, expected, expected]  # one challenge, then Basic up front
        with pytest.raises(RemoteError, match="HTTP 401 Unauthorized: authentication failed"):
            RemoteStore(url, user="u", password="wrong").ask("ASK {}")
    finally:
        server.shutdown()
        server.server_close()
