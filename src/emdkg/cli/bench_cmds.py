"""``emdkg bench``: the benchmark commands (a group; each measurement is a subcommand)."""

from __future__ import annotations

import json
from typing import Any

import click

from emdkg.bench.cli import generate, run_default, run_options
from emdkg.bench.web import web_command

__all__ = ["bench"]


@click.group(invoke_without_command=True)
@run_options
@click.pass_context
def bench(ctx: click.Context, **options: Any) -> int | None:
    """Benchmarks: how fast emdkg is, against the alternatives, in one run.

    Without a subcommand: at each size, a synthetic knowledge base (see `emdkg bench
    generate`), then load, every named query, a traversal, full SHACL validation and peak
    memory, for emdkg and for rdflib, plain pyshacl, Oxigraph server and Apache Jena (where
    installed) on the same data; a table of times and speed-ups. CI runs
    `emdkg bench --sizes 10k --repeat 1`.
    """
    if ctx.invoked_subcommand is None:
        return run_default(**options)
    return None


bench.add_command(generate)
bench.add_command(web_command)  # emdkg bench web: load test of /sparql vs Oxigraph server


@bench.command("servers")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True,
              help="Runs of each measurement (medians, with min and max).")
@click.option("--server", "kinds", type=click.Choice(["oxigraph", "virtuoso"]), multiple=True,
              default=("oxigraph", "virtuoso"), show_default=True, help="Which servers to start; repeatable.")
def servers(as_json: bool, repeat: int, kinds: tuple[str, ...]) -> None:
    """Export, load into real SPARQL servers, and named-query latency over HTTP vs embedded.

    Starts each server (Oxigraph server, Virtuoso) on 127.0.0.1 in a temporary folder and
    stops it at the end; a server that is not installed is skipped. Progress goes to stderr.
    """
    from emdkg.bench.servers import format_report, run_server_bench

    report = run_server_bench(repeat=repeat, kinds=kinds, log=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        click.echo(format_report(report))
