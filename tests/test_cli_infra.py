"""The command line's frame: lazy commands, one-line errors, exit codes, --version."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import emdkg
from emdkg.cli import COMMANDS

REGISTERED = [
    "validate", "sites", "query", "sparql", "path", "neighbours",
    "export", "load", "reason", "qc", "serve", "bench",
]

# Commands used only by these tests, registered for the duration of a test.
FAKE_COMMANDS = '''
import sys
import click
from emdkg.errors import EmdkgError, InputError


@click.command()
@click.option("--count", type=int, required=True)
def needs_option(count):
    """A command with a required option."""


@click.command()
def fails():
    """Raise a user error."""
    raise InputError("unexpected end of file", path="kb/x.ttl", line=3, column=7)


@click.command()
def fails_with_code():
    raise EmdkgError("the store is locked\\nby another process", exit_code=4)


@click.command()
def bug():
    {}["missing"]


@click.command()
def interrupted():
    raise KeyboardInterrupt


@click.command()
def verdict():
    click.echo("2 violations")
    return 1


@click.command()
def spew():
    for i in range(200000):
        click.echo(f"line {i}")
'''


@pytest.fixture
def fake_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "emdkg_test_fakes.py").write_text(FAKE_COMMANDS)
    (tmp_path / "needs_missing_dep.py").write_text("import no_such_package_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("needs_option", "fails", "fails_with_code", "bug", "interrupted", "verdict", "spew"):
        monkeypatch.setitem(COMMANDS, name.replace("_", "-"), (f"emdkg_test_fakes:{name}", "test"))
    monkeypatch.setitem(COMMANDS, "ghost", ("emdkg.cli.ghost_cmds_not_here:ghost", "test"))
    monkeypatch.setitem(COMMANDS, "heavy", ("needs_missing_dep:heavy", "test"))
    return tmp_path


def test_version(cli: Callable) -> None:
    result = cli("--version")
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"emdkg {emdkg.__version__}\n", "")


def test_help_lists_every_registered_command(cli: Callable) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in REGISTERED:
        assert f"  {name} " in result.stdout
    assert set(REGISTERED) <= set(COMMANDS)


def test_bare_emdkg_shows_help(cli: Callable) -> None:
    result = cli()
    assert result.exit_code == 2 and "Usage: emdkg" in result.stdout


def test_help_imports_no_command_module() -> None:
    code = textwrap.dedent("""
        import sys
        from emdkg.cli import run
        code = run(["--help"])
        loaded = sorted(m for m in sys.modules if m.startswith("emdkg.cli.") or m in ("rdflib", "rich"))
        print(code, loaded, file=sys.stderr)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "0 []"


def test_unknown_command_suggests(cli: Callable) -> None:
    result = cli("sitse")
    assert result.exit_code == 2
    assert result.stderr_lines == ["emdkg: error: unknown command 'sitse': did you mean 'sites'?"]
    assert result.stdout == ""
    far = cli("frobnicate")
    assert far.stderr_lines == ["emdkg: error: unknown command 'frobnicate': see 'emdkg --help'"]


def test_unknown_global_option_is_one_line(cli: Callable) -> None:
    result = cli("--frobnicate")
    assert result.exit_code == 2 and len(result.stderr_lines) == 1
    assert result.stderr.startswith("emdkg: error: No such option") and "--frobnicate" in result.stderr


def test_command_not_in_this_build(cli: Callable, fake_commands: Path) -> None:
    for args in (["ghost"], ["ghost", "--help"], ["ghost", "--x", "y"]):
        result = cli(*args)
        assert result.exit_code == 2
        assert result.stderr_lines == ["emdkg: 'ghost' is not available in this build"]
    assert re.search(r"ghost +test \(not in this build\)", cli("--help").stdout)


def test_command_with_missing_dependency(cli: Callable, fake_commands: Path) -> None:
    result = cli("heavy")
    assert result.exit_code == 2
    assert result.stderr_lines == [
        "emdkg: error: 'heavy' needs the Python package 'no_such_package_xyz', which is not installed"
    ]


def test_usage_error_is_one_line(cli: Callable, fake_commands: Path) -> None:
    result = cli("needs-option")
    assert result.exit_code == 2
    assert result.stderr_lines == [
        "emdkg: error: Missing option '--count'. (see 'emdkg needs-option --help')"
    ]
    bad = cli("needs-option", "--count", "many")
    assert bad.exit_code == 2 and len(bad.stderr_lines) == 1
    assert "'many' is not a valid integer" in bad.stderr


def test_emdkg_error_is_one_line_with_its_exit_code(cli: Callable, fake_commands: Path) -> None:
    result = cli("fails")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr_lines == ["emdkg: error: kb/x.ttl:3:7: unexpected end of file"]
    coded = cli("fails-with-code")
    assert coded.exit_code == 4
    assert coded.stderr_lines == ["emdkg: error: the store is locked by another process"]


def test_internal_error(cli: Callable, fake_commands: Path) -> None:
    result = cli("bug")
    assert result.exit_code == 3
    assert result.stderr_lines == [
        "emdkg: internal error: KeyError: 'missing' (run with EMDKG_DEBUG=1 for a traceback)"
    ]
    debug = cli("bug", env={"EMDKG_DEBUG": "1"})
    assert debug.exit_code == 3 and "Traceback (most recent call last)" in debug.stderr


def test_keyboard_interrupt_exits_130(cli: Callable, fake_commands: Path) -> None:
    assert cli("interrupted").exit_code == 130


def test_returned_int_is_the_exit_code(cli: Callable, fake_commands: Path) -> None:
    result = cli("verdict")
    assert (result.exit_code, result.stdout) == (1, "2 violations\n")


def test_closed_pipe_exits_quietly(fake_commands: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(fake_commands)!r}); "
        "from emdkg.cli import COMMANDS, main; "
        "COMMANDS['spew'] = ('emdkg_test_fakes:spew', ''); main(['spew'])"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert writer.stdout is not None and writer.stderr is not None
    first = writer.stdout.readline()
    writer.stdout.close()  # the reader goes away, like `emdkg ... | head -1`
    stderr = writer.stderr.read().decode()
    writer.wait(timeout=60)
    assert first == b"line 0\n"
    assert stderr == "" and writer.returncode == 1


def test_python_dash_m(cli_process: Callable) -> None:
    result = cli_process("--version")
    assert (result.exit_code, result.stdout.strip()) == (0, f"emdkg {emdkg.__version__}")
    unknown = cli_process("sitse")
    assert unknown.exit_code == 2
    assert unknown.stderr.splitlines() == ["emdkg: error: unknown command 'sitse': did you mean 'sites'?"]
