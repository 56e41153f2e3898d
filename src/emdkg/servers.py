"""Real SPARQL servers on loopback, started and stopped by us: for the tests and the benchmarks.

* **Oxigraph server** (the PyPI package ``oxigraph``, a test dependency):
  ``oxigraph serve --location DIR --bind 127.0.0.1:PORT``; Graph Store Protocol at ``/store``,
  queries at ``/query``, updates at ``/update``, no authentication.
* **Virtuoso** (the Debian package ``virtuoso-opensource``; ``.ci/install-system-deps``
  installs it): ``virtuoso-t +configfile INI +foreground`` with an ini written into a fresh
  folder, whose SQL and HTTP ports are bound to 127.0.0.1; a new database has the user
  ``dba`` with password ``dba``. Graph Store Protocol with Digest authentication at
  ``/sparql-graph-crud-auth``, queries at ``/sparql``, authenticated updates at
  ``/sparql-auth``. Stopped with ``isql-vt 127.0.0.1:PORT dba dba exec="shutdown;"``.

Each server runs in its own process group on a free port, with its data in a folder of its
own; :meth:`LocalServer.stop` ends it (gently, then by force) and only it.

>>> oxigraph_binary() is None or oxigraph_binary().endswith("oxigraph")
True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emdkg.errors import EmdkgError

__all__ = [
    "LocalServer",
    "free_port",
    "oxigraph_binary",
    "virtuoso_binary",
    "start_oxigraph",
    "start_virtuoso",
    "running",
    "STARTERS",
    "AVAILABLE",
]


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def oxigraph_binary() -> str | None:
    """The ``oxigraph`` command: beside this interpreter (a virtual environment), or on PATH."""
    beside = Path(sys.executable).parent / "oxigraph"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("oxigraph")


def virtuoso_binary() -> str | None:
    """``virtuoso-t``, when it and ``isql-vt`` (needed to stop it) are both on PATH."""
    server = shutil.which("virtuoso-t")
    return server if server and shutil.which("isql-vt") else None


@dataclass
class LocalServer:
    """A server process we started; its endpoints and credentials."""

    kind: str
    base_url: str
    store_url: str  # Graph Store Protocol
    query_url: str  # SPARQL queries
    update_url: str  # SPARQL updates
    process: subprocess.Popen[bytes]
    workdir: Path
    user: str | None = None
    password: str | None = None
    sql_port: int | None = None
    _owned_dir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def load_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`emdkg.release.load` for this server."""
        return {
            "store": self.store_url,
            "endpoint": self.query_url,
            "update": self.update_url,
            "user": self.user,
            "password": self.password,
        }

    def query_url_for(self, graph: str | None) -> str:
        """The query URL, with ``graph`` as the default graph of every query when given."""
        if graph is None:
            return self.query_url
        from urllib.parse import quote

        return f"{self.query_url}?default-graph-uri={quote(graph, safe='')}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Stop at once (SIGKILL to its process group): a server dying in the middle of a job."""
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server: Virtuoso by its own shutdown command, then SIGTERM, then SIGKILL."""
        if self.alive and self.kind == "virtuoso" and self.sql_port is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    ["isql-vt", f"127.0.0.1:{self.sql_port}", self.user or "dba", self.password or "dba",
                     "exec=shutdown;"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20,
                )
                self.process.wait(timeout=20)
        if self.alive:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._owned_dir is not None:
            self._owned_dir.cleanup()
            self._owned_dir = None


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # start_new_session=True: the group is the server's own


def _wait_ready(server: LocalServer, timeout: float, log: Path | None) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not server.alive:
            tail = _tail(log)
            raise EmdkgError(f"{server.kind} exited with code {server.process.returncode} while starting{tail}")
        try:
            response = httpx.get(server.query_url, params={"query": "ASK {}"}, timeout=2.0, trust_env=False)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as e:
            last = type(e).__name__
        time.sleep(0.1)
    server.stop()
    raise EmdkgError(f"{server.kind} did not answer at {server.query_url} within {timeout:g} s ({last}){_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.is_file():
        return ""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return (": " + " | ".join(lines[-3:])) if lines else ""


def _workdir(directory: str | os.PathLike[str] | None, kind: str) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    if directory is not None:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        return path, None
    owned = tempfile.TemporaryDirectory(prefix=f"emdkg-{kind}-")
    return Path(owned.name), owned


def start_oxigraph(
    directory: str | os.PathLike[str] | None = None,
    *,
    port: int | None = None,
    union_default_graph: bool = True,
    timeout: float = 30.0,
) -> LocalServer:
    """Start ``oxigraph serve`` on 127.0.0.1, its database in ``directory`` (default: a new
    temporary folder, removed by :meth:`LocalServer.stop`).

    ``union_default_graph`` makes the default graph of queries the union of all graphs, the
    way the embedded stores answer.
    """
    binary = oxigraph_binary()
    if binary is None:
        raise EmdkgError("the oxigraph server is not installed (pip install oxigraph)")
    workdir, owned = _workdir(directory, "oxigraph")
    port = port or free_port()
    args = [binary, "serve", "--location", str(workdir / "db"), "--bind", f"127.0.0.1:{port}"]
    if union_default_graph:
        args.append("--union-default-graph")
    log = workdir / "oxigraph.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    server = LocalServer(
        "oxigraph", base, f"{base}/store", f"{base}/query", f"{base}/update", process, workdir,
        _owned_dir=owned,
    )
    _wait_ready(server, timeout, log)
    return server


_VIRTUOSO_INI = """\
[Database]
DatabaseFile       = {db}/virtuoso.db
ErrorLogFile       = {db}/virtuoso.log
LockFile           = {db}/virtuoso.lck
TransactionFile    = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {db}/virtuoso-temp.db
TransactionFile    = {db}/virtuoso-temp.trx
Striping           = 0

[Parameters]
ServerPort               = 127.0.0.1:{sql_port}
DisableUnixSocket        = 1
DisableTcpSocket         = 0
CheckpointInterval       = 60
DirsAllowed              = ., {dir}
NumberOfBuffers          = 10000
MaxDirtyBuffers          = 6000
MaxQueryMem              = 500M
ThreadsPerQuery          = 2

[HTTPServer]
ServerPort               = 127.0.0.1:{http_port}
ServerRoot               = {dir}/vsp
ServerThreads            = 10
MaxClientConnections     = 10
Charset                  = UTF-8
EnabledGzipContent       = 0

[SPARQL]
ResultSetMaxRows           = 1000000
MaxQueryCostEstimationTime = 0
; (0: no refusal by estimate; the estimator overrates small databases by 10^6)
MaxQueryExecutionTime      = 60
"""


def start_virtuoso(
    directory: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 60.0,
) -> LocalServer:
    """Start Virtuoso on 127.0.0.1 with a new database in ``directory`` (default: a new
    temporary folder, removed by :meth:`LocalServer.stop`); user ``dba``, password ``dba``."""
    binary = virtuoso_binary()
    if binary is None:
        raise EmdkgError("Virtuoso is not installed (virtuoso-t and isql-vt; Debian: virtuoso-opensource)")
    workdir, owned = _workdir(directory, "virtuoso")
    (workdir / "db").mkdir(exist_ok=True)
    (workdir / "vsp").mkdir(exist_ok=True)
    sql_port, http_port = free_port(), free_port()
    while http_port == sql_port:
        http_port = free_port()
    ini = workdir / "virtuoso.ini"
    ini.write_text(_VIRTUOSO_INI.format(db=workdir / "db", dir=workdir, sql_port=sql_port, http_port=http_port))
    log = workdir / "db" / "virtuoso.log"
    with open(workdir / "virtuoso.out", "ab") as out:
        process = subprocess.Popen(
            [binary, "+configfile", str(ini), "+foreground"],
            cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{http_port}"
    server = LocalServer(
        "virtuoso", base, f"{base}/sparql-graph-crud-auth", f"{base}/sparql", f"{base}/sparql-auth",
        process, workdir, user="dba", password="dba", sql_port=sql_port, _owned_dir=owned,
    )
    _wait_ready(server, timeout, log)
    return server


STARTERS = {"oxigraph": start_oxigraph, "virtuoso": start_virtuoso}
AVAILABLE = {"oxigraph": oxigraph_binary, "virtuoso": virtuoso_binary}


@contextlib.contextmanager
def running(kind: str, directory: str | os.PathLike[str] | None = None, **options: Any) -> Iterator[LocalServer]:
    """``with running("oxigraph") as server: ...``: started, then stopped whatever happens."""
    server = STARTERS[kind](directory, **options)
    try:
        yield server
    finally:
        server.stop()
