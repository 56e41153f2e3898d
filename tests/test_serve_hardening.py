"""``emdkg serve`` as a real process on loopback: what a hostile network may and may not do.

``tests/test_web.py`` checks the application in-process (ASGI). Here the real command runs,
under uvicorn, on a free port of 127.0.0.1, and every promise is checked over TCP:

* it listens on 127.0.0.1 only, unless ``--host`` says otherwise;
* it is read-only: no SPARQL Update in any of its forms, no other HTTP method, and the data is
  the same after every attempt;
* a query is stopped at the time limit (503 ``timeout``), a result over the size limit is
  refused (422), never truncated; a request body or query string over the limit is 413;
* no ``SERVICE`` federation unless ``--allow-service`` (a recording stub shows that nothing
  is fetched), and no file path from the network (``FROM <file:…>``, ``LOAD``, ``SERVICE
  <file:…>``, dataset parameters, ``..`` in static paths);
* a bounded load on loopback (50 clients, 5 s here; ``python -m emdkg.bench.mix`` runs the
  30 s one) with good, bad and slow requests: no 5xx for a good request, and the server still
  answers afterwards.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import FaultyProxy

from emdkg.bench import mix

pytestmark = pytest.mark.slow

SLOW_AGGREGATE = (
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT (COUNT(*) AS ?n) WHERE { "
    "?a rdfs:label ?x . ?b rdfs:label ?y . ?c a ?t . FILTER(STR(?x) < STR(?y)) }"
)
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
LIMITS = ["--query-timeout", "1", "--max-results", "100", "--max-body", "5000", "--log-level", "warning"]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with mix.serving(LIMITS) as (base, _):
        yield base


def get(base: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(base + path, timeout=60, trust_env=False, **kwargs)


def post(base: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(base + path, timeout=60, trust_env=False, **kwargs)


def triples(base: str) -> int:
    response = get(base, "/sparql", params={"query": COUNT}, headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text
    body = response.json()
    assert body["status"] == status and body["message"]
    if code is not None:
        assert body["error"] == code, body
    return body


# --- where it listens ---------------------------------------------------------------------------


def _listening_addresses(port: int) -> list[str]:
    """The local addresses of the TCP sockets listening on ``port`` (Linux /proc/net/tcp{,6})."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.append(address)
    return found


def test_binds_loopback_only_by_default(server: str) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system to list listening sockets")
    port = int(server.rsplit(":", 1)[1])
    assert _listening_addresses(port) == ["0100007F"], "listening on 127.0.0.1 and nothing else"
    # And from another address of this machine, if it has one, nobody answers.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent, only a route chosen
            own = probe.getsockname()[0]
    except OSError:
        own = None
    if own and not own.startswith("127."):
        with pytest.raises(OSError):
            socket.create_connection((own, port), timeout=2).close()


def test_help_states_the_loopback_default() -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "emdkg", "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "[default: 127.0.0.1]" in " ".join(done.stdout.split())


# --- read-only ----------------------------------------------------------------------------------

UPDATES = [
    "INSERT DATA { <https://e.org/a> <https://e.org/b> <https://e.org/c> }",
    "DELETE WHERE { ?s ?p ?o }",
    "DROP ALL",
    "CLEAR DEFAULT",
    "LOAD <file:///etc/passwd>",
    "LOAD <http://127.0.0.1:9/data.ttl> INTO GRAPH <https://e.org/g>",
    "CREATE GRAPH <https://e.org/g>",
    "COPY DEFAULT TO <https://e.org/g>",
    "WITH <https://e.org/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "drop silent all",
    "SELECT * WHERE { ?s ?p ?o } ; INSERT DATA { <https://e.org/a> <https://e.org/b> 1 }",
]


@pytest.mark.parametrize("update", UPDATES)
def test_updates_are_refused_in_every_form(server: str, update: str) -> None:
    before = triples(server)
    assert_error(post(server, "/sparql", data={"update": update}), 403, "update-forbidden")
    assert_error(post(server, "/sparql", content=update.encode(), headers={"Content-Type": "application/sparql-update"}),
                 403, "update-forbidden")
    for response in (get(server, "/sparql", params={"query": update}), post(server, "/sparql", data={"query": update})):
        assert response.status_code in (400, 403), response.text
    assert triples(server) == before


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_no_other_http_method_writes(server: str, method: str) -> None:
    before = triples(server)
    for path in ("/sparql", "/", "/api/queries/sites", "/store"):
        response = httpx.request(method, server + path, content=b"<https://e.org/a> <https://e.org/b> <https://e.org/c> .",
                                 headers={"Content-Type": "application/n-triples"}, timeout=30, trust_env=False)
        assert response.status_code in (404, 405), (path, response.status_code)
    assert triples(server) == before


# --- limits -------------------------------------------------------------------------------------


def test_time_limit(server: str) -> None:
    started = time.monotonic()
    response = get(server, "/sparql", params={"query": SLOW_AGGREGATE})
    elapsed = time.monotonic() - started
    body = assert_error(response, 503, "timeout")
    assert body["limit_seconds"] == 1 and response.headers["retry-after"] == "1"
    assert elapsed < 5, f"answered after {elapsed:.1f} s"
    assert get(server, "/healthz").status_code == 200


def test_result_size_limit_is_an_error_not_a_truncation(server: str) -> None:
    body = assert_error(get(server, "/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"}), 422, "too-many-results")
    assert body["limit"] == 100 and "LIMIT 100" in body["message"]
    ok = get(server, "/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 100"},
             headers={"Accept": "application/sparql-results+json"})
    assert ok.status_code == 200 and len(ok.json()["results"]["bindings"]) == 100
    assert_error(get(server, "/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"}), 422, "too-many-results")


def test_request_body_limit(server: str) -> None:
    big = "SELECT * WHERE { ?s ?p ?o } LIMIT 1 #" + "x" * 6000
    assert_error(post(server, "/sparql", data={"query": big}), 413, "request-too-large")
    assert_error(post(server, "/sparql", content=big.encode(), headers={"Content-Type": "application/sparql-query"}),
                 413, "request-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"query=SELECT%20*%20WHERE%20%7B%3Fs%20%3Fp%20%3Fo%7D%20LIMIT%201%20%23"
        for _ in range(20):
            yield b"x" * 1000

    response = httpx.post(server + "/sparql", content=chunks(), timeout=60, trust_env=False,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    response = get(server, "/sparql", params={"query": big})
    assert response.status_code in (413, 414)
    # Under the limit, the same query is answered.
    assert get(server, "/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1"}).status_code == 200


def test_header_flood_is_refused(server: str) -> None:
    headers = {f"X-Filler-{i}": "y" * 1000 for i in range(200)}
    try:
        response = get(server, "/healthz", headers=headers)
    except httpx.HTTPError:
        return  # the server closed the connection: refused
    assert response.status_code in (400, 413, 431)
    assert get(server, "/healthz").status_code == 200


# --- federation and files -----------------------------------------------------------------------


SERVICE_FORMS = [
    "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    "select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ {{ SELECT ?s WHERE {{ SeRvIcE <{url}> {{ ?s ?p ?o }} }} }} }}",
    "ASK {{ # a comment first\n SERVICE <{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ BIND(<{url}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
]


@pytest.mark.parametrize("form", SERVICE_FORMS)
def test_service_is_refused_and_nothing_is_fetched(server: str, form: str) -> None:
    with FaultyProxy(None) as stub:
        query = form.format(url=stub.base_url + "/sparql")
        assert_error(get(server, "/sparql", params={"query": query}), 403, "service-forbidden")
        assert_error(post(server, "/sparql", data={"query": query}), 403, "service-forbidden")
        time.sleep(0.2)
        assert stub.requests == [], "the server fetched from the SERVICE IRI"


def test_allow_service_enables_federation() -> None:
    """The switch works: with --allow-service the same query reaches the remote endpoint."""
    with FaultyProxy(None) as stub, mix.serving([*LIMITS, "--allow-service"]) as (base, _):
        query = SERVICE_FORMS[0].format(url=stub.base_url + "/sparql")
        response = get(base, "/sparql", params={"query": query})
        assert stub.requests, f"nothing reached the SERVICE endpoint ({response.status_code} {response.text[:200]})"
        assert "Traceback" not in response.text
        # file: stays refused even then
        query = SERVICE_FORMS[0].format(url="file:///etc/passwd")
        assert_error(get(base, "/sparql", params={"query": query}), 403, "file-iri-forbidden")


FILE_ATTEMPTS: list[tuple[str, str, dict[str, str] | None]] = [
    ("GET", "/sparql", {"query": "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }"}),
    ("GET", "/sparql", {"query": "SELECT * FROM NAMED <file:///etc/passwd> WHERE { GRAPH ?g { ?s ?p ?o } }"}),
    ("GET", "/sparql", {"query": "SELECT * WHERE { SERVICE <file:///etc/passwd> { ?s ?p ?o } }"}),
    ("GET", "/sparql", {"query": "SELECT * WHERE { <FILE:///etc/passwd> ?p ?o }"}),
    ("POST", "/sparql", {"update": "LOAD <file:///etc/passwd>"}),
    ("POST", "/sparql", {"query": "LOAD <file:///etc/passwd>"}),
    ("GET", "/sparql", {"query": "SELECT * WHERE { ?s ?p ?o }", "default-graph-uri": "file:///etc/passwd"}),
    ("GET", "/sparql", {"query": "SELECT * WHERE { ?s ?p ?o }", "named-graph-uri": "file:///etc/passwd"}),
    ("GET", "/static/../../../../../../etc/passwd", None),
    ("GET", "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", None),
    ("GET", "/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", None),
    ("GET", "/entity/..%2f..%2f..%2fetc%2fpasswd", None),
    ("GET", "/api/queries/..%2f..%2fetc%2fpasswd", None),
    ("GET", "/query", {"query": "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }"}),
]


@pytest.mark.parametrize("method,path,params", FILE_ATTEMPTS, ids=[f"{m} {p} {list((q or {}).values())[-1:]}"
                                                                   for m, p, q in FILE_ATTEMPTS])
def test_no_file_paths_from_the_network(server: str, method: str, path: str, params: dict[str, str] | None) -> None:
    url = server + path
    if method == "GET":
        # Sent as typed: httpx would otherwise normalise the dots away before they leave.
        request = httpx.Request("GET", url, params=params)
        request.url = httpx.URL(request.url, path=path.split("?")[0]) if "%" not in path else request.url
        with httpx.Client(trust_env=False, timeout=60) as client:
            response = client.send(request)
    else:
        response = post(server, path, data=params)
    assert "root:x:0:0" not in response.text and "/bin/" not in response.text
    assert 400 <= response.status_code < 500 or (path == "/query" and response.status_code == 200), response.status_code
    if path == "/query" and response.status_code == 200:
        assert "file: IRIs are not accepted" in response.text


def test_raw_dot_dot_path_over_a_socket(server: str) -> None:
    """A request line with ``..`` as sent by a hostile client, not a polite library."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    assert 400 <= status < 500 and b"root:x:0:0" not in data


# --- a bounded concurrent load ---------------------------------------------------------------------


def test_mixed_load_on_loopback() -> None:
    """50 clients for 5 s of good, bad and slow requests (``python -m emdkg.bench.mix`` runs 30 s)."""
    with mix.serving(mix.SERVE_OPTIONS) as (base, process):
        result = mix.run_mix(base, clients=50, seconds=5)
        assert process.poll() is None, "the server died under the load"
    print(result.report())
    assert result.requests > 100, result.report()
    assert result.count("good", 200, 200) > 0 and result.count("slow", 0, 999) > 0 and result.count("bad", 0, 999) > 0
    assert result.count("good", 500, 599) == 0, result.report()
    assert result.problems == [], result.report()
    assert result.answering_after
