"""Quality control: the ODK-style checks of ``queries/qc/*.rq`` plus the verbatim-quote check.

Each ``queries/qc/<check>.rq`` is a SELECT that returns the *offending* entities and must return
no rows. Its header says what it checks, in the ``#+ key: value`` form the named queries use::

    #+ summary: Entities without an English label
    #+ description: ...
    #+ tags: qc, labels
    #+ severity: error

Every check projects ``?entity ?property ?value`` (the ROBOT report columns): the focus entity,
the property concerned and the offending value or a short statement of what is missing.

The verbatim check is not SPARQL: every ``emdkg:quote`` of a statement whose
``emdkg:extractedFrom`` document has an ``emdkg:fileName`` must occur, character for character,
in that seed text (found through :func:`emdkg.resources.seeds_dir`). When the seeds folder is
absent the check is *skipped*, and the report says why.

>>> check = parse_check_header("#+ summary: No label\\n#+ description: one\\n#+   two\\nSELECT ?entity {}")
>>> check["summary"], check["description"]
('No label', 'one two')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emdkg.errors import EmdkgError
from emdkg.values import IRI

__all__ = [
    "VERBATIM_CHECK",
    "Check",
    "QCRow",
    "QCReport",
    "parse_check_header",
    "load_checks",
    "run_qc",
    "check_quotes_verbatim",
]

#: The name of the (non-SPARQL) verbatim-quote check in reports.
VERBATIM_CHECK = "quote-not-verbatim"

_HEADER = re.compile(r"^#\+\s*([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")

_LABELS_QUERY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?entity ?label WHERE {
  ?entity rdfs:label ?label .
  FILTER(isIRI(?entity) && (langMatches(lang(?label), "en") || lang(?label) = ""))
}
"""

_QUOTES_QUERY = """
PREFIX emdkg: <https://w3id.org/emdkg/>
SELECT ?entity ?quote ?document ?file WHERE {
  ?entity emdkg:quote ?quote ;
          emdkg:extractedFrom ?document .
  OPTIONAL { ?document emdkg:fileName ?file }
}
ORDER BY ?entity ?file ?quote
"""


def parse_check_header(text: str) -> dict[str, str]:
    """The ``#+ key: value`` lines at the top of a query (until the first other line)."""
    header: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        continuation = re.match(r"^#\+\s{2,}(\S.*)$", stripped)
        if continuation and last is not None:  # "#+   more text" continues the previous key
            header[last] = f"{header[last]} {continuation.group(1).strip()}".strip()
            continue
        match = _HEADER.match(stripped)
        if not match:
            if stripped.startswith("#"):
                continue
            break
        last = match.group(1).lower()
        header[last] = match.group(2)
    return header


@dataclass(frozen=True)
class Check:
    """One QC check: its name (the file stem), header and query text."""

    name: str
    summary: str
    description: str
    severity: str
    query: str
    path: Path | None = None


@dataclass(frozen=True)
class QCRow:
    """One offending entity found by a check."""

    check: str
    entity: str
    label: str
    property: str
    value: str

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "entity": self.entity,
            "label": self.label,
            "property": self.property,
            "value": self.value,
        }


@dataclass
class CheckResult:
    """What one check found: its rows, or why it was skipped."""

    check: Check
    rows: list[QCRow] = field(default_factory=list)
    skipped: str | None = None
    note: str | None = None

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        return "fail" if self.rows else "pass"


@dataclass
class QCReport:
    """All checks and their rows. ``ok`` (no rows; skipped checks do not count) is exit 0."""

    results: list[CheckResult]

    @property
    def rows(self) -> list[QCRow]:
        return [row for result in self.results for row in result.rows]

    @property
    def ok(self) -> bool:
        return not self.rows

    def result(self, name: str) -> CheckResult:
        for result in self.results:
            if result.check.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {
                    "name": r.check.name,
                    "summary": r.check.summary,
                    "status": r.status,
                    "rows": len(r.rows),
                    "skipped": r.skipped,
                    "note": r.note,
                }
                for r in self.results
            ],
            "rows": [row.as_dict() for row in self.rows],
        }


def load_checks(folder: Path | None = None) -> list[Check]:
    """The ``*.rq`` checks of ``folder`` (default: the bundled ``queries/qc``), sorted by name."""
    if folder is None:
        from emdkg.resources import queries_dir

        folder = queries_dir() / "qc"
    if not folder.is_dir():
        raise EmdkgError(f"the quality-control queries are missing: {folder} is not a folder")
    checks = []
    for path in sorted(folder.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        header = parse_check_header(text)
        if "summary" not in header:
            raise EmdkgError(f"{path}: a QC query needs a '#+ summary:' header line")
        checks.append(
            Check(
                name=path.stem,
                summary=header["summary"],
                description=header.get("description", ""),
                severity=header.get("severity", "error"),
                query=text,
                path=path,
            )
        )
    if not checks:
        raise EmdkgError(f"no quality-control queries (*.rq) in {folder}")
    return checks


def _curie(iri: str) -> str:
    from emdkg.reason import curie

    return curie(iri)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, IRI):
        return _curie(str(value))
    return str(value)


def run_qc(
    store: Any,
    *,
    checks: Sequence[Check] | None = None,
    seeds: Path | None | bool = True,
) -> QCReport:
    """Run the QC checks over ``store`` and the verbatim-quote check against the seed texts.

    ``seeds``: ``True`` (default) finds them with :func:`emdkg.resources.seeds_dir`; a path uses
    that folder; ``None`` or ``False`` skips the verbatim check.
    """
    from emdkg.resources import seeds_dir

    checks = load_checks() if checks is None else list(checks)
    labels: dict[str, str] = {}
    for row in store.select(_LABELS_QUERY):
        entity = str(row["entity"])
        label = str(row["label"])
        if entity not in labels or getattr(row["label"], "lang", "") == "en":
            labels[entity] = label

    results = []
    for check in checks:
        rows = store.select(check.query)
        if "entity" not in rows.variables:
            raise EmdkgError(f"QC query {check.name!r} must project ?entity")
        found = []
        for row in rows:
            entity = row.get("entity")
            found.append(
                QCRow(
                    check=check.name,
                    entity=str(entity) if entity is not None else "",
                    label=labels.get(str(entity), ""),
                    property=_text(row.get("property")),
                    value=_text(row.get("value")),
                )
            )
        results.append(CheckResult(check, found))

    folder: Path | None
    if seeds is True:
        folder = seeds_dir()
        missing_reason = "the seed texts were not found (../shared/seeds beside the checkout, or $EMDKG_SEEDS)"
    elif seeds is None or seeds is False:
        folder = None
        missing_reason = "the verbatim check was not asked for"
    else:
        folder = Path(seeds)
        missing_reason = f"the seed texts folder {folder} does not exist"
        if not folder.is_dir():
            folder = None
    results.append(check_quotes_verbatim(store, folder, labels=labels, missing_reason=missing_reason))
    return QCReport(results)


_VERBATIM = Check(
    name=VERBATIM_CHECK,
    summary="Quotes that do not appear verbatim in their seed text",
    description=(
        "Every emdkg:quote of a statement whose emdkg:extractedFrom document has an "
        "emdkg:fileName must occur, character for character, in that seed text."
    ),
    severity="error",
    query="",
)


def check_quotes_verbatim(
    store: Any,
    folder: Path | None,
    *,
    labels: dict[str, str] | None = None,
    missing_reason: str = "the seed texts were not found",
) -> CheckResult:
    """The verbatim check: quotes of statements against the seed files they were taken from."""
    if folder is None:
        return CheckResult(_VERBATIM, skipped=missing_reason)
    labels = labels or {}
    texts: dict[str, str | None] = {}
    rows: list[QCRow] = []
    checked = unchecked = 0
    for row in store.select(_QUOTES_QUERY):
        entity, quote, file = str(row["entity"]), str(row["quote"]), row.get("file")
        if file is None:
            unchecked += 1  # a document read elsewhere (emdkg:retrievedFrom): nothing to compare
            continue
        checked += 1
        name = str(file)
        if name not in texts:
            path = folder / name
            texts[name] = path.read_text(encoding="utf-8") if path.is_file() and Path(name).name == name else None
        text = texts[name]
        if text is None:
            problem = f"seed file {name!r} not found in {folder}"
        elif quote in text:
            continue
        elif " ".join(quote.split()) in " ".join(text.split()):
            problem = f"differs from {name} in whitespace only: {_excerpt(quote)}"
        else:
            problem = f"not found in {name}: {_excerpt(quote)}"
        rows.append(QCRow(VERBATIM_CHECK, entity, labels.get(entity, ""), "emdkg:quote", problem))
    note = f"{checked} quote(s) compared with their seed text; {unchecked} from documents without a seed file"
    return CheckResult(_VERBATIM, rows, note=note)


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def check_names(checks: Iterable[Check] | None = None) -> list[str]:
    """The names of all checks, the verbatim check last."""
    return [c.name for c in (load_checks() if checks is None else checks)] + [VERBATIM_CHECK]
