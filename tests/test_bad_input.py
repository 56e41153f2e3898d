"""The bad-input corpus (``tests/bad_input/cases.toml``) through ``validate``, ``load`` and ``export``.

Every case is run through the three commands as real processes (``python -m emdkg``), and each
must:

* exit non-zero: 2 when the file cannot be read or parsed, 1 when it breaks the shapes;
* say so in **one line** on stderr, ``emdkg: error: FILE[:LINE:COL]: <what>; <what to do>``,
  naming the file as it was given, the line and column where the parser knows them, and never
  a traceback (``validate`` with violations prints its report on stdout instead, and nothing
  on stderr);
* change nothing: ``export`` leaves the previous release files byte for byte (and no partial
  file), ``load`` sends **no request at all** to the server (input errors and violations are
  found before any network traffic: the load goes through a recording proxy in front of a
  real Oxigraph server), and the server's graph is as it was.

The processes run two at a time (the machine has two cores); each (case, command) pair is its
own test, reading from the shared results.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servers import FaultyProxy, graph_ntriples, put_graph

from emdkg import release

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "bad_input"
MANIFEST = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))
COMMANDS = ("validate", "load", "export")
NOBODY = 65534

PREVIOUS = (
    b'<https://w3id.org/emdkg/kb/old> <http://www.w3.org/2000/01/rdf-schema#label> "previous copy"@en .\n'
    b'_:b <http://www.w3.org/2000/01/rdf-schema#comment> "with a blank node" .\n'
)


@dataclass(frozen=True)
class Case:
    name: str  # the file name, as given on the command line
    what: str
    kind: str  # "input" or "violation"
    message: str
    where: str = ""
    with_kb: bool = False
    make: str | None = None  # how a generated case is made

    @property
    def exit_code(self) -> int:
        return 2 if self.kind == "input" else 1


CASES = [
    Case(c["file"], c["what"], c["kind"], c["message"], c.get("where", ""), c.get("with_kb", False))
    for c in MANIFEST["case"]
] + [
    Case(g["file"], g["what"], g["kind"], g["message"], make=g["make"])
    for g in MANIFEST["generated"]
]


def test_the_corpus_is_complete() -> None:
    """At least 40 cases, each committed file listed once, each listed file present."""
    assert len(CASES) >= 40
    listed = [c.name for c in CASES if c.make is None]
    assert len(listed) == len(set(listed))
    on_disk = sorted(p.name for p in CORPUS.iterdir() if p.name != "cases.toml")
    assert sorted(listed) == on_disk
    for case in CASES:
        assert case.kind in ("input", "violation") and case.what and case.message
    # The text cases say what is wrong in their first line too (binary ones cannot).
    for case in CASES:
        path = CORPUS / case.name
        if case.make is None and path.suffix in (".ttl", ".nt", ".trig") and not case.name.startswith(
            ("bom", "binary", "gzip", "utf-16", "empty", "whitespace", "relative-iri", "json-in")
        ):
            assert path.read_bytes().startswith(b"# BAD INPUT: "), case.name


# --- making the generated cases ---------------------------------------------------------------


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _as_nobody() -> list[str] | None:
    """The command prefix that drops root to ``nobody``, or None when it cannot be done."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    try:
        probe = subprocess.run([*prefix, sys.executable, "-m", "emdkg", "--version"],
                               capture_output=True, timeout=60, cwd="/")
    except (OSError, subprocess.SubprocessError):
        return None
    return prefix if probe.returncode == 0 else None


def make_case(case: Case, folder: Path) -> tuple[Path, str | None]:
    """Create a generated case in ``folder``: (its path, or why it cannot be made here)."""
    path = folder / case.name
    if case.make == "missing-file":
        return path, None
    if case.make == "dangling-symlink":
        path.symlink_to(folder / "nowhere.ttl")
    elif case.make == "directory":
        path.mkdir()
        (path / "inside.ttl").write_text("<https://e.org/a> <https://e.org/b> <https://e.org/c> .\n")
    elif case.make == "unreadable":
        path.write_text("<https://e.org/a> <https://e.org/b> <https://e.org/c> .\n")
        path.chmod(0)
    elif case.make == "fifo":
        if not hasattr(os, "mkfifo"):
            return path, "no named pipes on this system"
        os.mkfifo(path)
    elif case.make == "dev-zero":
        if not Path("/dev/zero").exists():
            return path, "no /dev/zero on this system"
        path.symlink_to("/dev/zero")
    elif case.make in ("huge-literal", "big-literal"):
        size = 50 * 1024 * 1024 if case.make == "huge-literal" else 2_000_000
        with open(path, "wb") as f:
            f.write(b"# BAD INPUT: one enormous literal, generated by tests/test_bad_input.py\n")
            f.write(b'<https://w3id.org/emdkg/kb/x> <http://www.w3.org/2000/01/rdf-schema#comment> "')
            chunk = b"extramedullary " * 4096
            written = 0
            while written < size:
                f.write(chunk)
                written += len(chunk)
            f.write(b'"@en .\n')
    else:
        raise AssertionError(f"unknown generated case {case.make!r}")
    return path, None


# --- running the commands ---------------------------------------------------------------------


@dataclass
class Outcome:
    case: Case
    command: str
    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    requests: int = 0  # requests the server saw (load)
    skipped: str | None = None

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


class Scene:
    """What the commands run against: a release folder, a server graph per case."""

    def __init__(self, root: Path, server: Any) -> None:
        self.root = root
        self.server = server
        self.release = root / "release"
        release.export(self.release)  # the previous release, which no failed export may touch
        self.before = snapshot(self.release)
        # Generated cases live in a folder an unprivileged user can enter.
        self.generated = Path(tempfile.mkdtemp(prefix="emdkg-bad-input-"))
        self.generated.chmod(0o755)
        self.nobody = _as_nobody() if _is_root() else []
        self.paths: dict[str, tuple[Path, str | None]] = {}
        for case in CASES:
            if case.make is None:
                self.paths[case.name] = (CORPUS / case.name, None)
            else:
                self.paths[case.name] = make_case(case, self.generated)

    def release_for(self, prefix: list[str]) -> Path:
        """The release folder an export writes to: a copy the unprivileged user can reach."""
        if not prefix:
            return self.release
        copy = self.generated / "release"
        if not copy.exists():
            shutil.copytree(self.release, copy)
            copy.chmod(0o755)
        return copy

    def graph(self, case: Case) -> str:
        return f"https://w3id.org/emdkg/test/bad-input/{case.name.replace(' ', '_')}"

    def close(self) -> None:
        for path in self.generated.iterdir():
            if not path.is_symlink() and path.is_file():
                path.chmod(0o644)
        shutil.rmtree(self.generated, ignore_errors=True)

    def run(self, case: Case, command: str) -> Outcome:
        path, why_not = self.paths[case.name]
        if why_not:
            return Outcome(case, command, [], 0, "", "", skipped=why_not)
        prefix: list[str] = []
        if case.make == "unreadable" and _is_root():
            if self.nobody is None:
                return Outcome(case, command, [], 0, "", "",
                               skipped="running as root (which reads any file) and cannot drop to 'nobody' with setpriv")
            prefix = self.nobody
        # The file is named relative to its folder, as a user would type it.
        cwd, name = path.parent, path.name
        graph = self.graph(case)
        proxy: FaultyProxy | None = None
        if command == "validate":
            args = ["validate", *(["--with-bundled"] if case.with_kb else []), name]
        elif command == "export":
            args = ["export", "--data", name, "--output", str(self.release_for(prefix))]
        else:
            if self.server is not None:
                put_graph(self.server, graph, PREVIOUS)
                proxy = FaultyProxy(self.server.base_url)  # forwards, and records every request
                urls = [proxy.url(self.server.store_url), proxy.url(self.server.query_url),
                        proxy.url(self.server.update_url)]
            else:
                proxy = FaultyProxy(None)  # a stub that records every request
                urls = [proxy.base_url + "/store", proxy.base_url + "/query", proxy.base_url + "/update"]
            proxy.__enter__()
            args = ["load", "--data", name, "--graph", graph, "--timeout", "10",
                    "--store", urls[0], "--endpoint", urls[1], "--update", urls[2]]
        try:
            done = subprocess.run(
                [*prefix, sys.executable, "-m", "emdkg", *args],
                capture_output=True, text=True, cwd=cwd, timeout=300,
                env={**os.environ, "EMDKG_DEBUG": ""},
            )
        finally:
            if proxy is not None:
                proxy.__exit__(None, None, None)
        return Outcome(case, command, args, done.returncode, done.stdout, done.stderr,
                       requests=len(proxy.requests) if proxy is not None else 0)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def scene(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    try:
        server = request.getfixturevalue("oxigraph_server")
    except pytest.skip.Exception:
        server = None  # no Oxigraph here: the loads go to a recording stub instead
    scene = Scene(tmp_path_factory.mktemp("bad-input"), server)
    try:
        yield scene
    finally:
        scene.close()


@pytest.fixture(scope="module")
def outcomes(scene: Scene, request: pytest.FixtureRequest) -> Iterator[dict[tuple[str, str], Future[Outcome]]]:
    """Every selected (case, command), started at once on two workers; tests wait for their own."""
    by_name = {case.name: case for case in CASES}
    wanted = [
        (item.callspec.params["case"], item.callspec.params["command"])
        for item in request.session.items
        if getattr(item, "module", None) is sys.modules[__name__] and hasattr(item, "callspec")
        and {"case", "command"} <= set(item.callspec.params)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {(case.name, command): pool.submit(scene.run, by_name[case.name], command)
                   for case, command in wanted}
        yield futures
        for future in futures.values():
            future.cancel()


# --- the checks -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, command: str, outcomes: dict[tuple[str, str], Future[Outcome]], scene: Scene) -> None:
    outcome = outcomes[(case.name, command)].result(timeout=900)
    if outcome.skipped:
        pytest.skip(outcome.skipped)
    context = f"{' '.join(outcome.args)} -> {outcome.exit_code}\nstdout: {outcome.stdout[-2000:]}\nstderr: {outcome.stderr}"
    assert "Traceback" not in outcome.stdout + outcome.stderr, context
    assert "internal error" not in outcome.stderr, context
    assert outcome.exit_code == case.exit_code, context

    if command == "validate" and case.kind == "violation":
        # The report is the output: on stdout, with the summary line; nothing on stderr.
        assert outcome.stderr == "", context
        assert case.message in outcome.stdout, context
        assert "does not conform" in outcome.stdout.splitlines()[-1], context
    else:
        assert len(outcome.stderr_lines) == 1, context
        (line,) = outcome.stderr_lines
        assert line.startswith(f"emdkg: error: {case.name}{case.where}"), context
        if not case.where:
            assert line.startswith((f"emdkg: error: {case.name}:", f"emdkg: error: {case.name} ")), context
        assert case.message in line, context
        assert "; " in line.split(case.name, 1)[1], f"no advice on what to do\n{context}"
        if command != "validate":
            assert outcome.stdout == "", context

    if command == "export":
        written = Path(outcome.args[outcome.args.index("--output") + 1])
        assert snapshot(written) == scene.before, "the previous release files changed"
    if command == "load":
        assert outcome.requests == 0, f"the load sent {outcome.requests} request(s) before failing\n{context}"
        if scene.server is None:
            return
        expected = release.ntriples(release.ReleaseGraph.from_ntriples(PREVIOUS))
        assert graph_ntriples(scene.server, scene.graph(case)) == expected, "the server's graph changed"


@pytest.mark.slow
def test_a_good_file_goes_through_the_same_setup(scene: Scene, tmp_path: Path) -> None:
    """The control: the same commands and proxy with a good --data file do their work."""
    good = tmp_path / "good.ttl"
    good.write_text(
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        '<https://w3id.org/emdkg/kb/bad-input-control> rdfs:comment "a comment, nothing more"@en .\n'
    )
    if scene.server is None:
        pytest.skip("oxigraph is not installed: the `oxigraph` command (pip install oxigraph)")
    case = Case("good.ttl", "a good file", "none", "")
    graph = scene.graph(case)
    put_graph(scene.server, graph, PREVIOUS)
    out = tmp_path / "release"
    with FaultyProxy(scene.server.base_url) as proxy:
        for args in (
            ["validate", "good.ttl"],
            ["export", "--data", "good.ttl", "--output", str(out), "--format", "nt"],
            ["load", "--data", "good.ttl", "--graph", graph, "--store", proxy.url(scene.server.store_url),
             "--endpoint", proxy.url(scene.server.query_url), "--update", proxy.url(scene.server.update_url)],
        ):
            done = subprocess.run([sys.executable, "-m", "emdkg", *args], capture_output=True, text=True,
                                  cwd=tmp_path, timeout=300)
            assert done.returncode == 0, f"{args}: {done.stderr}"
        assert proxy.requests, "the proxy saw the load"
    assert b"bad-input-control" in (out / "emdkg.nt").read_bytes()
    assert b"bad-input-control" in (graph_ntriples(scene.server, graph) or b"")
