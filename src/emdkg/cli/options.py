"""Options shared by the commands, so every command spells them the same way.

>>> import click
>>> @click.command()
... @data_option
... @backend_option
... @format_option
... def show(data, backend, output_format):
...     click.echo(f"{[str(p) for p in data]} {backend} {output_format}")
>>> from click.testing import CliRunner
>>> print(CliRunner().invoke(show, ["--data", "a.ttl", "--data", "b.ttl", "--format", "json"]).output)
['a.ttl', 'b.ttl'] oxigraph json
<BLANKLINE>
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = [
    "data_option",
    "no_bundled_option",
    "backend_option",
    "format_option",
    "report_format_option",
    "endpoint_option",
    "remote_graph",
    "OUTPUT_FORMATS",
]

#: The values of ``--format``; see :func:`emdkg.cli.output.write_rows`.
OUTPUT_FORMATS = ("table", "json", "csv", "tsv")

# Files are checked by the loader, not by click, so that a missing or malformed file gets the
# same one-line message (file, line, column) wherever it comes from.
data_option = click.option(
    "--data",
    "data",
    multiple=True,
    type=click.Path(path_type=Path, readable=False),
    metavar="PATH",
    help="Also load this RDF file (.ttl .nt .nq .trig .rdf .owl .jsonld); repeatable.",
)

no_bundled_option = click.option(
    "--no-bundled",
    "no_bundled",
    is_flag=True,
    default=False,
    help="Leave the bundled knowledge graph out: query only the --data files.",
)

#: ``--format table|json`` for the commands that print a report (validate, reason, qc).
report_format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="How to print the results.",
)

backend_option = click.option(
    "--backend",
    type=click.Choice(["oxigraph", "rdflib"]),
    default="oxigraph",
    show_default=True,
    help="The in-process triple store to query.",
)

format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default="table",
    show_default=True,
    help="How to print the results.",
)


# --endpoint and --timeout keep their values in the click context (not as parameters of the
# command), so a command gains them by adding the decorator and asking remote_graph().
_ENDPOINT = "emdkg.endpoint"
_TIMEOUT = "emdkg.endpoint_timeout"


def _remember(key: str) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None:
            ctx.meta[key] = value
        return value

    return callback


def endpoint_option(function: Any) -> Any:
    """``--endpoint QUERY_URL`` and ``--timeout S``: run the command against a SPARQL server."""
    function = click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        metavar="S",
        expose_value=False,
        callback=_remember(_TIMEOUT),
        help="With --endpoint: seconds to wait for each answer [default: 30].",
    )(function)
    return click.option(
        "--endpoint",
        metavar="QUERY_URL",
        expose_value=False,
        callback=_remember(_ENDPOINT),
        help="Query this SPARQL endpoint instead of the files (e.g. http://127.0.0.1:7878/query; "
        "append ?default-graph-uri=IRI to pick the graph `emdkg load` filled).",
    )(function)


def remote_graph(data: Any = (), no_bundled: bool = False) -> Any:
    """The :class:`~emdkg.api.KnowledgeGraph` of ``--endpoint``, or None when it was not given."""
    ctx = click.get_current_context(silent=True)
    url = ctx.meta.get(_ENDPOINT) if ctx is not None else None
    if url is None:
        if ctx is not None and ctx.meta.get(_TIMEOUT) is not None:
            raise click.UsageError("--timeout needs --endpoint")
        return None
    if data or no_bundled:
        raise click.UsageError("--endpoint queries the server's data: it cannot be combined with --data or --no-bundled")
    from emdkg.api import connect

    return connect(url, timeout=ctx.meta.get(_TIMEOUT, 30.0))
