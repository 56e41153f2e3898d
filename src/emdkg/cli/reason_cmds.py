"""``emdkg reason`` and ``emdkg qc``: OWL reasoning (HermiT) and the quality-control checks.

Both load the bundled knowledge graph plus any ``--data`` files.

``emdkg reason`` exit status: 0 consistent with no unsatisfiable class (and no class used as a
value of a disjoint kind), 1 otherwise (each problem explained in one paragraph, naming the
classes and individuals by label), 2 when it cannot run (no Java: one line saying how to get it).

``emdkg qc`` exit status: 0 when every check returns no rows (a skipped check, such as the
verbatim check without the seed texts, does not fail), 1 when some check returns rows, 2 when
it cannot run (a file or a QC query cannot be read).

``--format json`` prints one JSON object and nothing else (see
:meth:`emdkg.reason.ReasoningResult.to_dict` and :meth:`emdkg.qc.QCReport.to_dict`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from emdkg.cli.options import data_option, report_format_option

__all__ = ["reason", "qc"]

_format_option = report_format_option


def _files(data: tuple[Path, ...]) -> list[Path]:
    from emdkg.resources import bundled_rdf_files

    return [*bundled_rdf_files(), *data]


def _section(title: str) -> None:
    click.echo("")
    click.echo(title)


@click.command(name="reason")
@data_option
@_format_option
def reason(data: tuple[Path, ...], output_format: str) -> int:
    """Classify the ontology and knowledge base with an OWL reasoner (HermiT).

    Reports consistency, unsatisfiable classes, the inferred class hierarchy (subclass axioms
    nobody asserted) and newly inferred types of individuals. HermiT runs on Java through
    owlready2 (Pellet in owlready2 0.50/0.51 does not run on Java 17). Exits 0 when consistent,
    1 when inconsistent or a class is unsatisfiable (with a readable explanation), 2 when the
    reasoner cannot run.
    """
    import time

    from emdkg.cli.output import write_rows
    from emdkg.reason import reason as run_reasoner
    from emdkg.store import load_files

    start = time.perf_counter()
    files = _files(data)
    store = load_files(files)
    result = run_reasoner(store, files=files)
    wall = time.perf_counter() - start
    result.timings["wall"] = wall

    if output_format == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0 if result.ok else 1

    hermit = result.timings.get("hermit", 0.0)
    click.echo(
        f"HermiT (via owlready2) on {len(files)} file(s), {result.triples} triples "
        f"({result.reasoner_triples} without annotations go to the reasoner): "
        f"{wall:.1f} s, of which HermiT {hermit:.1f} s including the JVM start"
    )
    click.echo(f"consistency: {'consistent' if result.consistent else 'INCONSISTENT'}")
    if result.consistent:
        unsat = ", ".join(str(t) for t in result.unsatisfiable) or "none"
        click.echo(f"unsatisfiable classes: {unsat}")

    if result.problems:
        _section(f"problems ({len(result.problems)}):")
        for problem in result.problems:
            click.echo(f"- {problem.kind}: {problem.explanation}")

    if result.consistent:
        _section(f"inferred class hierarchy ({len(result.inferred_subclasses)} subclass axioms not asserted):")
        write_rows(
            [{"subclass": str(a), "superclass": str(b)} for a, b in result.inferred_subclasses],
            "table",
            columns=["subclass", "superclass"],
        )
        if result.inferred_equivalences:
            _section(f"inferred equivalent classes ({len(result.inferred_equivalences)}):")
            write_rows(
                [{"class": str(a), "equivalent": str(b)} for a, b in result.inferred_equivalences],
                "table",
                columns=["class", "equivalent"],
            )
        _section(f"inferred types of individuals ({len(result.inferred_types)} not asserted):")
        write_rows(
            [{"individual": str(a), "type": str(b)} for a, b in result.inferred_types],
            "table",
            columns=["individual", "type"],
        )
        if result.punned_types:
            click.echo(
                f"\n(and {len(result.punned_types)} types of classes used as values, e.g. "
                f"{result.punned_types[0][0].label}: {result.punned_types[0][1].label}; "
                "see --format json)"
            )
    click.echo("")
    click.echo("result: " + ("OK" if result.ok else f"{len(result.problems)} problem(s)"))
    return 0 if result.ok else 1


@click.command(name="qc")
@data_option
@_format_option
def qc(data: tuple[Path, ...], output_format: str) -> int:
    """Run the quality-control checks (queries/qc/*.rq and the verbatim-quote check).

    Each check lists offending entities and must list none: missing or multiple English labels,
    missing definitions or definition sources, malformed or obsolete mappings, statements
    without a quote, orphan classes, and quotes not found verbatim in their seed text (skipped,
    with the reason, when the seed texts are not available). Exits 0 when no check returns a
    row, 1 when some do, 2 when the checks cannot run.
    """
    from emdkg.cli.output import write_rows
    from emdkg.qc import run_qc
    from emdkg.store import load_files

    store = load_files(_files(data))
    report = run_qc(store)
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return 0 if report.ok else 1

    summary = []
    for result in report.results:
        detail = f"skipped: {result.skipped}" if result.skipped else f"{len(result.rows)} row(s)"
        if result.note and not result.skipped:
            detail += f" ({result.note})"
        summary.append({"check": result.check.name, "status": result.status, "detail": detail})
    write_rows(summary, "table", columns=["check", "status", "detail"])
    if report.rows:
        click.echo("")
        write_rows(
            [
                {
                    "check": row.check,
                    "entity": _short(row.entity),
                    "label": row.label,
                    "property": row.property,
                    "value": row.value,
                }
                for row in report.rows
            ],
            "table",
            columns=["check", "entity", "label", "property", "value"],
        )
    failing = sum(1 for r in report.results if r.rows)
    click.echo("")
    click.echo(
        "result: OK" if report.ok else f"result: {len(report.rows)} row(s) from {failing} check(s)"
    )
    return 0 if report.ok else 1


def _short(iri: str) -> str:
    from emdkg.reason import curie

    return curie(iri) if iri else ""
