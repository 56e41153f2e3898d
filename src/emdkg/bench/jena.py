"""Apache Jena as a benchmark baseline: Debian's jars, a small Java harness, timings from inside
the JVM.

Debian's ``libapache-jena-java`` installs the jars under ``/usr/share/java`` without a launcher
script. Its command-line classes need (see /work/shared/ARCHITECTURE.md) the jars on an
explicit classpath *and* a relocated copy of jena-core's ``org/apache/jena/ext/xerces/``
resources under ``xerces/`` (the shaded Xerces looks its message files up there); without it,
every command fails at start-up. :func:`jena_classpath` builds both, once, in a cache folder.

The harness (:data:`HARNESS`, run as a single-file Java program) parses the data files into an
in-memory model ``parse_repeat`` times, then runs each query once to warm up and ``repeat``
times timed, iterating every solution, and prints the timings as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["JARS", "jena_classpath", "jena_available", "run_jena", "HARNESS"]

JAVA_DIR = Path("/usr/share/java")
#: The jars of Jena's command line and their dependencies (Debian names, without versions).
JARS = (
    "jena-arq jena-base jena-cmds jena-core jena-dboe-base jena-dboe-index jena-dboe-storage "
    "jena-dboe-trans-data jena-dboe-transaction jena-iri jena-rdfconnection jena-shacl jena-shex "
    "jena-tdb jena-tdb2 commons-cli commons-codec commons-compress commons-csv commons-io "
    "commons-lang3 dexx.collection gson guava httpclient httpcore jackson-core jackson-databind "
    "jackson-annotations jsonld-java jakarta.json-api protobuf slf4j-api slf4j-nop thrift "
    "titanium-json-ld"
).split()
_REQUIRED = ("jena-arq", "jena-core", "jena-base", "jena-iri")

HARNESS = r"""
import java.nio.file.*;
import java.util.*;
import org.apache.jena.query.*;
import org.apache.jena.rdf.model.*;
import org.apache.jena.riot.RDFDataMgr;

public class EmdkgJenaBench {
    static String arr(List<Double> xs) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < xs.size(); i++) { if (i > 0) b.append(','); b.append(xs.get(i)); }
        return b.append(']').toString();
    }
    static int run(Query query, Model model) {
        try (QueryExecution qe = QueryExecutionFactory.create(query, model)) {
            ResultSet rs = qe.execSelect();
            int n = 0;
            while (rs.hasNext()) { rs.next(); n++; }
            return n;
        }
    }
    public static void main(String[] a) throws Exception {
        int repeat = Integer.parseInt(a[0]);
        int parseRepeat = Integer.parseInt(a[1]);
        Path queries = Paths.get(a[2]);
        List<String> files = Arrays.asList(a).subList(3, a.length);
        org.apache.jena.sys.JenaSystem.init();
        Model model = null;
        List<Double> load = new ArrayList<>();
        for (int r = 0; r < parseRepeat; r++) {
            model = null;
            System.gc();
            long t = System.nanoTime();
            Model m = ModelFactory.createDefaultModel();
            for (String f : files) RDFDataMgr.read(m, f);
            load.add((System.nanoTime() - t) / 1e9);
            model = m;
        }
        StringBuilder out = new StringBuilder();
        out.append("{\"load\":").append(arr(load)).append(",\"triples\":").append(model.size());
        out.append(",\"queries\":{");
        List<Path> paths = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(queries, "*.rq")) { for (Path p : ds) paths.add(p); }
        Collections.sort(paths);
        boolean first = true;
        for (Path p : paths) {
            String name = p.getFileName().toString().replaceAll("\\.rq$", "");
            Query query = QueryFactory.create(new String(Files.readAllBytes(p), "UTF-8"));
            int rows = run(query, model);
            List<Double> times = new ArrayList<>();
            for (int r = 0; r < repeat; r++) {
                long t = System.nanoTime();
                rows = run(query, model);
                times.add((System.nanoTime() - t) / 1e9);
            }
            if (!first) out.append(',');
            first = false;
            out.append('"').append(name).append("\":{\"times\":").append(arr(times)).append(",\"rows\":").append(rows).append('}');
        }
        out.append("}}");
        System.out.println(out);
    }
}
"""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "emdkg" / "jena"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / "emdkg-jena"
        path.mkdir(parents=True, exist_ok=True)
    return path


def jena_available() -> str | None:
    """None when Java and Debian's Jena jars are installed; else why not."""
    if shutil.which("java") is None:
        return "java is not installed"
    missing = [j for j in _REQUIRED if not (JAVA_DIR / f"{j}.jar").is_file()]
    if missing:
        return "Apache Jena is not installed (Debian: libapache-jena-java)"
    return None


def jena_classpath() -> str:
    """The classpath: the installed jars, and the relocated Xerces resources (built once)."""
    jars = [str(JAVA_DIR / f"{j}.jar") for j in JARS if (JAVA_DIR / f"{j}.jar").is_file()]
    core = JAVA_DIR / "jena-core.jar"
    stamp = f"{core.stat().st_mtime_ns}-{core.stat().st_size}"
    resources = _cache_dir() / f"xerces-{stamp}"
    if not resources.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=_cache_dir()))
        prefix = "org/apache/jena/ext/xerces/"
        with zipfile.ZipFile(core) as jar:
            for name in jar.namelist():
                if name.startswith(prefix) and not name.endswith("/") and not name.endswith(".class"):
                    target = tmp / "xerces" / name[len(prefix):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(jar.read(name))
        try:
            tmp.rename(resources)
        except OSError:  # another process built it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    return os.pathsep.join([*jars, str(resources)])


def _summary(times: Sequence[float]) -> dict[str, float | int]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times)}


def run_jena(
    files: Sequence[str],
    queries: Mapping[str, str],
    *,
    repeat: int = 3,
    parse_repeat: int = 1,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Jena's load and query timings on ``files`` for ``queries`` (name -> SPARQL text)."""
    reason = jena_available()
    if reason is not None:
        return {"skipped": reason}
    harness = _cache_dir() / "EmdkgJenaBench.java"
    if not harness.is_file() or harness.read_text() != HARNESS:
        harness.write_text(HARNESS)
    with tempfile.TemporaryDirectory(prefix="emdkg-jena-q-") as qdir:
        for name, text in queries.items():
            Path(qdir, f"{name}.rq").write_text(text, encoding="utf-8")
        proc = subprocess.run(
            ["java", "-Xss4m", "-cp", jena_classpath(), str(harness), str(repeat), str(parse_repeat), qdir, *files],
            capture_output=True, text=True, timeout=timeout,
        )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        return {"error": "jena: " + (lines[0] if lines else f"exit code {proc.returncode}")}
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "load": _summary(raw["load"]),
        "triples": raw["triples"],
        "queries": {name: {**_summary(q["times"]), "rows": q["rows"]} for name, q in raw["queries"].items()},
    }
