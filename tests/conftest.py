"""Fixtures shared by the whole suite: the seeds, and the command line in-process or as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    """What a run of ``emdkg`` left behind."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


CliRunner = Callable[..., CliResult]


@pytest.fixture
def repo_root() -> Path:
    """The repository checkout the tests run from."""
    return REPO


@pytest.fixture
def seeds_dir() -> Path:
    """The source documents (``../shared/seeds`` beside the checkout, or ``$EMDKG_SEEDS``)."""
    from emdkg.resources import seeds_dir as find_seeds

    path = find_seeds()
    if path is None:
        pytest.skip("../shared/seeds not found beside the repository (set EMDKG_SEEDS)")
    return path


@pytest.fixture
def cli() -> CliRunner:
    """Run ``emdkg ARGS...`` in-process through the real error handling of :func:`emdkg.cli.run`.

    ``cli("--version")`` gives ``CliResult(exit_code=0, stdout="emdkg 0.1.0\\n", stderr="")``.
    """
    from click.testing import CliRunner as ClickRunner

    from emdkg.cli import run

    def invoke(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> CliResult:
        runner = ClickRunner()
        with runner.isolation(input=input, env=dict(env or {})) as streams:
            code = run(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
        return CliResult(code, streams[0].getvalue().decode(), streams[1].getvalue().decode())

    return invoke


def run_emdkg_process(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> CliResult:
    """Run ``python -m emdkg ARGS...`` as a real process with this interpreter."""
    full_env = {**os.environ, **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-m", "emdkg", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        input=input,
        timeout=timeout,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def cli_process() -> Callable[..., CliResult]:
    """Run ``python -m emdkg ARGS...`` as a subprocess: ``cli_process("sites", "--help")``."""

    def invoke(*args: str, **kwargs: object) -> CliResult:
        return run_emdkg_process(args, **kwargs)  # type: ignore[arg-type]

    return invoke


# Real servers (Oxigraph, Virtuoso) as session fixtures, and a proxy that fails on purpose.
from servers import kb_release, oxigraph_server, store_oxigraph_server, virtuoso_server  # noqa: E402,F401
