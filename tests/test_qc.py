"""Quality control (emdkg.qc, ``emdkg qc``): the queries/qc checks and the verbatim-quote check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import emdkg
from emdkg.qc import VERBATIM_CHECK, check_quotes_verbatim, load_checks, run_qc

DATA = Path(__file__).parent / "data" / "qc"
EMDKG = "https://w3id.org/emdkg/"
KB = EMDKG + "kb/"

CHECKS = [check.name for check in load_checks()]

#: For each seeded bad example tests/data/qc/<check>.ttl: the (entity, value) rows it must give.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "missing-english-label": {
        (KB + "qc-hospital-german-label", "no rdfs:label with an @en tag"),
        (KB + "qc-hospital-untagged-label", "no rdfs:label with an @en tag"),
    },
    "multiple-english-labels": {
        (KB + "qc-hospital-two-labels", "Test University Hospital"),
        (KB + "qc-hospital-two-labels", "University Hospital of Test"),
    },
    "missing-definition": {
        (EMDKG + "QcUndefinedSite", "no definition (IAO:0000115) on this Class"),
        (EMDKG + "qcUndefinedProperty", "no definition (IAO:0000115) on this DatatypeProperty"),
    },
    "missing-definition-source": {
        (EMDKG + "QcUnsourcedSite", "a definition (IAO:0000115) but no definition source (IAO:0000119)"),
        (EMDKG + "qc-unsourced-drug", "a definition (IAO:0000115) but no definition source (IAO:0000119)"),
    },
    "malformed-mapping": {
        (EMDKG + "QcBadlyMappedSite", "obo:MONDO_123"),
        (EMDKG + "QcBadlyMappedSite", "<http://example.org/liver>"),
        (EMDKG + "QcBadlyMappedSite", "UBERON_0002107"),
        (EMDKG + "QcBadlyMappedSite", "FMA:7197"),
    },
    "obsolete-mapping": {
        (EMDKG + "QcObsoleteMappedSite", "obo:UBERON_9999991"),
        (EMDKG + "QcObsoleteMappedSite", "UBERON:9999991"),
        (EMDKG + "QcObsoleteMappedSite", "NCIT:C9999992"),
    },
    "statement-without-quote": {
        (KB + "qc-finding-without-quote", "no emdkg:quote"),
        (KB + "qc-programme-without-quote", "no emdkg:quote"),
    },
    "orphan-class": {
        (EMDKG + "QcOrphanClass", "no superclass other than owl:Thing, and not an allowed root"),
        (EMDKG + "QcRestrictionOnlyClass", "no superclass other than owl:Thing, and not an allowed root"),
    },
}


@pytest.fixture(scope="module")
def bundled_report():
    return run_qc(emdkg.load(), seeds=None)


def test_every_check_has_a_header_and_a_bad_example() -> None:
    for check in load_checks():
        assert check.summary and check.description, check.name
        assert "?entity" in check.query and "?property" in check.query and "?value" in check.query
        assert (DATA / f"{check.name}.ttl").is_file(), f"no bad example for {check.name}"
    assert set(EXPECTED) == set(CHECKS)


@pytest.mark.parametrize("name", CHECKS)
def test_bundled_knowledge_base_passes(bundled_report, name: str) -> None:
    result = bundled_report.result(name)
    assert result.rows == [], [(r.entity, r.value) for r in result.rows]


def test_bundled_quotes_are_verbatim(seeds_dir: Path) -> None:
    result = check_quotes_verbatim(emdkg.load(), seeds_dir)
    assert result.skipped is None
    assert result.rows == [], [(r.entity, r.value) for r in result.rows]
    assert result.note and not result.note.startswith("0 quote")


@pytest.mark.parametrize("name", CHECKS)
def test_bad_example_gives_exactly_its_rows(name: str) -> None:
    report = run_qc(emdkg.load([DATA / f"{name}.ttl"]), seeds=None)
    rows = {(row.check, row.entity, row.value) for row in report.rows}
    assert rows == {(name, entity, value) for entity, value in EXPECTED[name]}
    assert len(report.rows) == len(EXPECTED[name])


def test_bad_quotes_are_found(seeds_dir: Path) -> None:
    report = run_qc(emdkg.load([DATA / f"{VERBATIM_CHECK}.ttl"]), seeds=seeds_dir)
    rows = {(row.check, row.entity) for row in report.rows}
    assert rows == {
        (VERBATIM_CHECK, KB + "qc-misquoted-finding"),
        (VERBATIM_CHECK, KB + "qc-finding-from-missing-seed"),
    }
    values = {row.entity: row.value for row in report.rows}
    assert values[KB + "qc-misquoted-finding"].startswith("not found in 001_")
    assert "999_no_such_seed.txt" in values[KB + "qc-finding-from-missing-seed"]


def test_verbatim_check_is_skipped_with_a_reason_without_seeds(tmp_path: Path) -> None:
    report = run_qc(emdkg.load(), seeds=tmp_path / "no-seeds-here")
    result = report.result(VERBATIM_CHECK)
    assert result.status == "skipped"
    assert "does not exist" in (result.skipped or "")
    assert report.ok  # a skipped check does not fail the run


# --- the command line -----------------------------------------------------------------------


def test_cli_qc_on_the_bundled_knowledge_base(cli) -> None:
    result = cli("qc")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "result: OK" in result.stdout
    for name in CHECKS:
        assert name in result.stdout


def test_cli_qc_without_seeds_says_why_the_verbatim_check_was_skipped(cli, tmp_path) -> None:
    result = cli("qc", env={"EMDKG_SEEDS": str(tmp_path / "missing")})
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if line.startswith(VERBATIM_CHECK))
    assert "skipped" in line and "seed texts were not found" in line


def test_cli_qc_reports_rows_and_exits_1(cli) -> None:
    result = cli("qc", "--data", str(DATA / "orphan-class.ttl"), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert {row["entity"] for row in data["rows"]} == {
        EMDKG + "QcOrphanClass",
        EMDKG + "QcRestrictionOnlyClass",
    }
    assert {row["check"] for row in data["rows"]} == {"orphan-class"}
    assert {c["name"]: c["rows"] for c in data["checks"]}["orphan-class"] == 2


def test_cli_qc_cannot_run_exits_2(cli, tmp_path) -> None:
    result = cli("qc", "--data", str(tmp_path / "missing.ttl"))
    assert result.exit_code == 2
    assert len(result.stderr_lines) == 1 and "no such file" in result.stderr
