"""``emdkg export`` (the release files) and ``emdkg load`` (into a SPARQL server)."""

from __future__ import annotations

from pathlib import Path

import click

from emdkg.cli.options import data_option

__all__ = ["export", "load"]


@click.command()
@click.option(
    "--format",
    "formats",
    type=click.Choice(["ttl", "nt", "jsonld", "owl", "sssom", "all"]),
    multiple=True,
    default=("all",),
    show_default=True,
    help="Which release file(s) to write; repeatable.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="The folder to write into (created if missing; files in it are replaced atomically).",
)
@click.option("--inferred", is_flag=True, help="Also write emdkg-inferred.nt: what the OWL reasoner infers.")
@data_option
def export(formats: tuple[str, ...], output: Path, inferred: bool, data: tuple[Path, ...]) -> None:
    """Write the release files: Turtle, canonical N-Triples, JSON-LD (+ its @context),
    OWL RDF/XML and the SSSOM mappings.

    The same input always gives the same bytes, and every file is replaced atomically: an
    interrupted export leaves the previous files as they were.

    \b
    Files: emdkg.ttl emdkg.nt emdkg.jsonld emdkg.context.jsonld emdkg.owl emdkg.sssom.tsv
           (and emdkg-inferred.nt with --inferred)
    """
    from emdkg.release import export as run_export
    from emdkg.validate import check_data

    check_data(data, consequence="nothing was written")  # --data must conform before it is released
    result = run_export(output, formats, data=data, inferred=inferred)
    for path in result.paths:
        click.echo(f"wrote {path} ({path.stat().st_size} bytes)")
    extra = f", {result.inferred} inferred" if result.inferred is not None else ""
    click.echo(f"{result.triples} triples{extra}")


@click.command()
@click.option("--store", "store", required=True, metavar="GSP_URL",
              help="The Graph Store Protocol endpoint (Oxigraph: http://HOST:7878/store; "
                   "Virtuoso: http://HOST:8890/sparql-graph-crud-auth).")
@click.option("--endpoint", required=True, metavar="QUERY_URL",
              help="The SPARQL query endpoint used to verify the load (Oxigraph: .../query; Virtuoso: .../sparql).")
@click.option("--update", metavar="UPDATE_URL",
              help="A SPARQL Update endpoint: swap the staging graph in with MOVE (Oxigraph: .../update; "
                   "Virtuoso: .../sparql-auth). Without it the target graph is replaced by a second PUT.")
@click.option("--graph", metavar="IRI", help="The named graph to replace [default: the ontology's owl:versionIRI].")
@click.option("--user", metavar="U", help="User name for the server (Virtuoso: dba).")
@click.option("--password", metavar="P", help="Password for the server.")
@click.option("--auth", type=click.Choice(["auto", "basic", "digest"]), default="auto", show_default=True,
              help="HTTP authentication; auto follows the server's WWW-Authenticate challenge.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True, metavar="S",
              help="Seconds to wait for each request.")
@data_option
def load(
    store: str,
    endpoint: str,
    update: str | None,
    graph: str | None,
    user: str | None,
    password: str | None,
    auth: str,
    timeout: float,
    data: tuple[Path, ...],
) -> None:
    """Replace a named graph of a triple store with the release, all or nothing.

    The data goes into a temporary staging graph first; its triple count is verified over
    the SPARQL protocol, then it is swapped in and verified again. On any failure the
    staging graph is deleted and the previous copy of the graph is left in place.

    \b
    Oxigraph server:
      emdkg load --store http://127.0.0.1:7878/store --endpoint http://127.0.0.1:7878/query
    Virtuoso (digest authentication):
      emdkg load --store http://127.0.0.1:8890/sparql-graph-crud-auth \\
                 --endpoint http://127.0.0.1:8890/sparql --user dba --password dba
    """
    from emdkg.release import load as run_load
    from emdkg.validate import check_data

    check_data(data, consequence="the server was not contacted")  # before any network traffic
    result = run_load(
        store, endpoint, graph=graph, data=data, update=update, user=user, password=password,
        auth=auth, timeout=timeout,
    )
    previous = f"replacing {result.previous}" if result.previous else "new graph"
    click.echo(
        f"loaded {result.triples} triples into <{result.graph}> ({previous}; swap by {result.swap}; "
        f"verified over {endpoint}) in {result.seconds:.2f} s"
    )
