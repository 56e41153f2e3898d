"""The benchmark: load, named queries, a traversal, SHACL validation and memory, at several
sizes, for emdkg and for the alternatives a user would otherwise pick, on the same data.

For each size the synthetic knowledge base (:mod:`emdkg.bench.generate`, with injected
violations) is generated once into the work folder; the data every engine loads is the bundled
knowledge graph (ontology, imports, curated KB) plus that file. Every *stage* runs in a fresh
Python process, so that its peak memory (``ru_maxrss``) is its own:

====================  =========================================================================
stage                 what it measures
====================  =========================================================================
``load``              :func:`emdkg.load` of the data into pyoxigraph, once per process,
                      ``repeat`` processes (the load time, and the peak memory of a load)
``load-raw``          ``pyoxigraph.Store.load`` of the same files: the engine without the API
``ours``              one load, then every named query with its parameters (``select`` of
                      the query text with the parameters bound, rows shaped as
                      :func:`emdkg.queries.run` shapes them; the same bindings are given to
                      every baseline); peak memory of load + queries
``ours-validate``     :func:`emdkg.shacl_fast.validate_fast` on the data graph ``emdkg validate``
                      builds (the file plus the ontology slice); the violations found must be
                      exactly the injected ones
``ours-graph``        the networkx projection (:mod:`emdkg.graph`) and traversals on it
``rdflib``            rdflib parsing the same files, and rdflib's SPARQL engine on the same
                      query texts and bindings
``pyshacl``           plain pyshacl, the same shapes on the same data graph, with the arguments
                      :mod:`emdkg.validate` uses; the violations must equal ours
``oxigraph-server``   ``oxigraph load`` (bulk loader, on disk) and the queries over HTTP
``jena``              Apache Jena (Debian's jars): parsing into an in-memory model, and ARQ on
                      the query texts with the parameters as VALUES, timed inside the JVM
====================  =========================================================================

Times are medians over ``repeat`` runs (after one warm-up run for queries), with min and max.
Slow baselines are measured with fewer repetitions at 1M triples (``baseline_repeat``), and
pyshacl at 1M only with ``full_baselines`` (it needs many minutes there; its agreement with
ours is proven at the smaller sizes).
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from emdkg.bench.generate import format_size, generate_file, generator_version, parse_size, sidecar_path

__all__ = [
    "QUERY_PARAMS",
    "DEFAULT_SIZES",
    "run_benchmark",
    "format_report",
    "format_markdown",
    "summarise",
    "startup_time",
    "main",
]

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
#: The parameters each named query runs with (a query not listed runs with its header example).
QUERY_PARAMS: dict[str, dict[str, str]] = {
    "sites": {"disease": "multiple myeloma", "phase": "relapse"},
    "incidence": {"disease": "multiple myeloma"},
    "prognosis": {"disease": "multiple myeloma"},
    "therapies": {"disease": "acute lymphoblastic leukemia"},
    "treatment-phases": {"disease": "acute lymphoblastic leukemia"},
    "programmes": {"disease": "acute lymphoblastic leukemia"},
    "evidence": {"entity": "blinatumomab"},
    "citations": {},  # the first cited synthetic publication, found at run time (_cited)
    "regimen-components": {"regimen": "VDCP"},
    "source-errors": {},
}
#: The command whose whole-process start-up is measured (on the bundled knowledge base).
STARTUP_COMMAND = ("sites", "--disease", "multiple myeloma", "--phase", "relapse")
#: Sizes from which the slowest baselines run with ``baseline_repeat`` repetitions.
LARGE = 1_000_000


###########################################################################################
# Small helpers
###########################################################################################


def summarise(values: Sequence[float]) -> dict[str, float | int]:
    """Median, min and max (seconds) of some timings.

    >>> summarise([0.3, 0.1, 0.2])
    {'median': 0.2, 'min': 0.1, 'max': 0.3, 'n': 3}
    """
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _timed(fn: Callable[[], Any], repeat: int, warmup: int = 0) -> tuple[dict[str, float | int], Any]:
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return summarise(times), result


def _rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024, 1)


def _data_files(generated: str) -> list[str]:
    from emdkg.resources import bundled_rdf_files

    return [*(str(p) for p in bundled_rdf_files()), generated]


def _query_plan(store: Any) -> list[tuple[str, dict[str, Any]]]:
    """(name, bindings) of every named query, parameters resolved on ``store``."""
    from emdkg.queries import bindings_for, registry

    plan = []
    for name, query in sorted(registry().items()):
        params = dict(QUERY_PARAMS.get(name, query.example_params()))
        if name == "citations" and not params:
            params = {"publication": _cited(store)}
        plan.append((name, dict(bindings_for(store, query, params))))
    return plan


def _plan_from(args: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (name, bindings) plan the ``ours`` stage resolved, for the baselines."""
    from emdkg.values import IRI

    return [(name, {k: IRI(v) for k, v in bindings.items()}) for name, bindings in args["plan"]]


def _cited(store: Any) -> str:
    """The DOI of the first synthetic publication that others cite (the same at every size for
    a seed), else of any cited publication."""
    rows = store.select(
        "SELECT ?doi WHERE { ?citing <http://purl.org/spar/cito/cites> ?p . "
        "?p <http://purl.org/ontology/bibo/doi> ?doi } "
        'ORDER BY DESC(STRSTARTS(?doi, "10.5555/emdkg.syn.")) STRLEN(?doi) ?doi LIMIT 1'
    )
    if not rows:
        raise RuntimeError("no cited publication with a DOI in the data")
    return str(rows[0]["doi"])


def _run_query(store: Any, name: str, bindings: dict[str, Any]) -> int:
    from emdkg.queries import get, shape_rows

    query = get(name)
    return len(shape_rows(query, store.select(query.text, bindings)))


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


###########################################################################################
# Stages (each runs in a fresh process: python -m emdkg.bench.run stage NAME ARGS-JSON)
###########################################################################################


def stage_load(args: dict[str, Any]) -> dict[str, Any]:
    """One :func:`emdkg.load` of the files, in a fresh process (its time and peak memory)."""
    import emdkg

    start = time.perf_counter()
    kg = emdkg.load(args["files"][-1:], include_bundled=True)
    return {"seconds": time.perf_counter() - start, "quads": len(kg), "rss_mb": _rss_mb()}


def stage_load_raw(args: dict[str, Any]) -> dict[str, Any]:
    """The engine alone: ``pyoxigraph.Store.load(path=...)`` of the same files (strict), for
    what :func:`emdkg.load` adds (reading the file into memory, the UTF-8 check, Turtle files)."""
    import pyoxigraph as ox

    from emdkg.store import FORMATS, format_for_path

    start = time.perf_counter()
    store = ox.Store()
    for f in args["files"]:
        store.load(path=f, format=FORMATS[format_for_path(f)][0], base_iri=Path(f).resolve().as_uri())
    return {"seconds": time.perf_counter() - start, "quads": len(store), "rss_mb": _rss_mb()}


def stage_ours(args: dict[str, Any]) -> dict[str, Any]:
    """One load, then every named query (one warm-up run, then ``repeat`` timed runs)."""
    import emdkg

    start = time.perf_counter()
    kg = emdkg.load(args["files"][-1:], include_bundled=True)
    out: dict[str, Any] = {"load_once": time.perf_counter() - start, "quads": len(kg), "queries": {}}
    start = time.perf_counter()
    plan = _query_plan(kg.store)
    out["term_index"] = time.perf_counter() - start
    out["plan"] = [[name, {k: str(v) for k, v in bindings.items()}] for name, bindings in plan]
    for name, bindings in plan:
        stats, rows = _timed(lambda: _run_query(kg.store, name, bindings), args["repeat"], warmup=1)
        out["queries"][name] = {**stats, "rows": rows}
    out["rss_mb"] = _rss_mb()
    return out


def stage_validate(args: dict[str, Any]) -> dict[str, Any]:
    import pyoxigraph as ox

    from emdkg.bench.generate import expected_keys
    from emdkg.shacl_fast import compile_shapes, ontology_slice, result_key

    generated = args["files"][-1]
    start = time.perf_counter()
    store = ox.Store()
    store.load(path=generated, format=ox.RdfFormat.N_TRIPLES)
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in ontology_slice())
    build = time.perf_counter() - start
    program = compile_shapes(args["shapes"])
    times = []
    results: list[Any] = []
    rss_first = 0.0
    for _ in range(args["repeat"]):
        start = time.perf_counter()
        results = program.run(store)
        times.append(time.perf_counter() - start)
        rss_first = rss_first or _rss_mb()
    keys = {result_key(r) for r in results}
    expected = expected_keys(sidecar_path(generated))
    return {
        "validate": summarise(times),
        "data_graph_build": build,
        "results": len(results),
        "violations": sorted(keys),
        "expected": len(expected),
        "match_expected": keys == expected,
        "rss_mb": rss_first,  # after the first run: what `emdkg validate` needs
        "rss_mb_all_runs": _rss_mb(),
    }


def stage_graph(args: dict[str, Any]) -> dict[str, Any]:
    import emdkg

    kg = emdkg.load(args["files"][-1:])
    publication = _cited(kg.store)
    start = time.perf_counter()
    graph = kg.graph()
    build = time.perf_counter() - start
    traversals = {
        "sites_by": lambda: len(graph.sites_by("multiple myeloma", "relapse")),
        "neighbours": lambda: len(graph.neighbours("blinatumomab")),
        "citation_closure": lambda: len(graph.citation_closure(publication)),
    }
    out: dict[str, Any] = {"build": build, "nodes": graph.nx.number_of_nodes(),
                           "edges": graph.nx.number_of_edges(), "traversals": {}}
    for name, fn in traversals.items():
        stats, n = _timed(fn, args["repeat"], warmup=1)
        out["traversals"][name] = {**stats, "rows": n}
    out["rss_mb"] = _rss_mb()
    return out


def _rdflib_store(dataset: Any) -> Any:
    from emdkg.rdflib_store import RdflibStore

    class Prebuilt(RdflibStore):
        def __init__(self, ds: Any) -> None:
            self._dataset = ds

    return Prebuilt(dataset)


def _rdflib_parse(files: Sequence[str]) -> Any:
    from rdflib import Dataset

    ds = Dataset(default_union=True)
    for f in files:
        ds.default_graph.parse(f, format="nt" if f.endswith(".nt") else "turtle")
    return ds


def stage_rdflib(args: dict[str, Any]) -> dict[str, Any]:
    import gc

    files = args["files"]
    times = []
    ds = None
    for _ in range(args["parse_repeat"]):
        ds = None
        gc.collect()
        start = time.perf_counter()
        ds = _rdflib_parse(files)
        times.append(time.perf_counter() - start)
    out: dict[str, Any] = {"load": summarise(times), "queries": {}}
    if args.get("skip_queries"):
        out["rss_mb"] = _rss_mb()
        return out
    plan = _plan_from(args)  # the same parameters as ours, resolved to the same IRIs
    store = _rdflib_store(ds)
    for name, bindings in plan:
        stats, rows = _timed(lambda: _run_query(store, name, bindings), args["query_repeat"], warmup=1)
        out["queries"][name] = {**stats, "rows": rows}
    out["rss_mb"] = _rss_mb()
    return out


def stage_pyshacl(args: dict[str, Any]) -> dict[str, Any]:
    import pyshacl
    from rdflib import Graph

    from emdkg.bench.generate import expected_keys
    from emdkg.shacl_fast import pyshacl_keys
    from emdkg.validate import build_data_graph

    generated = args["files"][-1]
    data_graph = build_data_graph([generated])
    shapes_graph = Graph().parse(args["shapes"], format="turtle")
    start = time.perf_counter()
    _, results_graph, _ = pyshacl.validate(
        data_graph, shacl_graph=shapes_graph, inference="none", advanced=True,
        allow_warnings=True, allow_infos=True, inplace=True,
    )
    elapsed = time.perf_counter() - start
    keys = pyshacl_keys(results_graph, shapes_graph)
    expected = expected_keys(sidecar_path(generated))
    return {
        "validate": summarise([elapsed]),
        "results": len(keys),
        "violations": sorted(keys),
        "match_expected": keys == expected,
        "rss_mb": _rss_mb(),
    }


def stage_oxigraph_server(args: dict[str, Any]) -> dict[str, Any]:
    from emdkg.remote_store import RemoteStore
    from emdkg.servers import oxigraph_binary, start_oxigraph

    binary = oxigraph_binary()
    if binary is None:
        return {"skipped": "the oxigraph server is not installed (pip install oxigraph)"}
    files = args["files"]
    plan = _plan_from(args)
    with tempfile.TemporaryDirectory(prefix="emdkg-bench-oxigraph-") as tmp:
        times = []
        for r in range(args["repeat"]):
            db = Path(tmp) / f"run{r}" / "db"
            db.parent.mkdir(parents=True)
            start = time.perf_counter()
            # One `oxigraph load` call with every file: the bulk loader of the server.
            cmd = [binary, "load", "--location", str(db)]
            for f in files:
                cmd += ["--file", f]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            times.append(time.perf_counter() - start)
        out: dict[str, Any] = {"load": summarise(times), "queries": {}}
        server = start_oxigraph(Path(tmp) / f"run{args['repeat'] - 1}")
        try:
            store = RemoteStore(server.query_url, timeout=600)  # the same query path, over HTTP
            for name, bindings in plan:
                stats, rows = _timed(lambda: _run_query(store, name, bindings), args["repeat"], warmup=1)
                out["queries"][name] = {**stats, "rows": rows}
            store.close()
        finally:
            server.stop()
    return out


def stage_jena(args: dict[str, Any]) -> dict[str, Any]:
    from emdkg.bench.jena import run_jena
    from emdkg.queries import get
    from emdkg.remote_store import bind_query

    files = args["files"]
    queries = {name: bind_query(get(name).text, bindings) for name, bindings in _plan_from(args)}
    return run_jena(files, queries, repeat=args["repeat"], parse_repeat=args["parse_repeat"])


STAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "load": stage_load,
    "load-raw": stage_load_raw,
    "ours": stage_ours,
    "ours-validate": stage_validate,
    "ours-graph": stage_graph,
    "rdflib": stage_rdflib,
    "pyshacl": stage_pyshacl,
    "oxigraph-server": stage_oxigraph_server,
    "jena": stage_jena,
}


def _stage(name: str, args: dict[str, Any], *, timeout: float | None = 3600, log: Callable[[str], None]) -> dict[str, Any]:
    """Run a stage in a fresh interpreter; its JSON result, or ``{"error": ...}`` (logged)."""
    log(f"  {name} ...")
    start = time.perf_counter()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "emdkg.bench.run", "stage", name, json.dumps(args)],
            capture_output=True, text=True, timeout=timeout, env=env,
        )
    except subprocess.TimeoutExpired:
        log(f"  {name} timed out after {timeout:g} s")
        return {"error": f"timed out after {timeout:g} s"}
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        error = lines[-1] if lines else f"exit code {proc.returncode}"
        log(f"  {name} failed: {error}")
        return {"error": error}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stage_wall"] = round(wall, 3)
    log(f"  {name} done in {wall:.1f} s")
    return result


###########################################################################################
# Start-up
###########################################################################################


def _emdkg_command() -> list[str]:
    beside = Path(sys.executable).parent / "emdkg"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("emdkg")
    return [found] if found else [sys.executable, "-m", "emdkg"]


def startup_time(runs: int = 20, command: Sequence[str] = STARTUP_COMMAND) -> dict[str, Any]:
    """Whole-process wall time of ``emdkg <command>`` on the bundled knowledge base: the median of
    ``runs`` runs, after one untimed run that warms the file cache and Python's bytecode cache.

    The bytecode cache is allowed even where ``PYTHONDONTWRITEBYTECODE`` is set (it is in some
    sandboxes; an installed package always has it: pip compiles on install), in a temporary
    folder (``PYTHONPYCACHEPREFIX``), so nothing is written beside the sources. Without it,
    every run compiles emdkg's modules again (~35 ms on this machine).
    """
    argv = [*_emdkg_command(), *command]
    with tempfile.TemporaryDirectory(prefix="emdkg-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        subprocess.run(argv, capture_output=True, env=env, check=True)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, env=env, check=True)
            times.append(time.perf_counter() - start)
    return {**summarise(times), "command": "emdkg " + " ".join(_quote(a) for a in command)}


def _quote(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


###########################################################################################
# The run
###########################################################################################


def _generated(workdir: Path, size: int, seed: int, violations: int, log: Callable[[str], None]) -> tuple[Path, float]:
    path = workdir / f"kb-{format_size(size)}-seed{seed}-v{violations}.nt"
    if path.is_file() and sidecar_path(path).is_file():
        meta = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        if (meta.get("requested_triples") == size and meta.get("seed") == seed
                and len(meta["violations"]) == violations and meta.get("version") == generator_version()):
            return path, float("nan")
    log(f"  generating {format_size(size)} triples ...")
    start = time.perf_counter()
    generate_file(size, path, seed=seed, violations=violations)
    return path, time.perf_counter() - start


def run_benchmark(
    sizes: Iterable[int] = DEFAULT_SIZES,
    *,
    repeat: int = 3,
    baseline_repeat: int | None = None,
    seed: int = 0,
    violations: int = 100,
    workdir: str | os.PathLike[str] | None = None,
    skip_slow_baselines: bool = False,
    full_baselines: bool = False,
    baselines: Iterable[str] = ("rdflib", "pyshacl", "oxigraph-server", "jena"),
    graph: bool = True,
    startup_runs: int = 20,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Measure every stage at every size; the results as a JSON-ready dict (see :func:`format_report`).

    ``baseline_repeat`` (default: ``repeat``, but 1 at 1M triples and above) is the number of
    repetitions of rdflib parsing and of the Jena and rdflib runs at those sizes.
    ``skip_slow_baselines`` skips rdflib at 1M+ (its parse alone takes half a minute there);
    ``full_baselines`` also runs pyshacl at 1M+ (many minutes).
    """
    from emdkg.bench.jena import jena_available
    from emdkg.resources import shapes_dir
    from emdkg.servers import oxigraph_binary

    baselines = set(baselines)
    shapes = str(shapes_dir() / "emdkg.shacl.ttl")
    owned = None
    if workdir is None:
        owned = tempfile.TemporaryDirectory(prefix="emdkg-bench-")
        workdir = owned.name
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_start": _loadavg(),
        },
        "settings": {"repeat": repeat, "seed": seed, "violations": violations,
                     "skip_slow_baselines": skip_slow_baselines, "full_baselines": full_baselines},
        "sizes": {},
    }
    try:
        for size in sizes:
            label = format_size(size)
            log(f"size {label}")
            path, gen_time = _generated(work, size, seed, violations, log)
            meta = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
            files = _data_files(str(path))
            large = size >= LARGE
            brepeat = baseline_repeat if baseline_repeat is not None else (1 if large else repeat)
            entry: dict[str, Any] = {
                "triples": meta["triples"],
                "generate_seconds": None if math.isnan(gen_time) else round(gen_time, 3),
                "injected_violations": len(meta["violations"]),
                "loadavg": _loadavg(),
            }
            common: dict[str, Any] = {"files": files, "shapes": shapes, "repeat": repeat}
            loads = [_stage("load", common, log=log) for _ in range(repeat)]
            good = [r for r in loads if "seconds" in r]
            raw = _stage("load-raw", common, log=log)
            entry["ours"] = _stage("ours", common, log=log)
            if "seconds" in raw:
                entry["ours"]["load_raw"] = summarise([raw["seconds"]])
            if good:
                entry["ours"]["load"] = summarise([r["seconds"] for r in good])
                entry["ours"]["load_rss_mb"] = max(r["rss_mb"] for r in good)
            elif "error" not in entry["ours"]:
                entry["ours"]["error"] = loads[0].get("error", "load failed")
            common["plan"] = entry["ours"].get("plan", [])
            entry["ours-validate"] = _stage("ours-validate", common, log=log)
            if graph:
                entry["ours-graph"] = _stage("ours-graph", common, log=log)
            if "rdflib" in baselines:
                if large and skip_slow_baselines:
                    entry["rdflib"] = {"skipped": "--skip-slow-baselines"}
                else:
                    entry["rdflib"] = _stage("rdflib", {**common, "parse_repeat": brepeat,
                                                        "query_repeat": brepeat}, log=log)
            if "pyshacl" in baselines:
                if large and not full_baselines:
                    entry["pyshacl"] = {"skipped": "runs at 1M only with --full-baselines (minutes); "
                                        "agreement is proven at the smaller sizes"}
                else:
                    entry["pyshacl"] = _stage("pyshacl", common, log=log)
            if "oxigraph-server" in baselines:
                entry["oxigraph-server"] = (
                    _stage("oxigraph-server", common, log=log) if oxigraph_binary()
                    else {"skipped": "the oxigraph server is not installed"})
            if "jena" in baselines:
                reason = jena_available()
                entry["jena"] = (
                    _stage("jena", {**common, "repeat": repeat, "parse_repeat": brepeat}, log=log)
                    if reason is None else {"skipped": reason})
            _compare(entry)
            report["sizes"][label] = entry
        if startup_runs:
            log("start-up")
            report["startup"] = startup_time(startup_runs)
    finally:
        report["machine"]["loadavg_end"] = _loadavg()
        if owned is not None:
            owned.cleanup()
    report["targets"] = targets(report)
    return report


def _median(block: Any, *keys: str) -> float | None:
    for key in keys:
        if not isinstance(block, dict) or key not in block:
            return None
        block = block[key]
    if isinstance(block, dict) and "median" in block:
        return float(block["median"])
    return None


def _compare(entry: dict[str, Any]) -> None:
    """Ratios baseline/ours ("x times faster") and the agreement of the validators."""
    ratios: dict[str, Any] = {}
    ours = entry.get("ours", {})
    for baseline in ("rdflib", "oxigraph-server", "jena"):
        other = entry.get(baseline, {})
        if "error" in other or "skipped" in other or not other:
            continue
        block: dict[str, Any] = {}
        a, b = _median(ours, "load"), _median(other, "load")
        if a and b:
            block["load"] = b / a
        for name in ours.get("queries", {}):
            a, b = _median(ours, "queries", name), _median(other, "queries", name)
            if a and b:
                block.setdefault("queries", {})[name] = b / a
        ratios[baseline] = block
    mine, theirs = entry.get("ours-validate", {}), entry.get("pyshacl", {})
    a, b = _median(mine, "validate"), _median(theirs, "validate")
    if a and b:
        ratios["pyshacl"] = {"validate": b / a}
    if "violations" in mine and "violations" in theirs:
        entry["validators_agree"] = mine["violations"] == theirs["violations"]
    entry["ratios"] = ratios


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured figure and hit or miss."""
    out: list[dict[str, Any]] = []
    big = report["sizes"].get("1m")

    def add(name: str, measured: Any, hit: bool | None, detail: str = "") -> None:
        out.append({"target": name, "measured": measured, "hit": hit, "detail": detail})

    if big:
        queries = big.get("ours", {}).get("queries", {})
        rdf = big.get("ratios", {}).get("rdflib", {}).get("queries", {})
        if rdf:
            worst = min(rdf.items(), key=lambda kv: kv[1])
            add("queries at 1M >= 50x faster than rdflib", f"min {worst[1]:.0f}x ({worst[0]})", worst[1] >= 50)
        else:
            add("queries at 1M >= 50x faster than rdflib", "rdflib not measured", None)
        if queries:
            slowest = max(queries.items(), key=lambda kv: kv[1]["median"])
            add("query p50 < 20 ms at 1M", f"max p50 {slowest[1]['median'] * 1000:.1f} ms ({slowest[0]})",
                slowest[1]["median"] < 0.020)
        load = _median(big.get("ours", {}), "load")
        if load is not None:
            add("load 1M < 3 s", f"{load:.2f} s", load < 3.0)
        ratio = big.get("ratios", {}).get("rdflib", {}).get("load")
        add("load >= 10x faster than rdflib parse", f"{ratio:.1f}x" if ratio else "rdflib not measured",
            None if ratio is None else ratio >= 10)
        v = _median(big.get("ours-validate", {}), "validate")
        if v is not None:
            add("SHACL validation of 1M < 5 s", f"{v:.2f} s", v < 5.0)
        agree = [report["sizes"][s].get("validators_agree") for s in report["sizes"]]
        match = [report["sizes"][s].get("ours-validate", {}).get("match_expected") for s in report["sizes"]]
        add("same violations as pyshacl (focus, shape, component)",
            f"agree at {', '.join(s for s, a in zip(report['sizes'], agree) if a)}; "
            f"injected violations found exactly at {', '.join(s for s, m in zip(report['sizes'], match) if m)}",
            all(a is not False for a in agree) and all(match) and any(a for a in agree))
        rss = {"load": big.get("ours", {}).get("load_rss_mb"), "load+queries": big.get("ours", {}).get("rss_mb"),
               "validation": big.get("ours-validate", {}).get("rss_mb")}
        rss = {k: v for k, v in rss.items() if v is not None}
        if rss:
            add("peak RSS at 1M < 600 MB", ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items()),
                max(rss.values()) < 600)
    start = report.get("startup")
    if start:
        add("start-up of `emdkg sites` < 150 ms", f"{start['median'] * 1000:.0f} ms", start["median"] < 0.150)
    return out


###########################################################################################
# The table
###########################################################################################


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def _fmt_stat(block: Any) -> str:
    if not isinstance(block, dict):
        return "-"
    if "skipped" in block:
        return "skipped"
    if "error" in block:
        return "error"
    if "median" not in block:
        return "-"
    text = _fmt_time(block["median"])
    if block.get("n", 1) > 1:
        text += f" [{_fmt_time(block['min'])}–{_fmt_time(block['max'])}]"
    return text


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def format_report(report: dict[str, Any]) -> str:
    """The results as a plain-text table: absolute figures, then ratios (baseline / ours)."""
    sizes = list(report["sizes"])
    rows: list[list[str]] = []

    def row(label: str, getter: Callable[[dict[str, Any]], str]) -> None:
        rows.append([label, *(getter(report["sizes"][s]) for s in sizes)])

    def stat(*keys: str) -> Callable[[dict[str, Any]], str]:
        def get(entry: dict[str, Any]) -> str:
            block: Any = entry
            for k in keys:
                if not isinstance(block, dict):
                    return "-"
                if "skipped" in block:
                    return "skipped"
                if "error" in block:
                    return "error"
                block = block.get(k)
            return _fmt_stat(block)
        return get

    def ratio(*keys: str) -> Callable[[dict[str, Any]], str]:
        def get(entry: dict[str, Any]) -> str:
            block: Any = entry.get("ratios", {})
            for k in keys:
                block = block.get(k) if isinstance(block, dict) else None
            return _fmt_ratio(block if isinstance(block, (int, float)) else None)
        return get

    row("triples (generated)", lambda e: f"{e['triples']:,}")
    row("load: emdkg (pyoxigraph)", stat("ours", "load"))
    row("load: pyoxigraph alone (Store.load)", stat("ours", "load_raw"))
    row("load: rdflib parse", stat("rdflib", "load"))
    row("load: oxigraph server (bulk load)", stat("oxigraph-server", "load"))
    row("load: Jena (in-memory)", stat("jena", "load"))
    names = sorted({n for s in sizes for n in report["sizes"][s].get("ours", {}).get("queries", {})})
    for name in names:
        row(f"query {name}: emdkg", stat("ours", "queries", name))
        row(f"query {name}: rdflib", stat("rdflib", "queries", name))
        row(f"query {name}: oxigraph server", stat("oxigraph-server", "queries", name))
        row(f"query {name}: Jena ARQ", stat("jena", "queries", name))
    row("graph: networkx projection", lambda e: _fmt_time(e.get("ours-graph", {}).get("build")))
    for t in ("sites_by", "neighbours", "citation_closure"):
        row(f"traversal {t}", stat("ours-graph", "traversals", t))
    row("SHACL: emdkg (compiled to SPARQL)", stat("ours-validate", "validate"))
    row("SHACL: pyshacl", stat("pyshacl", "validate"))
    row("SHACL: results (emdkg / expected)",
        lambda e: f"{e.get('ours-validate', {}).get('results', '-')} / {e.get('injected_violations', '-')}")
    row("SHACL: same violations as pyshacl", lambda e: {True: "yes", False: "NO"}.get(e.get("validators_agree"), "-"))
    row("peak RSS: load (MB)", lambda e: str(e.get("ours", {}).get("load_rss_mb", "-")))
    row("peak RSS: load + queries (MB)", lambda e: str(e.get("ours", {}).get("rss_mb", "-")))
    row("peak RSS: validation (MB)", lambda e: str(e.get("ours-validate", {}).get("rss_mb", "-")))
    row("peak RSS: graph projection (MB)", lambda e: str(e.get("ours-graph", {}).get("rss_mb", "-")))
    row("peak RSS: rdflib (MB)", lambda e: str(e.get("rdflib", {}).get("rss_mb", "-")))
    rows.append(["", *["" for _ in sizes]])
    rows.append(["ratios (baseline time / emdkg time)", *["" for _ in sizes]])
    row("load vs rdflib", ratio("rdflib", "load"))
    row("load vs oxigraph server", ratio("oxigraph-server", "load"))
    row("load vs Jena", ratio("jena", "load"))
    for name in names:
        row(f"query {name} vs rdflib", ratio("rdflib", "queries", name))
    for name in names:
        row(f"query {name} vs oxigraph server", ratio("oxigraph-server", "queries", name))
    for name in names:
        row(f"query {name} vs Jena", ratio("jena", "queries", name))
    row("SHACL vs pyshacl", ratio("pyshacl", "validate"))

    header = ["", *sizes]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if "startup" in report:
        s = report["startup"]
        lines.append("")
        lines.append(f"start-up ({s['command']}, whole process, median of {s['n']}): "
                     f"{_fmt_stat(s)}")
    if report.get("targets"):
        lines.append("")
        lines.append("targets:")
        for t in report["targets"]:
            mark = {True: "hit ", False: "MISS", None: "n/a "}[t["hit"]]
            lines.append(f"  [{mark}] {t['target']}: {t['measured']}")
    m = report["machine"]
    lines.append("")
    lines.append(f"machine: {m['cpus']} CPUs, Python {m['python']}; load average at start "
                 f"{m.get('loadavg_start')}, at end {m.get('loadavg_end')}")
    for s in sizes:
        for stage in ("ours", "ours-validate", "ours-graph", "rdflib", "pyshacl", "oxigraph-server", "jena"):
            block = report["sizes"][s].get(stage)
            if isinstance(block, dict) and ("error" in block or "skipped" in block):
                lines.append(f"{s} {stage}: {block.get('error') or 'skipped: ' + block['skipped']}")
    return "\n".join(lines)


def format_markdown(report: dict[str, Any]) -> str:
    """The small table of the README ("Performance"): the headline figures per size."""
    sizes = list(report["sizes"])

    def cell(entry: dict[str, Any], fn: Callable[[dict[str, Any]], str]) -> str:
        try:
            return fn(entry)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return "–"

    def both(ours: float | None, other: float | None) -> str:
        if ours is None:
            return "–"
        text = _fmt_time(ours)
        if other is not None:
            text += f" vs {_fmt_time(other)} ({_fmt_ratio(other / ours)})"
        return text

    def queries(entry: dict[str, Any], baseline: str) -> str:
        mine = entry["ours"]["queries"]
        theirs = entry.get(baseline, {}).get("queries", {})
        a = statistics.median(q["median"] for q in mine.values())
        if not theirs:
            return _fmt_time(a)
        b = statistics.median(theirs[n]["median"] for n in mine if n in theirs)
        worst = min((theirs[n]["median"] / mine[n]["median"], n) for n in mine if n in theirs)
        return f"{_fmt_time(a)} vs {_fmt_time(b)} (each {_fmt_ratio(worst[0])} or more)"

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("triples", lambda e: f"{e['triples']:,}"),
        ("load: emdkg vs rdflib parse", lambda e: both(_median(e["ours"], "load"), _median(e.get("rdflib", {}), "load"))),
        ("load: Oxigraph server bulk load · Jena", lambda e: " · ".join(
            _fmt_time(_median(e.get(b, {}), "load")) for b in ("oxigraph-server", "jena"))),
        ("named queries, median p50: emdkg vs rdflib", lambda e: queries(e, "rdflib")),
        ("slowest named query p50 (emdkg)", lambda e: "{} ({})".format(*max(
            ((_fmt_time(q["median"]), n) for n, q in e["ours"]["queries"].items()),
            key=lambda t: e["ours"]["queries"][t[1]]["median"]))),
        ("traversal sites_by (networkx projection build)", lambda e: "{} ({})".format(
            _fmt_time(e["ours-graph"]["traversals"]["sites_by"]["median"]), _fmt_time(e["ours-graph"]["build"]))),
        ("SHACL validation: emdkg vs pyshacl", lambda e: both(_median(e["ours-validate"], "validate"),
                                                             _median(e.get("pyshacl", {}), "validate"))),
        ("same violations as pyshacl / as injected", lambda e: "{} / {}".format(
            {True: "yes", False: "NO"}.get(e.get("validators_agree"), "not run"),
            {True: "yes", False: "NO"}.get(e["ours-validate"].get("match_expected"), "–"))),
        ("peak RSS: load+queries · validation", lambda e: "{:.0f} MB · {:.0f} MB".format(
            e["ours"]["rss_mb"], e["ours-validate"]["rss_mb"])),
    ]
    lines = ["| | " + " | ".join(sizes) + " |", "|---|" + "---|" * len(sizes)]
    for label, fn in rows:
        lines.append(f"| {label} | " + " | ".join(cell(report["sizes"][s], fn) for s in sizes) + " |")
    start = report.get("startup")
    if start:
        lines.append("")
        lines.append(f"Start-up of `{start['command']}` (whole process, bundled knowledge base, median of "
                     f"{start['n']}): {_fmt_time(start['median'])}.")
    return "\n".join(lines)


###########################################################################################
# Entry points
###########################################################################################


def parse_sizes(text: str) -> list[int]:
    """``"10k,100k,1m"`` -> ``[10000, 100000, 1000000]``.

    >>> parse_sizes("10k, 1m")
    [10000, 1000000]
    """
    return [parse_size(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m emdkg.bench.run stage NAME ARGS``: run one stage, print its JSON."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 3 and args[0] == "stage":
        result = STAGES[args[1]](json.loads(args[2]))
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return 0
    sys.stderr.write("usage: python -m emdkg.bench.run stage NAME ARGS-JSON (or use `emdkg bench`)\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
