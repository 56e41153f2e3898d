"""``emdkg load`` into real servers (Oxigraph, Virtuoso): verified, all or nothing, reported.

Every failure test first puts a known "previous" graph on the server, makes one step of the
load fail (a wrong password, an HTTP 500 or a truncated body from a proxy, a server killed in
the middle, a refused connection, a timeout), and checks that the load says it failed, that
the previous graph is still there triple for triple, and that no staging graph is left.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from servers import Fault, FaultyProxy, graph_ntriples, graphs_named, put_graph

from emdkg import release, servers
from emdkg.errors import RemoteError
from emdkg.release import ReleaseGraph

pytestmark = pytest.mark.server

PREVIOUS = b'<https://w3id.org/emdkg/kb/old> <http://www.w3.org/2000/01/rdf-schema#label> "previous copy"@en .\n' \
           b'_:b <http://www.w3.org/2000/01/rdf-schema#comment> "with a blank node" .\n'


def fresh_graph() -> str:
    return f"https://w3id.org/emdkg/test/{uuid.uuid4()}"


def assert_untouched(server: servers.LocalServer, graph: str) -> None:
    assert graph_ntriples(server, graph) == release.ntriples(ReleaseGraph.from_ntriples(PREVIOUS))
    if server.kind == "oxigraph":  # (Virtuoso's public endpoint does not list graphs this way)
        assert graphs_named(server, graph + "/staging-") == []


# --- loads that work -----------------------------------------------------------------------


@pytest.mark.parametrize("swap", ["PUT", "MOVE"])
def test_load_into_oxigraph(oxigraph_server, kb_release: ReleaseGraph, swap: str) -> None:
    graph = fresh_graph()
    options = oxigraph_server.load_options()
    if swap == "PUT":
        options["update"] = None
    first = release.load(graph=graph, release=kb_release, **options)
    assert (first.triples, first.previous, first.swap) == (len(kb_release), 0, swap)
    second = release.load(graph=graph, release=kb_release, **options)
    assert (second.triples, second.previous) == (len(kb_release), len(kb_release))
    assert graph_ntriples(oxigraph_server, graph) == release.ntriples(kb_release)
    assert graphs_named(oxigraph_server, graph + "/staging-") == []


@pytest.mark.parametrize("swap", ["PUT", "MOVE"])
def test_load_into_virtuoso_with_digest_auth(virtuoso_server, kb_release: ReleaseGraph, swap: str) -> None:
    graph = fresh_graph()
    options = virtuoso_server.load_options()
    if swap == "PUT":
        options["update"] = None
    put_graph(virtuoso_server, graph, PREVIOUS)
    result = release.load(graph=graph, release=kb_release, **options)
    assert (result.triples, result.previous, result.swap) == (len(kb_release), 2, swap)
    # Virtuoso relabels blank nodes; the canonical form is the same graph.
    assert graph_ntriples(virtuoso_server, graph) == release.ntriples(kb_release)


def test_cli_load_default_graph_is_the_version_iri(oxigraph_server, cli, kb_release: ReleaseGraph) -> None:
    version_iri = kb_release.version_iri()
    assert version_iri and version_iri.startswith("https://w3id.org/emdkg/releases/")
    result = cli("load", "--store", oxigraph_server.store_url, "--endpoint", oxigraph_server.query_url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"loaded {len(kb_release)} triples into <{version_iri}> (")
    assert "verified over" in result.stdout


def test_cli_load_virtuoso_auth_choices(virtuoso_server, cli, kb_release: ReleaseGraph) -> None:
    graph = fresh_graph()
    common = ["load", "--store", virtuoso_server.store_url, "--endpoint", virtuoso_server.query_url,
              "--graph", graph, "--user", "dba", "--password", "dba"]
    assert cli(*common, "--auth", "digest").exit_code == 0
    result = cli(*common, "--auth", "basic")  # Virtuoso's /sparql-graph-crud-auth wants Digest
    assert result.exit_code == 2 and len(result.stderr_lines) == 1
    assert "authentication failed" in result.stderr and f"<{graph}> was not changed" in result.stderr


# --- loads that fail leave the previous graph ---------------------------------------------------


def test_wrong_password_on_virtuoso(virtuoso_server, cli) -> None:
    graph = fresh_graph()
    put_graph(virtuoso_server, graph, PREVIOUS)
    result = cli("load", "--store", virtuoso_server.store_url, "--endpoint", virtuoso_server.query_url,
                 "--graph", graph, "--user", "dba", "--password", "wrong")
    assert result.exit_code == 2
    assert len(result.stderr_lines) == 1
    assert result.stderr.startswith("emdkg: error: load failed: ") and "HTTP 401" in result.stderr
    assert_untouched(virtuoso_server, graph)


def _staging(request) -> bool:
    return "/staging-" in request.graph


def _query_text(request) -> str:
    return request.form.get("query", [""])[0]


def staging_put_500(graph: str):
    return lambda r: Fault(status=500) if r.method == "PUT" and _staging(r) else None


def staging_put_truncated(graph: str):
    return lambda r: Fault(truncate=True) if r.method == "PUT" and _staging(r) else None


def once(test, fault: Fault):
    """A rule that answers the first request ``test`` picks with ``fault`` (a transient error:
    the put-back of the previous copy goes through)."""
    done = []

    def rule(r):
        if not done and test(r):
            done.append(r)
            return fault
        return None

    return rule


def target_put_500(graph: str):
    return once(lambda r: r.method == "PUT" and r.graph == graph, Fault(status=500))


def target_put_dropped(graph: str):
    return once(lambda r: r.method == "PUT" and r.graph == graph, Fault(close=True))


def move_500(graph: str):
    return lambda r: Fault(status=500) if r.path == "/update" else None


def final_count_503(graph: str):
    """The second count of the target graph (the one after the swap) fails."""
    seen = []

    def rule(r):
        if r.path == "/query" and f"<{graph}>" in _query_text(r):
            seen.append(r)
            if len(seen) == 2:
                return Fault(status=503)
        return None

    return rule


@pytest.mark.parametrize(
    "rule, swap",
    [
        (staging_put_500, "MOVE"),
        (staging_put_truncated, "MOVE"),
        (target_put_500, "PUT"),
        (target_put_dropped, "PUT"),
        (move_500, "MOVE"),
        (final_count_503, "MOVE"),
        (final_count_503, "PUT"),
    ],
)
def test_failed_step_leaves_previous_graph(oxigraph_server, kb_release: ReleaseGraph, rule, swap: str) -> None:
    graph = fresh_graph()
    put_graph(oxigraph_server, graph, PREVIOUS)
    with FaultyProxy(oxigraph_server.base_url, rule(graph)) as proxy:
        options = proxy.load_options(oxigraph_server)
        if swap == "PUT":
            options["update"] = None
        with pytest.raises(RemoteError) as failure:
            release.load(graph=graph, release=kb_release, timeout=10, **options)
    message = str(failure.value)
    assert message.startswith("load failed: ") and "\n" not in message
    assert "previous copy" in message or "was not changed" in message
    assert "could NOT be restored" not in message
    assert_untouched(oxigraph_server, graph)


def test_server_killed_mid_load_keeps_previous_graph(tmp_path: Path, kb_release: ReleaseGraph) -> None:
    """The server dies right after the staging graph is in: the load fails at once, and the
    restarted server (same database folder) still has the previous graph."""
    if servers.oxigraph_binary() is None:
        pytest.skip("oxigraph is not installed: the `oxigraph` command (pip install oxigraph)")
    graph = fresh_graph()
    server = servers.start_oxigraph(tmp_path)
    try:
        put_graph(server, graph, PREVIOUS)

        def kill_after_staging(request):
            if request.method == "PUT" and _staging(request):
                return None  # let the staging graph in...
            if request.path == "/query" and "staging" in _query_text(request):
                return Fault(before=server.kill, close=True)  # ...then the server dies
            return None

        with FaultyProxy(server.base_url, kill_after_staging) as proxy:
            started = time.monotonic()
            with pytest.raises(RemoteError) as failure:
                release.load(graph=graph, release=kb_release, timeout=5, **proxy.load_options(server))
            assert time.monotonic() - started < 10
        message = str(failure.value)
        assert message.startswith("load failed:") and "staging graph" in message  # could not delete it
    finally:
        server.stop()
    restarted = servers.start_oxigraph(tmp_path, port=None)
    try:
        assert graph_ntriples(restarted, graph) == release.ntriples(ReleaseGraph.from_ntriples(PREVIOUS))
    finally:
        restarted.stop()


def test_connection_refused_is_one_line(cli) -> None:
    port = servers.free_port()
    result = cli("load", "--store", f"http://127.0.0.1:{port}/store", "--endpoint", f"http://127.0.0.1:{port}/query")
    assert result.exit_code == 2
    assert len(result.stderr_lines) == 1
    assert result.stderr.startswith(
        f"emdkg: error: load failed: cannot connect to http://127.0.0.1:{port}/query: connection refused; <"
    )
    assert result.stderr.rstrip().endswith("> was not changed")


def test_timeout_is_reported_and_previous_graph_kept(oxigraph_server, kb_release: ReleaseGraph) -> None:
    graph = fresh_graph()
    put_graph(oxigraph_server, graph, PREVIOUS)
    hang = once(lambda r: r.method == "PUT" and r.graph == graph, Fault(hang=5))
    with FaultyProxy(oxigraph_server.base_url, hang) as proxy:
        options = proxy.load_options(oxigraph_server)
        options["update"] = None
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"no answer within 1 s \(timed out\)"):
            release.load(graph=graph, release=kb_release, timeout=1, **options)
        assert time.monotonic() - started < 5
    assert_untouched(oxigraph_server, graph)


def test_http_500_from_a_stub_server(cli) -> None:
    with FaultyProxy(None, lambda r: Fault(status=500)) as stub:
        result = cli("load", "--store", stub.base_url + "/store", "--endpoint", stub.base_url + "/query")
    assert result.exit_code == 2 and len(result.stderr_lines) == 1
    assert "HTTP 500" in result.stderr and "was not changed" in result.stderr


# --- Virtuoso reads bound values the way they were meant ----------------------------------------

HOSTILE = ['x" } UNION { ?s ?p ?o } #', "back\\slash \\u0022 and \\\"", "line\nbreak\r\ttab", "{}<>|^`", "多发性骨髓瘤"]


def test_hostile_bound_literals_on_virtuoso(virtuoso_server) -> None:
    import pyoxigraph as ox

    from emdkg.remote_store import RemoteStore
    from emdkg.store import _ox_term

    graph = fresh_graph()
    triples = [ox.Triple(ox.NamedNode(f"http://e.org/s{i}"), ox.NamedNode("http://e.org/p"), _ox_term(text))
               for i, text in enumerate(HOSTILE)]
    put_graph(virtuoso_server, graph, release.ntriples(ReleaseGraph.from_quads(triples)))
    store = RemoteStore(virtuoso_server.query_url_for(graph), timeout=10)
    for i, text in enumerate(HOSTILE):
        rows = store.select("SELECT ?s ?o WHERE { ?s <http://e.org/p> ?o }", {"o": text})
        assert rows == [{"s": f"http://e.org/s{i}", "o": text}], text
