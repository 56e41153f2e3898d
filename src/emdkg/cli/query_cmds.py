"""The query commands: ``sites``, ``query``, ``sparql``, ``path`` and ``neighbours``.

A thin layer over :mod:`emdkg.api`. Every command reads the bundled knowledge graph plus the
``--data`` files (repeatable); ``--no-bundled`` leaves the bundled graph out, so that only the
``--data`` files are queried. ``--backend`` picks the in-process store, ``--format`` the output:
``table`` for people (only the most useful columns of ``sites``), ``json`` (a list of objects
with lower-case keys), ``csv`` or ``tsv`` (every column; list values joined with ``|``).

Errors (an unknown name or parameter, a file that cannot be read, a malformed query) are one
line on stderr, naming the bad parameter and the closest names, with exit status 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from emdkg.cli.options import (
    backend_option,
    data_option,
    endpoint_option,
    format_option,
    no_bundled_option,
    remote_graph,
)

if TYPE_CHECKING:
    from emdkg.api import KnowledgeGraph

__all__ = ["sites", "query", "sparql", "path", "neighbours"]

F = TypeVar("F", bound=Callable[..., Any])

#: The columns of ``emdkg sites`` in a table; the machine formats carry every column.
SITES_TABLE_COLUMNS = ["site", "phase", "manifestation", "evidence", "sources"]


def store_options(function: F) -> F:
    """--data, --no-bundled, --backend, --endpoint/--timeout and --format, in that order in --help."""
    for option in (format_option, endpoint_option, backend_option, no_bundled_option, data_option):
        function = option(function)
    return function


def open_graph(data: Sequence[Path], no_bundled: bool, backend: str) -> KnowledgeGraph:
    """The knowledge graph the options name: bundled (unless --no-bundled) plus --data files,
    or the SPARQL server of --endpoint."""
    remote = remote_graph(data, no_bundled)
    if remote is not None:
        return remote
    if no_bundled and not data:
        raise click.UsageError("--no-bundled needs at least one --data file")
    from emdkg.api import load

    return load(list(data), backend=backend, include_bundled=not no_bundled)


def _write(rows: Any, output_format: str, columns: Sequence[str] | None = None) -> None:
    from emdkg.cli.output import write_rows

    write_rows(rows, output_format, columns=columns)


@click.command()
@click.option("--disease", required=True, metavar="TEXT", help="A disease: label, synonym, CURIE or IRI.")
@click.option("--phase", metavar="TEXT", help="A disease phase (default: any phase).")
@store_options
def sites(
    disease: str, phase: str | None, data: tuple[Path, ...], no_bundled: bool, backend: str, output_format: str
) -> None:
    """Extramedullary sites of a disease (and its subtypes) in a phase, with their evidence.

    \b
    Example:
      emdkg sites --disease "multiple myeloma" --phase relapse
    """
    from emdkg.queries import run

    kg = open_graph(data, no_bundled, backend)
    rows = run(kg.store, "sites", kg.terms, disease=disease, phase=phase)
    _write(rows, output_format, SITES_TABLE_COLUMNS if output_format == "table" else None)


def _parse_params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="'--param'")
        if key in params:
            raise click.BadParameter(f"parameter {key!r} is given twice", param_hint="'--param'")
        params[key] = value
    return params


@click.command()
@click.argument("name", required=False)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter of the query; repeatable.")
@click.option("--list", "list_queries", is_flag=True, help="List the named queries and their parameters.")
@store_options
def query(
    name: str | None,
    params: tuple[str, ...],
    list_queries: bool,
    data: tuple[Path, ...],
    no_bundled: bool,
    backend: str,
    output_format: str,
) -> None:
    """Run a named competency query (see --list).

    \b
    Examples:
      emdkg query --list
      emdkg query incidence --param disease="multiple myeloma"
    """
    from emdkg.queries import get, registry, run

    if list_queries:
        rows = [
            {
                "name": q.name,
                "params": ", ".join(
                    p.name + ("" if p.required else f"={p.default}") for p in q.params
                ),
                "summary": q.summary,
            }
            for q in sorted(registry().values(), key=lambda q: q.name)
        ]
        _write(rows, output_format, ["name", "params", "summary"])
        return
    if name is None:
        raise click.UsageError("missing the query NAME (see 'emdkg query --list')")
    named = get(name)  # an unknown name fails before any file is loaded
    values = _parse_params(params)
    for key in values:
        named.param(key)
    kg = open_graph(data, no_bundled, backend)
    _write(run(kg.store, named.name, kg.terms, **values), output_format)


@click.command()
@click.argument("text", required=False, metavar="QUERY")
@click.option("--file", "file", type=click.Path(path_type=Path), metavar="FILE", help="Read the query from FILE.")
@store_options
def sparql(
    text: str | None,
    file: Path | None,
    data: tuple[Path, ...],
    no_bundled: bool,
    backend: str,
    output_format: str,
) -> None:
    """Run a SPARQL SELECT, ASK, CONSTRUCT or DESCRIBE query.

    The default graph is the union of all graphs. ASK prints one row (result); CONSTRUCT and
    DESCRIBE print one row per triple (subject, predicate, object).

    \b
    Example:
      emdkg sparql 'SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }'
    """
    if (text is None) == (file is None):
        raise click.UsageError("give the query as an argument or with --file, not both or neither")
    if file is not None:
        from emdkg.errors import InputError

        try:
            text = file.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise InputError("no such file", path=file) from None
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", path=file) from None
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror or e}", path=file) from None
    assert text is not None
    kg = open_graph(data, no_bundled, backend)
    _write(kg.sparql(text), output_format)


@click.command()
@click.argument("start", metavar="FROM")
@click.argument("end", metavar="TO")
@store_options
def path(
    start: str, end: str, data: tuple[Path, ...], no_bundled: bool, backend: str, output_format: str
) -> None:
    """How two terms are connected: a shortest chain of links between them.

    The chain may follow links either way (the table's arrows show the RDF direction) and
    avoids hubs such as owl:Class, evidence codes and flagged claims.

    \b
    Example:
      emdkg path blinatumomab "acute lymphoblastic leukemia"
    """
    kg = open_graph(data, no_bundled, backend)
    steps = kg.graph().evidence_path(start, end)
    rows = [
        {
            "step": number,
            "from": str(step.start),
            "link": f"-[{step.edge.label}]->" if step.forward else f"<-[{step.edge.label}]-",
            "to": str(step.end),
            "from_iri": step.start.iri,
            "predicate": step.edge.predicate,
            "direction": "forward" if step.forward else "backward",
            "to_iri": step.end.iri,
        }
        for number, step in enumerate(steps, 1)
    ]
    columns = ["step", "from", "link", "to"] if output_format == "table" else None
    _write(rows, output_format, columns)


@click.command()
@click.argument("entity")
@store_options
def neighbours(
    entity: str, data: tuple[Path, ...], no_bundled: bool, backend: str, output_format: str
) -> None:
    """Terms directly linked to a term, outgoing links first.

    \b
    Example:
      emdkg neighbours VDCP
    """
    kg = open_graph(data, no_bundled, backend)
    graph = kg.graph()
    center = str(kg.resolve(entity).iri)
    rows = []
    for edge in graph.neighbours(entity):
        outgoing = edge.source.iri == center
        other = edge.target if outgoing else edge.source
        rows.append(
            {
                "direction": "out" if outgoing else "in",
                "link": edge.label,
                "term": str(other),
                "kind": other.kind,
                "predicate": edge.predicate,
                "iri": other.iri,
            }
        )
    columns = ["direction", "link", "term", "kind"] if output_format == "table" else None
    _write(rows, output_format, columns)
