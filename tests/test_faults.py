"""Faults in the middle of ``emdkg export`` and ``emdkg load``, run as real processes, then a retry.

Each test makes one thing go wrong while the command works, then checks the three promises:

1. what was there before is intact (the previous release files byte for byte; the server's
   previous copy of the graph triple for triple, with no staging graph left where the load
   could clean up after itself);
2. the error is one line that says what happened (killed, refused, timed out, HTTP 500);
3. running the same command again, once the fault is gone, succeeds and gives the full result.

The servers are the release engineer's fixtures (``tests/servers.py``: a real Oxigraph server,
and :class:`FaultyProxy`, an HTTP proxy written with the standard library's ``http.server``
that stalls, drops or answers 500 on the requests a rule picks). ``tests/test_load.py`` makes
each step of :func:`emdkg.release.load` fail in-process; here the whole command runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import Fault, FaultyProxy, graph_ntriples, graphs_named, put_graph

from emdkg import release, servers
from emdkg.release import ReleaseGraph

PREVIOUS = (
    b'<https://w3id.org/emdkg/kb/old> <http://www.w3.org/2000/01/rdf-schema#label> "previous copy"@en .\n'
    b'_:b <http://www.w3.org/2000/01/rdf-schema#comment> "with a blank node" .\n'
)


def emdkg(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emdkg", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "EMDKG_DEBUG": ""})


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "emdkg", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "EMDKG_DEBUG": ""})


def one_line_error(done: subprocess.CompletedProcess[str] | tuple[int, str], *words: str) -> str:
    code, stderr = (done.returncode, done.stderr) if isinstance(done, subprocess.CompletedProcess) else done
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("emdkg: error: "), stderr
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- export ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The files a clean ``emdkg export`` writes (the result every retry must give)."""
    folder = tmp_path_factory.mktemp("fresh")
    release.export(folder)
    return snapshot(folder)


def previous_release(folder: Path, extra: Path) -> dict[str, bytes]:
    """An older release in ``folder`` (the bundled graph plus one triple), so old != new."""
    extra.write_text('<https://w3id.org/emdkg/kb/older> <http://www.w3.org/2000/01/rdf-schema#label> "older"@en .\n')
    release.export(folder, data=[extra])
    return snapshot(folder)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["first-partial-file", "all-partial-files", "early"])
def test_export_killed_mid_write_then_retried(tmp_path: Path, fresh_release: dict[str, bytes], when: str) -> None:
    out = tmp_path / "release"
    before = previous_release(out, tmp_path / "older.nt")
    process = start("export", "--output", str(out))
    if when == "early":
        time.sleep(0.3)  # while it starts and reads the knowledge graph
    else:
        wanted = 1 if when == "first-partial-file" else len(before)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if len([p for p in out.iterdir() if p.name.endswith(".partial")]) >= wanted:
                break
            time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    # 1. Every release file is the old one or (if its rename had happened) the new one: whole.
    for name, data in snapshot(out).items():
        if not name.endswith(".partial"):
            assert data in (before[name], fresh_release[name]), f"{name} is half written"
    # 3. The retry succeeds, gives a clean release and removes the killed run's leftovers.
    done = emdkg("export", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert snapshot(out) == fresh_release


@pytest.mark.slow
def test_export_into_a_read_only_folder_then_retried(tmp_path: Path, fresh_release: dict[str, bytes]) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("running as root, which may write into a read-only folder")
    out = tmp_path / "release"
    before = previous_release(out, tmp_path / "older.nt")
    out.chmod(0o555)
    try:
        line = one_line_error(emdkg("export", "--output", str(out)), str(out))
        assert "cannot write" in line or "permission" in line.lower()
        assert snapshot(out) == before
    finally:
        out.chmod(0o755)
    assert emdkg("export", "--output", str(out)).returncode == 0
    assert snapshot(out) == fresh_release


# --- load ------------------------------------------------------------------------------------


def fresh_graph() -> str:
    return f"https://w3id.org/emdkg/test/faults/{uuid.uuid4()}"


def load_args(store: str, query: str, update: str | None, graph: str, timeout: float = 10) -> list[str]:
    args = ["load", "--store", store, "--endpoint", query, "--graph", graph, "--timeout", str(timeout)]
    return args + (["--update", update] if update else [])


def assert_previous(server: servers.LocalServer, graph: str) -> None:
    assert graph_ntriples(server, graph) == release.ntriples(ReleaseGraph.from_ntriples(PREVIOUS))
    assert graphs_named(server, graph + "/staging-") == [], "a staging graph was left behind"


def retry_succeeds(server: servers.LocalServer, graph: str, kb_release: ReleaseGraph) -> None:
    before = set(graphs_named(server, graph + "/staging-"))  # a killed client cannot clean up
    done = emdkg(*load_args(server.store_url, server.query_url, server.update_url, graph))
    assert done.returncode == 0, done.stderr
    assert f"loaded {len(kb_release)} triples into <{graph}>" in done.stdout
    assert graph_ntriples(server, graph) == release.ntriples(kb_release)
    assert set(graphs_named(server, graph + "/staging-")) == before, "the retry leaves no staging graph of its own"


def _staging_put(request: Any) -> bool:
    return request.method == "PUT" and "/staging-" in request.graph


@pytest.fixture
def own_oxigraph(tmp_path: Path) -> Iterator[servers.LocalServer]:
    """An Oxigraph server of this test's own (it is going to be killed)."""
    if servers.oxigraph_binary() is None:
        pytest.skip("oxigraph is not installed: the `oxigraph` command (pip install oxigraph)")
    server = servers.start_oxigraph(tmp_path / "oxigraph")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.server
@pytest.mark.slow
def test_load_server_killed_mid_transfer_then_retried(own_oxigraph: servers.LocalServer, tmp_path: Path,
                                                      kb_release: ReleaseGraph) -> None:
    """The server dies while the release is being sent; restarted, it has the previous graph."""
    server = own_oxigraph
    graph = fresh_graph()
    put_graph(server, graph, PREVIOUS)
    port = int(server.base_url.rsplit(":", 1)[1])

    def kill_during_put(request: Any) -> Fault | None:
        return Fault(before=server.kill, close=True) if _staging_put(request) else None

    with FaultyProxy(server.base_url, kill_during_put) as proxy:
        started = time.monotonic()
        done = emdkg(*load_args(proxy.url(server.store_url), proxy.url(server.query_url),
                                proxy.url(server.update_url), graph, timeout=5))
        assert time.monotonic() - started < 60
    line = one_line_error(done, "load failed:")
    assert "closed the connection" in line or "cannot connect" in line or "HTTP 502" in line, line
    assert not server.alive
    # The server comes back on the same port with the same database.
    restarted = servers.start_oxigraph(tmp_path / "oxigraph", port=port)
    try:
        assert_previous(restarted, graph)
        retry_succeeds(restarted, graph, kb_release)
    finally:
        restarted.stop()


@pytest.mark.server
@pytest.mark.slow
def test_load_connection_refused_then_retried(oxigraph_server: servers.LocalServer, kb_release: ReleaseGraph) -> None:
    graph = fresh_graph()
    put_graph(oxigraph_server, graph, PREVIOUS)
    port = servers.free_port()  # nobody listens here
    base = f"http://127.0.0.1:{port}"
    done = emdkg(*load_args(f"{base}/store", f"{base}/query", f"{base}/update", graph))
    line = one_line_error(done, "connection refused", f"<{graph}> was not changed")
    assert line.startswith(f"emdkg: error: load failed: cannot connect to {base}/query")
    assert_previous(oxigraph_server, graph)
    retry_succeeds(oxigraph_server, graph, kb_release)


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("step", ["count", "staging-put", "swap-put"])
def test_load_timeout_on_a_stalling_server_then_retried(oxigraph_server: servers.LocalServer,
                                                        kb_release: ReleaseGraph, step: str) -> None:
    """The server stops answering (a stub that stalls); the load gives up after --timeout."""
    graph = fresh_graph()
    put_graph(oxigraph_server, graph, PREVIOUS)

    def stall(request: Any) -> Fault | None:
        if step == "count" and request.path == "/query":
            return Fault(hang=15)
        if step == "staging-put" and _staging_put(request):
            return Fault(hang=15)
        if step == "swap-put" and request.method == "PUT" and request.graph == graph:
            return Fault(hang=15)
        return None

    with FaultyProxy(oxigraph_server.base_url, stall) as proxy:
        update = None if step == "swap-put" else proxy.url(oxigraph_server.update_url)
        started = time.monotonic()
        done = emdkg(*load_args(proxy.url(oxigraph_server.store_url), proxy.url(oxigraph_server.query_url),
                                update, graph, timeout=1))
        elapsed = time.monotonic() - started
    line = one_line_error(done, "load failed:", "no answer within 1 s (timed out)")
    assert "was not changed" in line or "previous copy" in line, line
    assert elapsed < 30, f"the load took {elapsed:.1f} s to give up"
    assert_previous(oxigraph_server, graph)
    retry_succeeds(oxigraph_server, graph, kb_release)


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("step", ["staging-put", "move", "count"])
def test_load_http_500_then_retried(oxigraph_server: servers.LocalServer, kb_release: ReleaseGraph, step: str) -> None:
    graph = fresh_graph()
    put_graph(oxigraph_server, graph, PREVIOUS)

    def fail(request: Any) -> Fault | None:
        if step == "staging-put" and _staging_put(request):
            return Fault(status=500)
        if step == "move" and request.path == "/update":
            return Fault(status=500)
        if step == "count" and request.path == "/query":
            return Fault(status=500)
        return None

    with FaultyProxy(oxigraph_server.base_url, fail) as proxy:
        done = emdkg(*load_args(proxy.url(oxigraph_server.store_url), proxy.url(oxigraph_server.query_url),
                                proxy.url(oxigraph_server.update_url), graph))
    line = one_line_error(done, "load failed:", "HTTP 500")
    assert "was not changed" in line or "previous copy" in line and "back in place" in line, line
    assert_previous(oxigraph_server, graph)
    retry_succeeds(oxigraph_server, graph, kb_release)


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("moment", ["sending", "verifying"])
def test_load_client_killed_mid_transfer_then_retried(oxigraph_server: servers.LocalServer,
                                                      kb_release: ReleaseGraph, moment: str) -> None:
    """``emdkg load`` itself is SIGKILLed while it sends the release (or checks the staging
    graph it sent): the target graph is as it was, and the next load succeeds."""
    graph = fresh_graph()
    put_graph(oxigraph_server, graph, PREVIOUS)
    sending = threading.Event()

    def hold_the_upload(request: Any) -> Fault | None:
        if moment == "sending" and _staging_put(request):
            sending.set()
            return Fault(hang=10)  # the client is mid-request when it is killed
        if moment == "verifying" and request.path == "/query" and "/staging-" in request.form.get("query", [""])[0]:
            sending.set()
            return Fault(hang=10)
        return None

    with FaultyProxy(oxigraph_server.base_url, hold_the_upload) as proxy:
        process = start(*load_args(proxy.url(oxigraph_server.store_url), proxy.url(oxigraph_server.query_url),
                                   proxy.url(oxigraph_server.update_url), graph, timeout=30))
        assert sending.wait(timeout=120), "the load never started sending"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
    assert graph_ntriples(oxigraph_server, graph) == release.ntriples(ReleaseGraph.from_ntriples(PREVIOUS))
    leftovers = graphs_named(oxigraph_server, graph + "/staging-")
    assert len(leftovers) == (1 if moment == "verifying" else 0)
    retry_succeeds(oxigraph_server, graph, kb_release)
