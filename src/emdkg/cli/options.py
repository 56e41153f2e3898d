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

import click

__all__ = ["data_option", "no_bundled_option", "backend_option", "format_option", "OUTPUT_FORMATS"]

#: The values of ``--format``; see :func:`emdkg.cli.output.write_rows`.
OUTPUT_FORMATS = ("table", "json", "csv", "tsv")

# Files are checked by the loader, not by click, so that a missing or malformed file gets the
# same one-line message (file, line, column) wherever it comes from.
data_option = click.option(
    "--data",
    "data",
    multiple=True,
    type=click.Path(path_type=Path),
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
