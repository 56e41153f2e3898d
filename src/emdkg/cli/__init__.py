"""The ``emdkg`` command line: a click group whose subcommands load only when run.

Each subcommand lives in its own module and is imported on use (click's "lazy group"
pattern), so ``emdkg --help`` imports no command and ``emdkg sites`` imports only what
``sites`` needs. A command whose module is not in this build yet says so in one line.

Error contract of :func:`main` (every message is one line on stderr):

==================================  ============================================  =====
what happened                       printed                                       exit
==================================  ============================================  =====
:class:`~emdkg.errors.EmdkgError`   ``emdkg: error: <message>[; <hint>]``         its
                                                                                  code
bad usage (option, argument)        ``emdkg: error: <message>``                   2
command not in this build           ``emdkg: 'X' is not available in this build`` 2
Ctrl-C                              (nothing)                                     130
reader closed the pipe              (nothing)                                     1
anything else (a bug)               ``emdkg: internal error: <type>: <msg> ...``  3
==================================  ============================================  =====

A command may return an ``int``: it becomes the exit code (e.g. 1 for "validation failed").
Set ``EMDKG_DEBUG=1`` to also get the traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from emdkg import __version__
from emdkg.errors import EmdkgError, one_line

__all__ = ["COMMANDS", "LazyGroup", "cli", "main", "run"]

# click >= 8.2 raises this for a bare `emdkg` when standalone_mode is off; 8.1 exits 0 itself.
_NoArgsIsHelp: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())

#: command name -> ("module:function", one-line summary shown by ``emdkg --help``).
#: The summary is kept here so that listing the commands imports none of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("emdkg.cli.validate:validate", "Check the knowledge graph against the SHACL shapes."),
    "sites": ("emdkg.cli.query_cmds:sites", "Extramedullary sites of a disease, with evidence."),
    "query": ("emdkg.cli.query_cmds:query", "Run a named competency query."),
    "sparql": ("emdkg.cli.query_cmds:sparql", "Run a SPARQL query over the knowledge graph."),
    "path": ("emdkg.cli.query_cmds:path", "How two terms are connected in the graph."),
    "neighbours": ("emdkg.cli.query_cmds:neighbours", "Terms directly linked to a term."),
    "export": ("emdkg.cli.release_cmds:export", "Write the release files."),
    "load": ("emdkg.cli.release_cmds:load", "Load the release into a SPARQL store."),
    "reason": ("emdkg.cli.reason_cmds:reason", "Classify the ontology with an OWL reasoner."),
    "qc": ("emdkg.cli.reason_cmds:qc", "Run the quality-control queries."),
    "serve": ("emdkg.cli.serve_cmds:serve", "Serve the knowledge graph over HTTP."),
    "bench": ("emdkg.cli.bench_cmds:bench", "Benchmark queries on synthetic data."),
}


class CommandUnavailable(EmdkgError):
    """A registered command whose module is not part of this build."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is not available in this build")


def _placeholder(name: str, error: EmdkgError) -> click.Command:
    """A command that accepts anything and raises ``error``; keeps listing and completion safe."""

    def callback(args: tuple[str, ...]) -> NoReturn:
        raise error

    return click.Command(
        name,
        callback=callback,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help="(not available in this build)",
    )


class LazyGroup(click.Group):
    """A group whose commands are ``"module:function"`` strings, imported when first used."""

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy_commands[cmd_name][0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                return _placeholder(cmd_name, CommandUnavailable(cmd_name))
            if e.name and not e.name.startswith("emdkg"):
                package = e.name.split(".")[0]
                return _placeholder(
                    cmd_name,
                    EmdkgError(f"{cmd_name!r} needs the Python package {package!r}, which is not installed"),
                )
            raise  # one of our own modules is missing: a broken build, not a user error
        command = getattr(module, attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command")
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if not name.startswith("-") and self.get_command(ctx, name) is None and not ctx.resilient_parsing:
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = "did you mean " + ", ".join(repr(c) for c in close) + "?" if close else "see 'emdkg --help'"
            ctx.fail(f"unknown command {name!r}: {hint}")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy_commands:
                target, summary = self.lazy_commands[name]
                if importlib.util.find_spec(target.split(":")[0]) is None:
                    summary += " (not in this build)"
            else:
                command = self.commands[name]
                summary = command.get_short_help_str(limit=formatter.width)
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"emdkg {__version__}")
        ctx.exit()


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the version and exit.",
)
def cli() -> None:
    """A knowledge graph of extramedullary disease in hematologic malignancies.

    Every answer comes with its source: the publication, the quoted sentence and the
    strength of the evidence.
    """


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _traceback_if_debug() -> None:
    if os.environ.get("EMDKG_DEBUG", "") not in ("", "0"):
        import traceback

        traceback.print_exc()


def _silence_stdout() -> None:
    # The reader went away: point stdout at /dev/null so the interpreter's final flush does
    # not raise a second BrokenPipeError (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    >>> run(["--version"])
    emdkg 0.1.0
    0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = cli.main(args=args, prog_name="emdkg", standalone_mode=False)
        sys.stdout.flush()  # inside the try: a closed pipe often shows only here
    except SystemExit as e:  # sys.exit() in a command, or click after a closed pipe
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        _stderr(f"emdkg: error: {one_line(str(e.code))}")
        return 1
    except (KeyboardInterrupt, click.exceptions.Abort):
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except _NoArgsIsHelp as e:  # plain `emdkg`: the help, as click would show it
        click.echo(e.ctx.get_help() if e.ctx else "")
        return 2
    except CommandUnavailable as e:
        _stderr(f"emdkg: {e.message}")
        return e.exit_code
    except EmdkgError as e:
        _traceback_if_debug()
        _stderr(f"emdkg: error: {e.full_message}")
        return e.exit_code
    except click.UsageError as e:
        hint = ""
        if e.ctx is not None and e.ctx.parent is not None:  # inside a subcommand
            hint = f" (see '{e.ctx.command_path} --help')"
        _stderr(f"emdkg: error: {one_line(e.format_message())}{hint}")
        return 2
    except click.ClickException as e:
        _stderr(f"emdkg: error: {one_line(e.format_message())}")
        return e.exit_code
    except Exception as e:
        _traceback_if_debug()
        detail = one_line(str(e)) or "(no message)"
        _stderr(
            f"emdkg: internal error: {type(e).__name__}: {detail} "
            "(run with EMDKG_DEBUG=1 for a traceback)"
        )
        return 3
    if isinstance(rv, int) and not isinstance(rv, bool):
        return rv
    return 0


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``emdkg`` console script and of ``python -m emdkg``."""
    sys.exit(run(argv))
