"""Load test of the SPARQL endpoint: ``emdkg serve`` against an Oxigraph server, in one run.

Both servers hold the same data (the bundled knowledge graph, plus any ``--data`` files) and get
the same query: the ``sites`` competency query for relapse of multiple myeloma, sent to
``/sparql`` as a self-contained text (its parameters written into it, see
:func:`inline_bindings`, as a SPARQL client would send it). Each server runs as its own process on 127.0.0.1; the clients
are ``httpx.AsyncClient`` connections in this process, each sending its next request as soon
as the last one is answered, for a fixed time. Everything is bounded: ``clients`` connections,
``seconds`` of load, loopback only, and both servers are stopped at the end.

Reported per server: requests, requests/s, p50/p90/p99 latency, errors (any non-200 answer
or failed request), the server's CPU time per request, and the ratio ours/oxigraph. Both
servers' answers are compared once before the load (the same rows, or the run fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emdkg.errors import EmdkgError
from emdkg.servers import free_port, oxigraph_binary

__all__ = ["WebBenchResult", "ServerFigures", "run_web_bench", "sites_query_text", "format_report", "inline_bindings"]

#: The query parameters of the benchmark: relapse of multiple myeloma.
DISEASE = "https://w3id.org/emdkg/MultipleMyeloma"
PHASE = "https://w3id.org/emdkg/Relapse"

# Used when the named query `sites` is not in this build: the same question, written out.
_FALLBACK_SITES = """PREFIX emdkg: <https://w3id.org/emdkg/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX bibo: <http://purl.org/ontology/bibo/>
SELECT ?disease ?phase ?site ?label (GROUP_CONCAT(DISTINCT ?id; separator="|") AS ?sources) WHERE {
  ?d rdfs:subClassOf* ?disease .
  ?p rdfs:subClassOf* ?phase .
  ?f a emdkg:SiteInvolvementFinding ; emdkg:disease ?d ; emdkg:diseasePhase ?p ; emdkg:site ?site ;
     emdkg:source ?src .
  ?site rdfs:label ?label . FILTER(langMatches(lang(?label), "en"))
  OPTIONAL { ?src bibo:doi ?doi }
  OPTIONAL { ?src bibo:pmid ?pmid }
  BIND(COALESCE(CONCAT("doi:", ?doi), CONCAT("pmid:", ?pmid), STR(?src)) AS ?id)
}
GROUP BY ?disease ?phase ?site ?label
ORDER BY ?label
"""


def inline_bindings(query: str, bindings: dict[str, str]) -> str:
    """``query`` with variables replaced by IRIs in its text, as SEP-0007 substitution does.

    In the WHERE clause a bound ``?v`` becomes ``<iri>``; in the SELECT clause it becomes
    ``(<iri> AS ?v)``, so the answer keeps the column; it leaves GROUP BY (a constant needs no
    grouping). This is the text a person would write for the question, and the one engines plan
    best: a ``VALUES`` block or a ``BIND`` in its place makes pyoxigraph plan the query ~15x
    slower (17 ms instead of 1 ms for ``sites``).

    >>> print(inline_bindings("SELECT ?d (COUNT(?s) AS ?n) WHERE { ?f <http://e/d> ?d ; <http://e/s> ?s } GROUP BY ?d",
    ...                       {"d": "http://e/mm"}))
    SELECT (<http://e/mm> AS ?d) (COUNT(?s) AS ?n) WHERE { ?f <http://e/d> <http://e/mm> ; <http://e/s> ?s } GROUP BY
    """
    from emdkg.web.sparql import _TOKEN

    out: list[str] = []
    position = 0
    depth = 0  # parentheses in the SELECT clause
    section = "head"  # head (prologue + SELECT clause), where, group
    for match in _TOKEN.finditer(query):
        # Structure characters between tokens: "{" opens the WHERE clause, "(" ")" nest.
        between = query[position:match.start()]
        for char in between:
            if section == "head":
                if char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                elif char == "{":
                    section = "where"
        out.append(between)
        token, kind = match.group(), match.lastgroup
        name = token[1:] if kind == "var" else None
        if kind == "word" and token.upper() == "GROUP" and section == "where":
            section = "group"
        elif kind == "word" and token.upper() in ("HAVING", "ORDER", "LIMIT", "OFFSET", "VALUES") and section == "group":
            section = "after"
        if name in bindings:
            iri = "<" + bindings[name] + ">"
            if section == "head":
                token = f"({iri} AS {token})" if depth == 0 else iri
            elif section == "group":
                token = ""
            else:
                token = iri
        out.append(token)
        position = match.end()
    out.append(query[position:])
    text = "".join(out)
    if "{" not in text:
        raise EmdkgError("cannot find the WHERE group of the query")
    return "\n".join(line.rstrip() for line in text.splitlines()) + ("\n" if text.endswith("\n") else "")


def sites_query_text() -> str:
    """The ``sites`` named query as one SPARQL text with the benchmark's parameters inlined."""
    text = None
    try:
        from emdkg.resources import queries_dir

        path = queries_dir() / "sites.rq"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
    except EmdkgError:
        text = None
    if text is None:
        text = _FALLBACK_SITES
    # The header comments are documentation, not query: a client would not send them.
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")).strip() + "\n"
    import re

    from emdkg.web.sparql import inspect_query

    # A parameter NAME is the variable ?NAME_param (or ?NAME in older queries).
    bindings = {}
    for name, value in (("disease", DISEASE), ("phase", PHASE)):
        for variable in (name + "_param", name):
            if re.search(r"[?$]" + variable + r"(?![\w\u00b7])", text):
                bindings[variable] = value
                break
    inlined = inline_bindings(text, bindings) if bindings else text
    if inspect_query(inlined).form != "SELECT":
        raise EmdkgError("the sites query is not a SELECT query")
    return inlined


# --- servers ----------------------------------------------------------------------------------


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmdkgError(f"the server for {url} exited with code {process.returncode} before answering")
        try:
            response = httpx.get(url, params={"query": "ASK {}"}, timeout=2.0)
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise EmdkgError(f"the server for {url} did not answer within {timeout:g} s")


@contextlib.contextmanager
def _process(args: Sequence[str], url: str, *, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        _wait_ready(url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (Linux /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields_ = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields_[11]) + int(fields_[12])) / ticks
        except (OSError, IndexError, ValueError):
            continue
    return total


# --- load -------------------------------------------------------------------------------------


@dataclass
class ServerFigures:
    """What one server did under the load."""

    name: str
    requests: int
    errors: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms_per_request: float | None
    error_samples: list[str] = field(default_factory=list)


@dataclass
class WebBenchResult:
    """Figures of one ``emdkg bench web`` run."""

    clients: int
    seconds: float
    workers: int
    cache: bool
    triples: int
    query: str
    ours: ServerFigures
    oxigraph: ServerFigures | None
    same_rows: bool | None

    @property
    def ratio(self) -> float | None:
        if self.oxigraph is None or not self.oxigraph.requests_per_s:
            return None
        return self.ours.requests_per_s / self.oxigraph.requests_per_s

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio_ours_over_oxigraph"] = self.ratio
        return out


async def _load(url: str, query: str, clients: int, seconds: float) -> tuple[list[float], int, list[str], float]:
    """``clients`` httpx clients, one keep-alive connection each, sending back to back."""
    import httpx

    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    data = {"query": query}
    headers = {"Accept": "application/sparql-results+json"}
    pool = [httpx.AsyncClient(timeout=30.0) for _ in range(clients)]
    try:
        # One warm-up request per client, so connection set-up is not measured.
        await asyncio.gather(*(client.post(url, data=data, headers=headers) for client in pool))
        start = time.perf_counter()
        stop = start + seconds

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal errors
            while True:
                sent = time.perf_counter()
                if sent >= stop:
                    return
                try:
                    response = await client.post(url, data=data, headers=headers)
                    ok = response.status_code == 200
                    if not ok and len(samples) < 5:
                        samples.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as e:
                    ok = False
                    if len(samples) < 5:
                        samples.append(f"{type(e).__name__}: {e}")
                done = time.perf_counter()
                if ok:
                    latencies.append(done - sent)
                else:
                    errors += 1

        await asyncio.gather(*(worker(client) for client in pool))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(client.aclose() for client in pool))
    return latencies, errors, samples, elapsed


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0

    def add(self, url: str, pid: int, query: str, clients: int, seconds: float) -> None:
        cpu_before = _cpu_seconds(pid)
        latencies, errors, samples, elapsed = asyncio.run(_load(url, query, clients, seconds))
        self.cpu += _cpu_seconds(pid) - cpu_before
        self.latencies += latencies
        self.errors += errors
        self.samples += samples[: max(0, 5 - len(self.samples))]
        self.seconds += elapsed

    def figures(self, name: str) -> ServerFigures:
        total = len(self.latencies) + self.errors
        ms = [x * 1000 for x in self.latencies]
        return ServerFigures(
            name=name,
            requests=total,
            errors=self.errors,
            seconds=self.seconds,
            requests_per_s=len(self.latencies) / self.seconds if self.seconds else 0.0,
            p50_ms=statistics.median(ms) if ms else float("nan"),
            p90_ms=_percentile(ms, 90),
            p99_ms=_percentile(ms, 99),
            max_ms=max(ms) if ms else float("nan"),
            cpu_ms_per_request=(self.cpu * 1000 / total) if total and self.cpu > 0 else None,
            error_samples=self.samples,
        )


def _rows(url: str, query: str) -> list[tuple[tuple[str, str], ...]]:
    import httpx

    response = httpx.post(url, data={"query": query}, headers={"Accept": "application/sparql-results+json"}, timeout=30)
    if response.status_code != 200:
        raise EmdkgError(f"{url} answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    return sorted(
        tuple(sorted((k, v["value"]) for k, v in binding.items())) for binding in body["results"]["bindings"]
    )


def run_web_bench(
    *,
    clients: int = 20,
    seconds: float = 10.0,
    workers: int = 1,
    rounds: int = 4,
    cache: bool = True,
    data: Sequence[str | os.PathLike[str]] = (),
    with_oxigraph: bool = True,
    progress: Any = None,
) -> WebBenchResult:
    """Start both servers, check they agree, load them, stop them; see the module doc.

    Each server gets ``seconds`` of load in total, in ``rounds`` alternating slices (Oxigraph,
    emdkg, Oxigraph, ...), so that a change in the machine's background load during the run
    weighs on both alike.
    """
    if clients < 1 or seconds <= 0 or rounds < 1:
        raise EmdkgError("--clients and --rounds must be at least 1 and --seconds more than 0")
    if clients > 200 or seconds > 300:
        raise EmdkgError("the load test is bounded: at most 200 clients and 300 seconds")
    say = progress or (lambda message: None)
    query = sites_query_text()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="emdkg-bench-web-"))
        # The same triples for both servers: dump what emdkg loads, then load that into Oxigraph.
        from emdkg.resources import bundled_rdf_files
        from emdkg.store import load_files

        dump = Path(tmp, "kb.nt")
        dump.write_bytes(load_files([*bundled_rdf_files(), *data]).serialize("ntriples"))
        triples = sum(1 for line in dump.read_bytes().splitlines() if line.strip())

        port = free_port()
        ours_url = f"http://127.0.0.1:{port}/sparql"
        args = [sys.executable, "-m", "emdkg", "serve", "--port", str(port), "--log-level", "warning",
                "--workers", str(workers), "--no-bundled", "--data", str(dump)]
        if not cache:
            args += ["--cache-entries", "0"]
        say(f"starting emdkg serve on 127.0.0.1:{port} ({workers} worker{'s' if workers > 1 else ''})")
        ours_process = stack.enter_context(_process(args, ours_url))

        ox_process = ox_url = None
        binary = oxigraph_binary() if with_oxigraph else None
        if with_oxigraph and binary is None:
            say("oxigraph (PyPI package 'oxigraph') is not installed: measuring emdkg only")
        if binary is not None:
            location = Path(tmp, "oxigraph")
            subprocess.run(
                [binary, "load", "--location", str(location), "--file", str(dump)],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            ox_port = free_port()
            ox_url = f"http://127.0.0.1:{ox_port}/query"
            say(f"starting oxigraph serve on 127.0.0.1:{ox_port}")
            ox_process = stack.enter_context(
                _process([binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{ox_port}"], ox_url)
            )

        same_rows = None
        if ox_url is not None:
            same_rows = _rows(ours_url, query) == _rows(ox_url, query)
            if not same_rows:
                raise EmdkgError("emdkg and Oxigraph answer the sites query with different rows")
        ours, theirs = _Tally(), _Tally()
        slice_seconds = seconds / rounds
        for round_ in range(1, rounds + 1):
            if ox_process is not None and ox_url is not None:
                say(f"round {round_}/{rounds}: oxigraph, {clients} clients for {slice_seconds:g} s")
                theirs.add(ox_url, ox_process.pid, query, clients, slice_seconds)
            say(f"round {round_}/{rounds}: emdkg, {clients} clients for {slice_seconds:g} s")
            ours.add(ours_url, ours_process.pid, query, clients, slice_seconds)
    return WebBenchResult(
        clients, seconds, workers, cache, triples, query, ours.figures("emdkg"),
        theirs.figures("oxigraph") if ox_url is not None else None, same_rows,
    )


def format_report(result: WebBenchResult) -> str:
    """A table of the figures, with the ratio ours/oxigraph."""
    lines = [
        f"SPARQL endpoint load test: sites query (multiple myeloma, relapse), {result.clients} clients x "
        f"{result.seconds:g} s on 127.0.0.1, {result.triples} triples, emdkg workers: {result.workers}, "
        f"emdkg answer cache: {'on' if result.cache else 'off'}",
        "",
        f"{'server':<10} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU ms/req':>11}",
    ]
    for figures in (result.ours, result.oxigraph):
        if figures is None:
            continue
        cpu = f"{figures.cpu_ms_per_request:.3f}" if figures.cpu_ms_per_request is not None else "n/a"
        lines.append(
            f"{figures.name:<10} {figures.requests:>9} {figures.errors:>7} {figures.requests_per_s:>9.0f} "
            f"{figures.p50_ms:>8.2f} {figures.p90_ms:>8.2f} {figures.p99_ms:>8.2f} {figures.max_ms:>8.2f} {cpu:>11}"
        )
    if result.ratio is not None:
        verdict = "meets" if result.ratio >= 0.8 else "misses"
        lines += ["", f"throughput ratio emdkg/oxigraph: {result.ratio:.2f} ({verdict} the 0.8 target); same rows: {result.same_rows}"]
    for figures in (result.ours, result.oxigraph):
        if figures is not None and figures.error_samples:
            lines.append(f"{figures.name} errors, first ones: " + " | ".join(figures.error_samples))
    return "\n".join(lines)


def main_json(result: WebBenchResult) -> str:
    return json.dumps(result.as_json(), indent=2)


# --- the command line: `emdkg bench web` ---------------------------------------------------------


def _command() -> Any:
    import click

    @click.command("web")
    @click.option("--clients", type=click.IntRange(1, 200), default=20, show_default=True,
                  help="Concurrent clients (one keep-alive connection each).")
    @click.option("--seconds", type=click.FloatRange(0, 300, min_open=True), default=10.0, show_default=True,
                  help="Seconds of load per server.")
    @click.option("--rounds", type=click.IntRange(1, 50), default=4, show_default=True,
                  help="Alternating slices the seconds are split into (Oxigraph, emdkg, ...).")
    @click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
                  help="emdkg serve worker processes.")
    @click.option("--no-cache", is_flag=True, default=False,
                  help="Run emdkg serve without its answer cache (every request runs the query).")
    @click.option("--no-oxigraph", is_flag=True, default=False, help="Measure emdkg only.")
    @click.option("--json", "as_json", is_flag=True, default=False, help="Print the figures as JSON.")
    def web(
        clients: int, seconds: float, rounds: int, workers: int, no_cache: bool, no_oxigraph: bool, as_json: bool
    ) -> int:
        """Load-test /sparql with the sites query: emdkg serve against Oxigraph server.

        Both servers run on 127.0.0.1 with the same data; the load is bounded (clients x
        seconds) and both are stopped at the end. Exit 1 when any request failed.
        """
        progress = None if as_json else (lambda message: click.echo(message, err=True))
        result = run_web_bench(
            clients=clients, seconds=seconds, rounds=rounds, workers=workers, cache=not no_cache,
            with_oxigraph=not no_oxigraph, progress=progress,
        )
        click.echo(main_json(result) if as_json else format_report(result))
        failed = result.ours.errors or (result.oxigraph is not None and result.oxigraph.errors)
        return 1 if failed else 0

    return web


#: ``emdkg bench web`` (registered on the ``bench`` group in :mod:`emdkg.cli.bench_cmds`).
web_command = _command()
