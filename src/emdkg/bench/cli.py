"""The command-line faces of the benchmark: ``emdkg bench generate`` and ``emdkg bench`` itself.

``emdkg.cli.bench_cmds`` holds the ``bench`` group; it takes :data:`run_options` and calls
:func:`run_default` when no subcommand is given, and adds :data:`generate`. Only click is
imported here: the benchmark modules load when a command runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from emdkg.errors import EmdkgError

__all__ = ["generate", "run_options", "run_default", "SIZE"]


class _Size(click.ParamType):
    """A triple count: ``10000``, ``10k``, ``1m``."""

    name = "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from emdkg.bench.generate import parse_size

        try:
            return parse_size(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


class _Sizes(click.ParamType):
    """A comma-separated list of sizes: ``10k,100k,1m``."""

    name = "SIZES"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[int]:
        if isinstance(value, list):
            return value
        from emdkg.bench.generate import parse_size

        try:
            sizes = [parse_size(part) for part in str(value).split(",") if part.strip()]
        except ValueError as e:
            self.fail(str(e), param, ctx)
        if not sizes:
            self.fail("no size given", param, ctx)
        return sizes


SIZE = _Size()


@click.command()
@click.option("--triples", "-n", type=SIZE, required=True, help="About this many triples (10000, 10k, 1m).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The N-Triples file to write; the expected violations go to OUTPUT.violations.json.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same seed, same file.")
@click.option("--violations", "-k", type=click.IntRange(min=0), default=0, show_default=True,
              help="Inject this many violations of the shapes, of known kinds.")
def generate(triples: int, output: Path, seed: int, violations: int) -> None:
    """Write a synthetic knowledge base that uses the real ontology and conforms to the shapes.

    Findings of every kind, publications with DOIs, source documents, citations and programme
    offerings, in the proportions of the curated knowledge base. With --violations K, K
    defects are injected; each gives exactly one validation result, recorded (focus node,
    shape, constraint component) in OUTPUT.violations.json.
    """
    import time

    from emdkg.bench.generate import generate_file, sidecar_path

    start = time.perf_counter()
    try:
        report = generate_file(triples, output, seed=seed, violations=violations)
    except OSError as e:
        raise EmdkgError(f"{output}: cannot write: {e.strerror or e}") from None
    elapsed = time.perf_counter() - start
    click.echo(
        f"wrote {report.triples:,} triples to {output} in {elapsed:.1f} s "
        f"({len(report.violations)} injected violations in {sidecar_path(output)})",
        err=True,
    )


def run_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options of the benchmark run (``emdkg bench [OPTIONS]``)."""
    options = [
        click.option("--sizes", type=_Sizes(), default="10k,100k,1m", show_default=True,
                     help="Comma-separated sizes in triples."),
        click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Repetitions of each measurement (medians, with min and max)."),
        click.option("--baseline-repeat", type=click.IntRange(min=1), default=None,
                     help="Repetitions of the slow baselines at 1M+ triples [default: 1 there, --repeat below]."),
        click.option("--json", "as_json", is_flag=True, help="Print the results as JSON."),
        click.option("--markdown", is_flag=True, help="Print the README's small table (Markdown) instead."),
        click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Also write the JSON results to this file."),
        click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Keep the generated knowledge bases here (reused by later runs) [default: a temporary folder]."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated data."),
        click.option("--violations", type=click.IntRange(min=0), default=100, show_default=True,
                     help="Violations injected into each generated knowledge base."),
        click.option("--baselines", default="rdflib,pyshacl,oxigraph-server,jena", show_default=True,
                     help="Comma-separated baselines to run (empty: none)."),
        click.option("--skip-slow-baselines", is_flag=True,
                     help="Skip rdflib at 1M+ triples (its parse alone takes ~30 s there)."),
        click.option("--full-baselines", is_flag=True,
                     help="Also run plain pyshacl at 1M+ triples (many minutes)."),
        click.option("--no-graph", is_flag=True, help="Skip the networkx projection and traversals."),
        click.option("--startup-runs", type=click.IntRange(min=0), default=20, show_default=True,
                     help="Runs of `emdkg sites` for the start-up time (0: skip)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def run_default(
    sizes: list[int],
    repeat: int,
    baseline_repeat: int | None,
    as_json: bool,
    markdown: bool,
    output: Path | None,
    workdir: Path | None,
    seed: int,
    violations: int,
    baselines: str,
    skip_slow_baselines: bool,
    full_baselines: bool,
    no_graph: bool,
    startup_runs: int,
) -> int:
    """Run the benchmark and print the table (or JSON). Progress goes to stderr."""
    from emdkg.bench.run import format_markdown, format_report, run_benchmark

    known = {"rdflib", "pyshacl", "oxigraph-server", "jena"}
    chosen = {b.strip() for b in baselines.split(",") if b.strip()}
    unknown = chosen - known
    if unknown:
        raise click.BadParameter(f"unknown baseline(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})",
                                 param_hint="--baselines")
    report = run_benchmark(
        sizes,
        repeat=repeat,
        baseline_repeat=baseline_repeat,
        seed=seed,
        violations=violations,
        workdir=workdir,
        skip_slow_baselines=skip_slow_baselines,
        full_baselines=full_baselines,
        baselines=chosen,
        graph=not no_graph,
        startup_runs=startup_runs,
        log=lambda line: click.echo(line, err=True),
    )
    text = json.dumps(report, indent=1, default=str, ensure_ascii=False)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    if as_json:
        sys.stdout.write(text + "\n")
    elif markdown:
        click.echo(format_markdown(report))
    else:
        click.echo(format_report(report))
    return 0
