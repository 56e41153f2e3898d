"""``emdkg bench servers``: the release against real SPARQL servers, timed in one run.

Measured, each as the median of ``repeat`` runs (with min and max):

* **export**: :func:`emdkg.release.export` of every format into a temporary folder;
* per server (Oxigraph server, Virtuoso; each started on 127.0.0.1 in a temporary folder and
  stopped at the end, skipped with the reason when not installed): the time to start it, and
  :func:`emdkg.release.load` of the release (staging graph, count check, swap, count check);
* per named query, with its header's example parameters: the latency on the embedded store
  (pyoxigraph, in this process) and over HTTP on each server (:class:`RemoteStore`), and the
  ratio HTTP / embedded; and whether the rows are the same.

The queries run with their parameters already resolved to IRIs (by the embedded store's term
index), so each figure is the query alone, and the same text runs everywhere.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from emdkg.errors import EmdkgError

__all__ = ["run_server_bench", "format_report"]


def _stats(samples: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": len(samples)}


def _timed(function: Callable[[], Any], repeat: int) -> tuple[dict[str, float], Any]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - started)
    return _stats(samples), result


def run_server_bench(
    *,
    repeat: int = 5,
    kinds: Sequence[str] = ("oxigraph", "virtuoso"),
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Run the measurements; a JSON-ready report (seconds)."""
    from emdkg import queries, release, servers
    from emdkg.remote_store import RemoteStore
    from emdkg.terms import index_for

    if repeat < 1:
        raise EmdkgError("--repeat must be at least 1")
    report: dict[str, Any] = {"repeat": repeat, "servers": {}, "queries": {}}

    log("export: all formats")
    with tempfile.TemporaryDirectory(prefix="emdkg-bench-export-") as tmp:
        report["export"], exported = _timed(lambda: release.export(Path(tmp)), repeat)
    report["triples"] = exported.triples

    store = release.load_release()
    graph = release.ReleaseGraph.from_quads(store.native)
    index = index_for(store)
    prepared = {}
    for name in queries.names():
        query = queries.get(name)
        prepared[name] = (query, queries.bindings_for(store, query, query.example_params(), index))

    def run_all(target: Any) -> dict[str, Any]:
        out = {}
        for name, (query, bindings) in prepared.items():
            try:
                target.select(query.text, bindings)  # warm up (plans, connections)
                stats, rows = _timed(lambda: queries.shape_rows(query, target.select(query.text, bindings)), repeat)
                out[name] = {**stats, "rows": len(rows), "_rows": rows}
            except EmdkgError as e:
                out[name] = {"error": e.message}
        return out

    log("queries: embedded store")
    embedded = run_all(store)
    for name, figures in embedded.items():
        report["queries"][name] = {"embedded": figures}

    for kind in kinds:
        if servers.AVAILABLE[kind]() is None:
            report["servers"][kind] = {"skipped": f"{kind} is not installed"}
            log(f"{kind}: not installed, skipped")
            continue
        log(f"{kind}: starting")
        started = time.perf_counter()
        with servers.running(kind) as server:
            entry: dict[str, Any] = {"start": time.perf_counter() - started}
            log(f"{kind}: loading ({repeat}x)")
            entry["load"], result = _timed(lambda: release.load(release=graph, **server.load_options()), repeat)
            entry["graph"], entry["loaded_triples"] = result.graph, result.triples
            remote = RemoteStore(server.query_url_for(result.graph), timeout=60)
            log(f"{kind}: queries over HTTP")
            for name, figures in run_all(remote).items():
                base = report["queries"][name]["embedded"]
                if "median" in figures and "median" in base:
                    figures["ratio"] = figures["median"] / base["median"]
                    figures["same_rows"] = figures["_rows"] == base["_rows"]
                report["queries"][name][kind] = figures
            remote.close()
        report["servers"][kind] = entry
    for per_query in report["queries"].values():
        for figures in per_query.values():
            figures.pop("_rows", None)
    return report


def _ms(figures: dict[str, Any] | None) -> str:
    if not figures:
        return "-"
    if "error" in figures:
        return "error"
    return f"{figures['median'] * 1000:.1f}"


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned plain-text tables."""
    lines = [
        f"export, all formats ({report['triples']} triples): {report['export']['median']:.3f} s "
        f"(median of {report['export']['runs']}; min {report['export']['min']:.3f}, max {report['export']['max']:.3f})",
        "",
    ]
    kinds = list(report["servers"])
    table = [["server", "start s", "load s (median)", "min", "max"]]
    for kind, entry in report["servers"].items():
        if "skipped" in entry:
            table.append([kind, entry["skipped"], "", "", ""])
        else:
            load = entry["load"]
            table.append([kind, f"{entry['start']:.2f}", f"{load['median']:.3f}", f"{load['min']:.3f}", f"{load['max']:.3f}"])
    lines += _align(table) + [""]
    live = [k for k in kinds if "skipped" not in report["servers"][k]]
    header = ["query", "embedded ms"]
    for kind in live:
        header += [f"{kind} ms", "ratio", "same rows"]
    table = [header]
    ratios: dict[str, list[float]] = {k: [] for k in live}
    for name, per in report["queries"].items():
        row = [name, _ms(per.get("embedded"))]
        for kind in live:
            figures = per.get(kind, {})
            ratio = figures.get("ratio")
            if ratio is not None:
                ratios[kind].append(ratio)
            same = figures.get("same_rows")
            row += [_ms(figures), f"{ratio:.1f}x" if ratio is not None else "-",
                    "-" if same is None else ("yes" if same else "NO")]
        table.append(row)
    lines += _align(table)
    for kind in live:
        if ratios[kind]:
            lines.append(f"median ratio {kind} over HTTP / embedded: {statistics.median(ratios[kind]):.1f}x")
    return "\n".join(lines)


def _align(table: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
