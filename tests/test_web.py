"""The web app over HTTP: the SPARQL 1.1 Protocol endpoint, its limits, the JSON API, the pages.

Requests go through httpx to the real Starlette app (``httpx.ASGITransport``: the same
middleware, routing and worker pool as under uvicorn, without a socket). The live server and a
real browser are in ``test_browser.py``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pyoxigraph as ox
import pytest

import emdkg
from emdkg.web.app import Settings, create_app

EMDKG = "https://w3id.org/emdkg/"
SITES_RELAPSE = """PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?site ?label WHERE {
  ?f a emdkg:SiteInvolvementFinding ; emdkg:disease emdkg:MultipleMyeloma ;
     emdkg:diseasePhase emdkg:Relapse ; emdkg:site ?site .
  ?site rdfs:label ?label . FILTER(lang(?label) = "en")
} ORDER BY ?label"""
RELAPSE_SITES = ["breast", "central nervous system", "kidney", "liver", "lymph node", "pericardium", "pleura"]
# 25 million solutions, produced lazily: stopped by the deadline or the result-size limit.
HUGE = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f }"
# An aggregate over a cross product of 30 million solutions, whatever the data: evaluated inside
# one pyoxigraph call, so it cannot be interrupted; about 3 s of work.
SLOW_AGGREGATE = (
    "SELECT (COUNT(*) AS ?n) WHERE { "
    + " ".join(f"VALUES ?v{i} {{ 0 1 2 3 4 5 6 7 8 9 }}" for i in range(7))
    + " VALUES ?w { 0 1 2 } }"
)


@pytest.fixture(scope="module")
def kg() -> Any:
    return emdkg.load()


def client_for(kg: Any, **settings: Any) -> httpx.Client:
    app = create_app(kg, Settings(**settings))
    return httpx.Client(transport=_SyncASGI(app), base_url="http://testserver")


class _SyncASGI(httpx.BaseTransport):
    """httpx's ASGITransport is async-only; run each request on a private event loop thread."""

    def __init__(self, app: Any) -> None:
        import threading

        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.transport = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            body = request.read()
            async_request = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            response = await self.transport.handle_async_request(async_request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run_coroutine_threadsafe(send(), self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def client(kg: Any) -> Iterator[httpx.Client]:
    with client_for(kg) as c:
        yield c


def wait_idle(app_client: httpx.Client, timeout: float = 120) -> None:
    """Wait until no abandoned query thread is still running (so tests leave no CPU burning)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app_client.get("/healthz").json()["abandoned_now"] == 0:
            return
        time.sleep(0.1)


# --- the protocol: GET, POST form, POST direct -----------------------------------------------


def test_get_query_json(client: httpx.Client) -> None:
    r = client.get("/sparql", params={"query": SITES_RELAPSE}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/sparql-results+json"
    body = r.json()
    assert body["head"]["vars"] == ["site", "label"]
    labels = [b["label"]["value"] for b in body["results"]["bindings"]]
    assert labels == RELAPSE_SITES
    assert body["results"]["bindings"][0]["label"]["xml:lang"] == "en"
    assert body["results"]["bindings"][0]["site"] == {"type": "uri", "value": EMDKG + "Breast"}


def test_post_form_and_direct_agree(client: httpx.Client) -> None:
    form = client.post("/sparql", data={"query": SITES_RELAPSE}, headers={"Accept": "application/sparql-results+json"})
    direct = client.post(
        "/sparql",
        content=SITES_RELAPSE.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
    )
    assert form.status_code == direct.status_code == 200
    assert form.json() == direct.json()


def test_results_parse_as_standard_formats(client: httpx.Client) -> None:
    """Every result format is read back by pyoxigraph's own parser: the same solutions."""
    expected = None
    for mime, fmt in [
        ("application/sparql-results+json", ox.QueryResultsFormat.JSON),
        ("application/sparql-results+xml", ox.QueryResultsFormat.XML),
        ("text/csv", ox.QueryResultsFormat.CSV),
        ("text/tab-separated-values", ox.QueryResultsFormat.TSV),
    ]:
        r = client.get("/sparql", params={"query": SITES_RELAPSE}, headers={"Accept": mime})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].split(";")[0] == mime
        if fmt == ox.QueryResultsFormat.CSV:  # lossy by design: pyoxigraph does not read it back
            rows = list(csv.reader(io.StringIO(r.text)))
            assert rows[0] == ["site", "label"]
            values = [tuple(row) for row in rows[1:]]
        else:
            solutions = ox.parse_query_results(r.content, format=fmt)
            values = [(s["site"].value, s["label"].value) for s in solutions]
        if expected is None:
            expected = values
        assert values == expected
    assert [label for _, label in expected] == RELAPSE_SITES


def test_csv_and_tsv_details(client: httpx.Client) -> None:
    query = 'SELECT ?x ?y WHERE { VALUES (?x ?y) { ("a, \\"b\\""@en 3) (<https://e.org/i> UNDEF) } }'
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.text.endswith("\r\n")
    assert list(csv.reader(io.StringIO(r.text))) == [["x", "y"], ['a, "b"', "3"], ["https://e.org/i", ""]]
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "text/tab-separated-values"})
    assert r.text.splitlines() == [
        "?x\t?y",
        '"a, \\"b\\""@en\t"3"^^<http://www.w3.org/2001/XMLSchema#integer>',
        "<https://e.org/i>\t",
    ]


def test_ask_json_and_xml(client: httpx.Client) -> None:
    ask = "ASK { <https://w3id.org/emdkg/MultipleMyeloma> ?p ?o }"
    assert client.get("/sparql", params={"query": ask}).json() == {"head": {}, "boolean": True}
    r = client.get("/sparql", params={"query": ask}, headers={"Accept": "application/sparql-results+xml"})
    root = ET.fromstring(r.content)
    assert root.find("{http://www.w3.org/2005/sparql-results#}boolean").text == "true"
    r = client.get("/sparql", params={"query": ask}, headers={"Accept": "text/csv"})
    assert r.status_code == 406
    assert r.json()["error"] == "not-acceptable"


@pytest.mark.parametrize(
    ("accept", "mime", "fmt"),
    [
        ("text/turtle", "text/turtle", ox.RdfFormat.TURTLE),
        ("application/n-triples", "application/n-triples", ox.RdfFormat.N_TRIPLES),
        ("application/ld+json", "application/ld+json", ox.RdfFormat.JSON_LD),
        ("*/*", "text/turtle", ox.RdfFormat.TURTLE),
        (None, "text/turtle", ox.RdfFormat.TURTLE),
    ],
)
def test_construct_and_describe_formats(client: httpx.Client, accept: str | None, mime: str, fmt: Any) -> None:
    headers = {"Accept": accept} if accept else {}
    for query in (
        "DESCRIBE <https://w3id.org/emdkg/Pleura>",
        "CONSTRUCT { <https://w3id.org/emdkg/Pleura> ?p ?o } WHERE { <https://w3id.org/emdkg/Pleura> ?p ?o }",
    ):
        r = client.post("/sparql", data={"query": query}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].split(";")[0] == mime
        triples = list(ox.parse(r.content, format=fmt))
        assert ox.Literal("pleura", language="en") in {t.object for t in triples}


def test_content_negotiation_q_values(client: httpx.Client) -> None:
    accept = "text/csv;q=0.4, application/sparql-results+xml;q=0.9, */*;q=0.1"
    r = client.get("/sparql", params={"query": SITES_RELAPSE}, headers={"Accept": accept})
    assert r.headers["content-type"] == "application/sparql-results+xml"
    r = client.get("/sparql", params={"query": SITES_RELAPSE}, headers={"Accept": "application/json"})
    assert r.headers["content-type"] == "application/sparql-results+json"
    r = client.get("/sparql", params={"query": SITES_RELAPSE}, headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert "text/csv" in r.json()["message"]
    r = client.get("/sparql", params={"query": SITES_RELAPSE, "format": "tsv"})
    assert r.headers["content-type"].startswith("text/tab-separated-values")


def test_answers_are_cached_and_identical(kg: Any) -> None:
    with client_for(kg) as c:
        first = c.get("/sparql", params={"query": SITES_RELAPSE})
        second = c.get("/sparql", params={"query": SITES_RELAPSE})
        assert first.headers["x-emdkg-cache"] == "miss"
        assert second.headers["x-emdkg-cache"] == "hit"
        assert first.content == second.content
        # Another format of the same query is another answer.
        csv_answer = c.get("/sparql", params={"query": SITES_RELAPSE}, headers={"Accept": "text/csv"})
        assert csv_answer.headers["x-emdkg-cache"] == "miss"
    with client_for(kg, cache_entries=0) as c:
        c.get("/sparql", params={"query": SITES_RELAPSE})
        assert c.get("/sparql", params={"query": SITES_RELAPSE}).headers["x-emdkg-cache"] == "miss"


# --- read-only, refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"method": "POST", "data": {"update": "DROP ALL"}},
        {"method": "POST", "data": {"query": "INSERT DATA { <https://e.org/a> <https://e.org/b> <https://e.org/c> }"}},
        {"method": "POST", "data": {"query": "delete where { ?s ?p ?o }"}},
        {"method": "POST", "data": {"query": "LOAD <file:///etc/passwd>"}},
        {"method": "POST", "data": {"query": "CLEAR DEFAULT"}},
        {"method": "POST", "content": b"DROP ALL", "headers": {"Content-Type": "application/sparql-update"}},
        {"method": "POST", "content": b"INSERT DATA { <a:b> <a:c> <a:d> }", "headers": {"Content-Type": "application/sparql-query"}},
        {"method": "GET", "params": {"update": "DROP ALL"}},
        {"method": "GET", "params": {"query": "SELECT * WHERE { ?s ?p ?o } ; DELETE WHERE { ?s ?p ?o }"}},
    ],
)
def test_updates_are_forbidden(kg: Any, request_kwargs: dict[str, Any]) -> None:
    with client_for(kg) as c:
        before = c.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).json()
        r = c.request(url="/sparql", **request_kwargs)
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "update-forbidden"
        assert "read-only" in r.json()["message"]
        after = c.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).json()
        assert before == after


def test_update_keywords_inside_strings_and_iris_are_not_updates(client: httpx.Client) -> None:
    query = 'SELECT ?x WHERE { BIND("DROP ALL; INSERT DATA {} SERVICE" AS ?x) FILTER(?x != <https://e.org/DELETE>) }'
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 200, r.text
    assert r.json()["results"]["bindings"][0]["x"]["value"].startswith("DROP ALL")


def test_service_is_refused_unless_allowed(kg: Any) -> None:
    query = "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    with client_for(kg) as c:
        r = c.get("/sparql", params={"query": query})
        assert r.status_code == 403
        assert r.json()["error"] == "service-forbidden"
        assert "--allow-service" in r.json()["message"]
        lower = c.get("/sparql", params={"query": query.replace("SERVICE", "sErViCe")})
        assert lower.status_code == 403
    with client_for(kg, allow_service=True) as c:
        r = c.get("/sparql", params={"query": query})
        # Allowed: the query runs (and fails to reach the closed port), it is not refused.
        assert r.json().get("error") != "service-forbidden"


@pytest.mark.parametrize(
    "params",
    [
        {"query": "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }"},
        {"query": "SELECT * FROM NAMED <FILE:/etc/shadow> WHERE { GRAPH ?g { ?s ?p ?o } }"},
        {"query": "BASE <file:///etc/> SELECT * FROM <passwd> WHERE { ?s ?p ?o }"},
        {"query": "PREFIX f: <file:///etc/> SELECT * FROM f:passwd WHERE { ?s ?p ?o }"},
        {"query": "SELECT * WHERE { ?s ?p ?o }", "default-graph-uri": "file:///etc/passwd"},
        {"query": "SELECT * WHERE { ?s ?p ?o }", "named-graph-uri": "file:///etc/passwd"},
    ],
)
def test_file_iris_are_refused(client: httpx.Client, params: dict[str, str]) -> None:
    r = client.get("/sparql", params=params)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "file-iri-forbidden"


def test_protocol_errors(client: httpx.Client) -> None:
    r = client.get("/sparql", headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "missing-query"
    r = client.get("/sparql", params={"query": "SELEKT * WHERE { ?s ?p ?o }"})
    assert r.status_code == 400 and r.json()["error"] == "syntax-error"
    r = client.get("/sparql", params=[("query", "ASK {}"), ("query", "ASK {}")])
    assert r.status_code == 400 and r.json()["error"] == "duplicate-query"
    r = client.post("/sparql", content=b"ASK {}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = client.put("/sparql", content=b"ASK {}")
    assert r.status_code == 405
    r = client.post("/sparql", content=b"\xff\xfe", headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 400 and r.json()["error"] == "bad-encoding"
    # A person who opens the endpoint in a browser is sent to the query page.
    r = client.get("/sparql", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/query"


def test_dataset_parameters(client: httpx.Client) -> None:
    # The bundled data is in the default graph: naming another graph as the default leaves none.
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    r = client.get("/sparql", params={"query": query, "default-graph-uri": "https://e.org/empty"})
    assert r.status_code == 200
    assert r.json()["results"]["bindings"][0]["n"]["value"] == "0"
    r = client.get("/sparql", params={"query": query, "default-graph-uri": "not an iri"})
    assert r.status_code == 400


# --- limits ----------------------------------------------------------------------------------


def test_result_size_limit_is_an_error_not_a_truncation(kg: Any) -> None:
    with client_for(kg, max_results=5) as c:
        r = c.get("/sparql", params={"query": SITES_RELAPSE})  # 7 rows
        assert r.status_code == 422
        body = r.json()
        assert body["error"] == "too-many-results"
        assert body["limit"] == 5
        assert "LIMIT 5" in body["message"]
        ok = c.get("/sparql", params={"query": SITES_RELAPSE + " LIMIT 5"})
        assert ok.status_code == 200 and len(ok.json()["results"]["bindings"]) == 5
        r = c.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
        assert r.status_code == 422 and "triples" in r.json()["message"]
        # The default limit stops a huge lazy result quickly too.
    with client_for(kg, max_results=1000) as c:
        start = time.monotonic()
        r = c.get("/sparql", params={"query": HUGE})
        assert r.status_code == 422
        assert time.monotonic() - start < 5


def test_time_limit_stops_a_long_iteration(kg: Any) -> None:
    with client_for(kg, query_timeout=0.5, max_results=10**9) as c:
        start = time.monotonic()
        r = c.get("/sparql", params={"query": HUGE})
        elapsed = time.monotonic() - start
        assert r.status_code == 503
        body = r.json()
        assert body["error"] == "timeout"
        assert body["limit_seconds"] == 0.5
        assert "time limit" in body["message"]
        assert r.headers["retry-after"] == "1"
        assert elapsed < 3
        wait_idle(c, timeout=10)  # the worker stopped at the next solution
        assert c.get("/healthz").json()["abandoned_now"] == 0


def test_slow_uninterruptible_query_does_not_hang_the_pool(kg: Any) -> None:
    """A query pyoxigraph cannot interrupt gets its 503 on time; other queries still run."""
    app = create_app(kg, Settings(query_timeout=0.3, max_concurrent=1, max_abandoned=1))
    transport = httpx.ASGITransport(app=app)

    async def scenario() -> tuple[httpx.Response, httpx.Response, float, float]:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            start = time.monotonic()
            slow = asyncio.create_task(c.get("/sparql", params={"query": SLOW_AGGREGATE}))
            await asyncio.sleep(0.05)
            slow_response = await slow
            slow_elapsed = time.monotonic() - start
            # The slow query's thread is still counting; the next query is answered anyway.
            assert app.state.runner.abandoned == 1
            fast_start = time.monotonic()
            fast = await c.get("/sparql", params={"query": SITES_RELAPSE})
            fast_elapsed = time.monotonic() - fast_start
            for _ in range(1200):  # leave no thread burning CPU after the test
                if app.state.runner.abandoned == 0:
                    break
                await asyncio.sleep(0.1)
            return slow_response, fast, slow_elapsed, fast_elapsed

    slow, fast, slow_elapsed, fast_elapsed = asyncio.run(scenario())
    assert slow.status_code == 503 and slow.json()["error"] == "timeout"
    assert slow_elapsed < 2
    assert fast.status_code == 200
    assert [b["label"]["value"] for b in fast.json()["results"]["bindings"]] == RELAPSE_SITES
    assert fast_elapsed < 2
    assert app.state.runner.stats["abandoned"] == 1


def test_busy_when_every_slot_is_held(kg: Any) -> None:
    """With no slot free (and no room to abandon), a query waits its time limit, then 503 busy."""
    app = create_app(kg, Settings(query_timeout=0.3, max_concurrent=1, max_abandoned=0))
    transport = httpx.ASGITransport(app=app)

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            slow = await c.get("/sparql", params={"query": SLOW_AGGREGATE})
            blocked = await c.get("/sparql", params={"query": SITES_RELAPSE})
            for _ in range(1200):
                if app.state.runner._semaphore()._value == 1:  # noqa: SLF001 - the slot came back
                    break
                await asyncio.sleep(0.1)
            return slow, blocked

    slow, blocked = asyncio.run(scenario())
    assert slow.json()["error"] == "timeout"
    assert blocked.status_code == 503
    assert blocked.json()["error"] == "busy"


def test_request_body_limit(kg: Any) -> None:
    with client_for(kg, max_body=200) as c:
        long_query = "SELECT * WHERE { ?s ?p ?o } " + "#" * 500
        r = c.post("/sparql", data={"query": long_query})
        assert r.status_code == 413
        assert r.json()["error"] == "request-too-large"
        r = c.get("/sparql", params={"query": long_query})
        assert r.status_code == 413
        assert c.post("/sparql", data={"query": "ASK {}"}).status_code == 200


# --- the named queries as JSON ---------------------------------------------------------------


def test_api_lists_the_named_queries(client: httpx.Client) -> None:
    r = client.get("/api/queries")
    assert r.status_code == 200
    queries = {q["name"]: q for q in r.json()["queries"]}
    assert {"sites", "incidence", "therapies"} <= set(queries)
    assert [p["name"] for p in queries["sites"]["params"]][:2] == ["disease", "phase"]
    assert queries["sites"]["summary"]


def test_api_named_query_rows_params_and_sources(client: httpx.Client) -> None:
    r = client.get("/api/queries/sites", params={"disease": "multiple myeloma", "phase": "relapse"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "sites"
    assert body["params"]["disease"]["iri"] == EMDKG + "MultipleMyeloma"
    assert body["params"]["disease"]["label"] == "multiple myeloma"
    assert body["params"]["phase"]["iri"] == EMDKG + "Relapse"
    sites = sorted(row["site"] for row in body["rows"])
    assert {"pleura", "pericardium"} <= set(sites)
    assert "doi:10.1038/s41408-022-00643-3" in body["sources"]
    assert body["count"] == len(body["rows"])
    json.dumps(body)  # plain JSON all the way down


def test_api_named_query_resolves_synonyms_and_curies(client: httpx.Client) -> None:
    by_label = client.get("/api/queries/sites", params={"disease": "multiple myeloma", "phase": "relapse"}).json()
    by_curie = client.get("/api/queries/sites", params={"disease": "MONDO:0009693", "phase": "emdkg:Relapse"}).json()
    by_synonym = client.get("/api/queries/sites", params={"disease": "MM", "phase": "relapsed"}).json()
    assert by_label["rows"] == by_curie["rows"] == by_synonym["rows"]


def test_api_unknown_names_get_suggestions(client: httpx.Client) -> None:
    r = client.get("/api/queries/sites", params={"disease": "multiple myelom"})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "unknown-term"
    assert "multiple myeloma" in body["suggestions"]
    assert body["parameter"] == "disease"
    r = client.get("/api/queries/sites", params={"disease": "multiple myeloma", "phaze": "relapse"})
    assert r.status_code == 400
    assert r.json()["error"] == "unknown-parameter"
    assert r.json()["suggestions"] == ["phase"]
    r = client.get("/api/queries/site")
    assert r.status_code == 404
    assert "sites" in r.json()["suggestions"]


def test_api_hostile_parameter_is_a_clean_error(client: httpx.Client) -> None:
    r = client.get("/api/queries/sites", params={"disease": '"} UNION { ?s ?p ?o } #', "phase": "relapse"})
    assert r.status_code == 400
    assert r.json()["error"] == "unknown-term"


def test_api_search(client: httpx.Client) -> None:
    r = client.get("/api/search", params={"q": "myeloma"})
    assert r.status_code == 200
    results = r.json()["results"]
    assert results[0]["curie"] == "emdkg:MultipleMyeloma"
    assert results[0]["href"] == "/entity/emdkg:MultipleMyeloma"


# --- pages -----------------------------------------------------------------------------------


def test_home_page_lists_the_questions(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Sites at relapse of multiple myeloma" in html
    assert 'href="/ask/sites?disease=multiple+myeloma&amp;phase=relapse"' in html
    assert "Incidence of EMD in multiple myeloma" in html and "Therapies for ALL" in html
    assert 'href="/errors"' in html
    # No asset from the internet, and a policy that forbids them.
    assert "http://" not in html.split("<main")[0].replace("http://www.w3.org", "")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp


def test_every_example_on_the_home_page_answers(client: httpx.Client) -> None:
    from emdkg.web.pages import EXAMPLES

    known = {q["name"] for q in client.get("/api/queries").json()["queries"]}
    for example in EXAMPLES:
        assert example.query in known, example
        r = client.get(example.href)
        assert r.status_code == 200, (example, r.text[-500:])
        assert "results-table" in r.text or "No rows" in r.text


def test_named_query_page(client: httpx.Client) -> None:
    r = client.get("/ask/sites", params={"disease": "multiple myeloma", "phase": "relapse"})
    assert r.status_code == 200
    assert "pleura" in r.text and "pericardium" in r.text
    assert "https://doi.org/10.1038/s41408-022-00643-3" in r.text
    r = client.get("/ask/sites", params={"disease": "multiple myelom"})
    assert r.status_code == 400
    assert "did you mean" in r.text.lower()


def test_entity_page_of_a_disease(client: httpx.Client) -> None:
    r = client.get("/entity/emdkg:MultipleMyeloma")
    assert r.status_code == 200
    html = r.text
    assert "<h1>multiple myeloma" in html
    # Findings grouped by phase, each with quote, evidence code label, grade and the DOI.
    for phase in ("at diagnosis", "relapse", "phase not stated"):
        assert f'data-phase="{phase}"' in html
    assert "“At diagnosis, EMD is typically found in skin and soft tissues" in html
    assert "author statement supported by traceable reference used in manual assertion" in html
    assert "high-grade evidence" in html
    assert 'href="https://doi.org/10.1038/s41408-022-00643-3"' in html
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/35314675/"' in html
    # The sites x phase figure, drawn on the server.
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="heatmap"' in html
    assert 'data-site="pleura" data-phase="relapse"' in html


@pytest.mark.parametrize(
    ("ref", "label"),
    [
        ("emdkg:Pleura", "pleura"),  # a site
        ("emdkg:blinatumomab", "blinatumomab"),  # a therapy
        ("kb:blade-2022", "Bladé et al. 2022"),  # a publication
        ("emdkg:Relapse", "relapse"),  # a phase
    ],
)
def test_entity_pages(client: httpx.Client, ref: str, label: str) -> None:
    r = client.get(f"/entity/{ref}")
    assert r.status_code == 200, r.text[-300:]
    assert label in r.text
    assert 'class="finding' in r.text


def test_entity_references_redirect_to_the_canonical_page(client: httpx.Client) -> None:
    for ref in ("MultipleMyeloma", "MONDO:0009693", "https://w3id.org/emdkg/MultipleMyeloma", "multiple myeloma"):
        r = client.get(f"/entity/{ref}", follow_redirects=False)
        assert r.status_code == 308, ref
        assert r.headers["location"] == "/entity/emdkg:MultipleMyeloma"
    r = client.get("/entity/blade-2022", follow_redirects=False)
    assert r.headers["location"] == "/entity/kb:blade-2022"


def test_publication_page_has_doi_and_citations(client: httpx.Client) -> None:
    r = client.get("/entity/kb:yoon-2020")
    assert r.status_code == 200
    assert "Cites (15)" in r.text
    assert "https://doi.org/" in r.text


def test_source_errors_page_and_badges(client: httpx.Client) -> None:
    r = client.get("/errors")
    assert r.status_code == 200
    html = r.text
    assert html.count('class="source-error"') == 3
    assert "erythromycin" in html and "daunorubicin" in html
    assert "bevacizumab" in html and "blinatumomab" in html
    assert "superseded definition" in html
    assert "What the source said" in html and "What is wrong" in html and "The correction" in html
    # The badge on affected entities and on the publication that made the claim.
    for ref in ("emdkg:erythromycin", "emdkg:VDCP", "kb:all-overview-web", "kb:ravinet-2014", "emdkg:bevacizumab"):
        page = client.get(f"/entity/{ref}").text
        assert "⚠ source error" in page, ref
        assert 'class="source-error"' in page, ref
    assert "⚠ source error" not in client.get("/entity/emdkg:Pleura").text


def test_query_page_runs_a_query(client: httpx.Client) -> None:
    r = client.get("/query")
    assert r.status_code == 200 and "<textarea" in r.text
    r = client.post("/query", data={"query": SITES_RELAPSE})
    assert r.status_code == 200
    assert 'id="sparql-results"' in r.text
    assert "pericardium" in r.text
    r = client.post("/query", data={"query": "INSERT DATA { <a:b> <a:c> <a:d> }"})
    assert r.status_code == 403
    assert "read-only" in r.text
    r = client.post("/query", data={"query": "DESCRIBE <https://w3id.org/emdkg/Pleura>"})
    assert r.status_code == 200 and "triples" in r.text


def test_search_page(client: httpx.Client) -> None:
    r = client.get("/search", params={"q": "CNS"})
    assert r.status_code == 200
    assert "central nervous system" in r.text
    r = client.get("/search", params={"q": "MONDO:0009693"})
    assert 'href="/entity/emdkg:MultipleMyeloma"' in r.text
    r = client.get("/search", params={"q": "zzzzqqq"})
    assert "Nothing matches" in r.text


def test_figure_endpoint(client: httpx.Client) -> None:
    r = client.get("/figures/sites.svg", params={"disease": "multiple myeloma"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert client.get("/figures/sites.svg", params={"disease": "no such disease"}).status_code == 404


def test_404s(client: httpx.Client) -> None:
    r = client.get("/entity/emdkg:NoSuchThing")
    assert r.status_code == 404
    assert "nothing called" in r.text
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    r = client.get("/api/nothing")
    assert r.status_code == 404
    assert r.json()["error"] == "not-found"
    r = client.get("/static/nothing.css")
    assert r.status_code == 404
    r = client.get("/static/../app.py")
    assert r.status_code == 404


def test_static_assets_are_bundled(client: httpx.Client) -> None:
    for path in ("/static/style.css", "/static/app.js", "/static/favicon.svg"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert b"https://" not in r.content and b"http://" not in r.content.replace(b"http://www.w3.org/2000/svg", b"")


# --- over a remote endpoint ------------------------------------------------------------------


@pytest.fixture(scope="module")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Oxigraph server on 127.0.0.1 holding the bundled knowledge graph; its query URL."""
    import subprocess

    from emdkg.bench.web import _process, free_port, oxigraph_binary

    binary = oxigraph_binary()
    if binary is None:
        pytest.skip("the oxigraph server (PyPI package 'oxigraph') is not installed")
    folder = tmp_path_factory.mktemp("oxigraph")
    dump = folder / "kb.nt"
    dump.write_bytes(emdkg.load().store.serialize("ntriples"))
    subprocess.run([binary, "load", "--location", str(folder / "db"), "--file", str(dump)], check=True, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/query"
    with _process([binary, "serve", "--location", str(folder / "db"), "--bind", f"127.0.0.1:{port}"], url):
        yield url


def test_serving_a_remote_endpoint(oxigraph_server: str) -> None:
    from emdkg.web.app import load_knowledge_graph

    settings = Settings(endpoint=oxigraph_server)
    kg = load_knowledge_graph(settings)
    app = create_app(kg, settings)
    with httpx.Client(transport=_SyncASGI(app), base_url="http://testserver") as c:
        r = c.get("/sparql", params={"query": SITES_RELAPSE}, headers={"Accept": "text/csv"})
        assert r.status_code == 200, r.text
        assert [row[1] for row in csv.reader(io.StringIO(r.text))][1:] == RELAPSE_SITES
        assert c.get("/sparql", params={"query": "ASK {}"}).json()["boolean"] is True
        r = c.post("/sparql", data={"query": "DESCRIBE <https://w3id.org/emdkg/Pleura>"}, headers={"Accept": "application/n-triples"})
        assert r.status_code == 200 and b'"pleura"@en' in r.content
        # The same refusals; FROM is not passed on to a server that might fetch it.
        assert c.post("/sparql", data={"update": "DROP ALL"}).status_code == 403
        r = c.get("/sparql", params={"query": "SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }"})
        assert r.status_code == 403 and r.json()["error"] == "from-forbidden"
        # Limits apply to the remote answer as well.
        with httpx.Client(transport=_SyncASGI(create_app(kg, Settings(endpoint=oxigraph_server, max_results=3))),
                          base_url="http://testserver") as limited:
            assert limited.get("/sparql", params={"query": SITES_RELAPSE}).status_code == 422
        # Pages and named queries run over the remote store too.
        page = c.get("/entity/emdkg:MultipleMyeloma")
        assert page.status_code == 200 and 'data-site="pleura" data-phase="relapse"' in page.text
        api = c.get("/api/queries/sites", params={"disease": "MM", "phase": "relapse"}).json()
        assert {"pleura", "pericardium"} <= {row["site"] for row in api["rows"]}


def test_remote_endpoint_down_is_a_clean_error() -> None:
    from emdkg.bench.web import free_port

    url = f"http://127.0.0.1:{free_port()}/query"  # nothing listens there
    from emdkg.web.runner import RemoteEngine

    app = create_app(emdkg.load(), Settings(endpoint=url))
    assert isinstance(app.state.runner.engine, RemoteEngine)
    with httpx.Client(transport=_SyncASGI(app), base_url="http://testserver") as c:
        r = c.get("/sparql", params={"query": "ASK {}"})
        assert r.status_code == 502
        assert r.json()["error"] == "remote-error"


# --- the command line ------------------------------------------------------------------------


def test_serve_help_and_bad_input(cli: Any, tmp_path: Any) -> None:
    result = cli("serve", "--help")
    assert result.exit_code == 0
    for option in ("--host", "--port", "--endpoint", "--query-timeout", "--max-results", "--max-body", "--allow-service"):
        assert option in result.stdout
    assert "127.0.0.1" in result.stdout
    bad = tmp_path / "bad.ttl"
    bad.write_text("<a> <b> .\n")
    result = cli("serve", "--data", str(bad), "--port", "0")
    assert result.exit_code == 2
    assert len(result.stderr_lines) == 1 and result.stderr_lines[0].startswith("emdkg: error: ")
    result = cli("serve", "--data", str(bad), "--endpoint", "http://127.0.0.1:1/q")
    assert result.exit_code == 2 and "--endpoint" in result.stderr


@pytest.mark.slow
def test_bench_web_smoke() -> None:
    """The load test end to end, tiny: both servers start, agree, answer without errors, stop."""
    from emdkg.bench.web import format_report, run_web_bench

    result = run_web_bench(clients=2, seconds=0.6, rounds=1)
    assert result.ours.errors == 0 and result.ours.requests > 0
    if result.oxigraph is not None:
        assert result.same_rows is True
        assert result.oxigraph.errors == 0 and result.oxigraph.requests > 0
        assert result.ratio is not None and result.ratio > 0
    report = format_report(result)
    assert "req/s" in report and "p99 ms" in report
