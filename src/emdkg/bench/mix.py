"""A mixed load on ``emdkg serve``: many clients sending good, bad and slow requests at once.

``python -m emdkg.bench.mix`` (50 clients for 30 s by default) starts ``emdkg serve`` on a free
port of 127.0.0.1 in its own process group, runs the clients on loopback for a fixed time,
checks that the server still answers, stops it and prints a report. It exits 1 when a good
request got a 5xx answer (or failed), a bad one got a 5xx, or the server stopped answering.
``tests/test_serve_hardening.py`` runs the same with fewer seconds.

Each client sends its next request as soon as the last is answered, drawn from:

* **good** (70 %): the named-query API and the pages people use, and well-formed SPARQL with a
  LIMIT (each sent once before the clock starts: a server in use is warm). Must be 200, always.
* **bad** (20 %): syntax errors, updates, ``SERVICE``, ``FROM <file:...>``, unknown query
  names and terms, over-large bodies, results over the size limit. Must be 4xx, or 503 (busy
  or timed out, with Retry-After) when it needs the engine while the slow ones fill its lane.
* **slow** (10 %): queries that run longer than the time limit. Must be 200 or 503 (the
  time limit's answer), never another 5xx.

Everything is bounded: the number of clients, the seconds, one server process, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from emdkg.servers import free_port

__all__ = ["MixResult", "run_mix", "serving", "REQUESTS", "main"]

_PREFIXES = "PREFIX emdkg: <https://w3id.org/emdkg/> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "

#: (kind, method, path, params or form, body) of each request of the mix.
Request = tuple[str, str, str, dict[str, str] | None, bytes | None]

GOOD: list[Request] = [
    ("good", "GET", "/api/queries/sites", {"disease": "multiple myeloma", "phase": "relapse"}, None),
    ("good", "GET", "/api/queries/incidence", {"disease": "MM"}, None),
    ("good", "GET", "/api/queries/therapies", {"disease": "acute lymphoblastic leukemia"}, None),
    ("good", "GET", "/api/queries/regimen-components", {"regimen": "VDCP"}, None),
    ("good", "GET", "/api/queries/source-errors", {}, None),
    ("good", "GET", "/api/search", {"q": "myeloma"}, None),
    ("good", "GET", "/", None, None),
    ("good", "GET", "/entity/emdkg:MultipleMyeloma", None, None),
    ("good", "GET", "/healthz", None, None),
    ("good", "GET", "/sparql", {"query": _PREFIXES + "SELECT ?s ?l WHERE { ?s rdfs:label ?l } LIMIT 20"}, None),
    ("good", "POST", "/sparql", {"query": _PREFIXES + "ASK { ?f a emdkg:SiteInvolvementFinding }"}, None),
    ("good", "POST", "/sparql", {"query": _PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE { ?s a emdkg:SiteInvolvementFinding }"}, None),
]
BAD: list[Request] = [
    ("bad", "GET", "/sparql", {"query": "SELECT WHERE {"}, None),
    ("bad", "POST", "/sparql", {"update": "DROP ALL"}, None),
    ("bad", "POST", "/sparql", {"query": "INSERT DATA { <http://e/a> <http://e/b> <http://e/c> }"}, None),
    ("bad", "GET", "/sparql", {"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"}, None),
    ("bad", "GET", "/sparql", {"query": "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }"}, None),
    ("bad", "GET", "/sparql", {"query": "SELECT * WHERE { ?s ?p ?o }"}, None),  # over the result-size limit
    ("bad", "GET", "/api/queries/sitez", {"disease": "MM"}, None),
    ("bad", "GET", "/api/queries/sites", {"disease": 'x" } UNION { ?s ?p ?o } #'}, None),
    ("bad", "POST", "/sparql", None, b"query=" + b"x" * 300_000),  # over the body limit
]
SLOW: list[Request] = [
    ("slow", "GET", "/sparql", {"query": _PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE { ?a rdfs:label ?x . ?b rdfs:label ?y . "
                                "?c a ?t . FILTER(STR(?x) < STR(?y)) }"}, None),
    ("slow", "GET", "/sparql", {"query": "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } OFFSET 1000000 LIMIT 1"}, None),
]
REQUESTS = {"good": GOOD, "bad": BAD, "slow": SLOW}
WEIGHTS = {"good": 0.7, "bad": 0.2, "slow": 0.1}

#: The ``emdkg serve`` options of the run (the limits the mix is checked against).
SERVE_OPTIONS = ["--query-timeout", "5", "--max-results", "2000", "--max-body", "200000", "--log-level", "warning"]


@dataclass
class MixResult:
    clients: int
    seconds: float
    statuses: dict[str, Counter[int]] = field(default_factory=dict)  # kind -> status -> count
    failures: dict[str, Counter[str]] = field(default_factory=dict)  # kind -> exception -> count
    good_latencies: list[float] = field(default_factory=list, repr=False)
    answering_after: bool = False

    @property
    def requests(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values()) + sum(sum(c.values()) for c in self.failures.values())

    def count(self, kind: str, low: int, high: int) -> int:
        return sum(n for s, n in self.statuses.get(kind, Counter()).items() if low <= s <= high)

    @property
    def problems(self) -> list[str]:
        out = []
        good_5xx = self.count("good", 500, 599)
        good_other = self.count("good", 0, 199) + self.count("good", 300, 499)
        if good_5xx or good_other:
            out.append(f"{good_5xx} good request(s) got a 5xx answer, {good_other} another non-200 answer")
        if sum(self.failures.get("good", Counter()).values()):
            out.append(f"good requests failed: {dict(self.failures['good'])}")
        # Under load a request that needs the engine may be told 503 (busy or timed out, with
        # Retry-After); anything else in 5xx is a failure of the server.
        bad_wrong = sum(n for s, n in self.statuses.get("bad", Counter()).items() if not (400 <= s < 500 or s == 503))
        if bad_wrong:
            out.append(f"bad requests got {dict(self.statuses['bad'])}")
        slow_wrong = sum(n for s, n in self.statuses.get("slow", Counter()).items() if s not in (200, 503))
        if slow_wrong:
            out.append(f"slow requests got {dict(self.statuses['slow'])}")
        for kind in ("bad", "slow"):
            if sum(self.failures.get(kind, Counter()).values()):
                out.append(f"{kind} requests failed: {dict(self.failures[kind])}")
        if not self.answering_after:
            out.append("the server did not answer after the load")
        return out

    def percentile(self, q: float) -> float:
        values = sorted(self.good_latencies)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))]

    def report(self) -> str:
        lines = [f"{self.clients} clients, {self.seconds:g} s, {self.requests} requests "
                 f"({self.requests / self.seconds:.0f}/s)"]
        for kind in ("good", "bad", "slow"):
            statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.get(kind, Counter()).items()))
            failures = ", ".join(f"{e}: {n}" for e, n in sorted(self.failures.get(kind, Counter()).items()))
            lines.append(f"  {kind:5} {statuses or '-'}" + (f"; failed: {failures}" if failures else ""))
        lines.append(f"  good latency p50 {self.percentile(0.5) * 1000:.0f} ms, p99 {self.percentile(0.99) * 1000:.0f} ms")
        lines.append(f"  answering afterwards: {'yes' if self.answering_after else 'NO'}")
        lines.append("  OK" if not self.problems else "  PROBLEMS: " + "; ".join(self.problems))
        return "\n".join(lines)


@contextlib.contextmanager
def serving(args: Sequence[str] = (), *, port: int | None = None, timeout: float = 90) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``emdkg serve ARGS`` on 127.0.0.1 (its own process group), stopped at the end: (base URL, process)."""
    import httpx

    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "emdkg", "serve", "--port", str(port), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"emdkg serve exited with {process.returncode}: {err.strip()[-500:]}")
            try:
                if httpx.get(base + "/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"emdkg serve did not answer at {base} within {timeout:g} s")
            time.sleep(0.1)
        yield base, process
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


async def _clients(base: str, clients: int, seconds: float, seed: int) -> MixResult:
    import httpx

    result = MixResult(clients, seconds)
    for kind in REQUESTS:
        result.statuses[kind] = Counter()
        result.failures[kind] = Counter()
    kinds = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in kinds]
    stop_at = 0.0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(number: int, http: httpx.AsyncClient) -> None:
        nonlocal stop_at
        rng = random.Random(seed * 1000 + number)
        while time.monotonic() < stop_at:
            kind = rng.choices(kinds, weights)[0]
            _, method, path, params, body = rng.choice(REQUESTS[kind])
            started = time.monotonic()
            try:
                if method == "GET":
                    response = await http.get(path, params=params)
                elif body is not None:
                    response = await http.post(path, content=body,
                                               headers={"Content-Type": "application/x-www-form-urlencoded"})
                else:
                    response = await http.post(path, data=params)
            except httpx.HTTPError as e:
                result.failures[kind][type(e).__name__] += 1
                continue
            result.statuses[kind][response.status_code] += 1
            if kind == "good":
                result.good_latencies.append(time.monotonic() - started)

    # Long enough for a request queued behind the slow ones; the server's own limits decide.
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits, trust_env=False) as http:
        # A server in use is warm: each good request once, before the clock starts (not counted).
        for _, method, path, params, _ in GOOD:
            await (http.get(path, params=params) if method == "GET" else http.post(path, data=params))
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return result


def run_mix(base: str, *, clients: int = 50, seconds: float = 30, seed: int = 0) -> MixResult:
    """Run the mix against a server at ``base``, then check it still answers."""
    import httpx

    result = asyncio.run(_clients(base, clients, seconds, seed))
    try:
        health = httpx.get(base + "/healthz", timeout=10, trust_env=False)
        _, _, path, params, _ = GOOD[0]
        answer = httpx.get(base + path, params=params, timeout=30, trust_env=False)
        result.answering_after = health.status_code == 200 and answer.status_code == 200
    except httpx.HTTPError:
        result.answering_after = False
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emdkg.bench.mix", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=30, help="seconds of load (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    options = parser.parse_args(argv)
    if not 1 <= options.clients <= 500 or not 0 < options.seconds <= 600:
        parser.error("bounded on purpose: 1-500 clients, up to 600 seconds")
    with serving(SERVE_OPTIONS) as (base, _):
        result = run_mix(base, clients=options.clients, seconds=options.seconds, seed=options.seed)
    if options.json:
        print(json.dumps({"clients": result.clients, "seconds": result.seconds, "requests": result.requests,
                          "statuses": {k: {str(s): n for s, n in c.items()} for k, c in result.statuses.items()},
                          "failures": {k: dict(c) for k, c in result.failures.items()},
                          "answering_after": result.answering_after, "problems": result.problems}, indent=1))
    else:
        print(result.report())
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
