"""``emdkg validate [PATH ...]``: check the knowledge graph (or the files given) against the shapes.

Exit status: 0 when there are no violations (warnings may be printed), 1 when there are
violations, 2 when a file cannot be read or parsed (one line on stderr naming the file, and
the line and column for a syntax error).

``--format table`` (the default) prints severity, the focus node's label (or CURIE), the
property path, the offending value and what to fix, then a one-line summary. ``--format json``
prints a JSON list of objects with the keys ``severity, focus, focus_label, path, value,
message, shape, component`` (an empty list when there is nothing to report) and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import click

from emdkg.cli.options import report_format_option

__all__ = ["validate"]


@click.command(name="validate")
# readable=False: the loader checks the files, so that every problem gets its one-line message.
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, readable=False), metavar="[PATH ...]")
@report_format_option
@click.option(
    "--shapes",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE",
    help="Use these SHACL shapes instead of the bundled shapes/emdkg.shacl.ttl.",
)
@click.option(
    "--with-bundled",
    is_flag=True,
    default=False,
    help="Validate the files together with the bundled knowledge base (finds identifiers that "
    "clash with it, e.g. a second label for a bundled publication).",
)
def validate(paths: tuple[Path, ...], output_format: str, shapes: Path | None, with_bundled: bool) -> int:
    """Check the knowledge graph against the SHACL shapes.

    Without PATH, validates the bundled knowledge base (ontology/kb/*.ttl). Given files, it
    validates them together, with the bundled ontology's class hierarchy alongside. Exits 0
    when there are no violations, 1 when there are, 2 when a file cannot be read.
    """
    from emdkg.cli.output import write_rows
    from emdkg.validate import JSON_KEYS
    from emdkg.validate import validate as run_validation

    from emdkg.validate import default_paths

    files = list(paths) if paths else None
    if with_bundled and files is not None:
        files = [*default_paths(), *files]
    report = run_validation(files, shapes=shapes)
    if output_format == "json":
        write_rows([v.as_row() for v in report.violations], "json", columns=list(JSON_KEYS))
    else:
        if report.violations:
            # Two constraints of one shape can fail on the same value ("57 Day" is neither an
            # integer nor comparable with 0): the table, which shows no component, prints the
            # row once. JSON keeps every result.
            seen: dict[tuple[str | None, ...], dict[str, str | None]] = {}
            for v in report.violations:
                row = {
                    "severity": v.severity,
                    "focus": v.focus_label,
                    "path": v.path,
                    "value": v.value,
                    "message": v.message,
                }
                seen.setdefault((v.focus, *row.values()), row)
            write_rows(list(seen.values()), "table", columns=["severity", "focus", "path", "value", "message"])
        click.echo(f"{len(report.files)} file(s), {report.triples} triples: {report.summary()}")
    return 0 if report.conforms else 1
