"""``emdkg.validate`` and ``emdkg validate``: the report, its order, the exit codes and the errors."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from emdkg.errors import EmdkgError, InputError
from emdkg.validate import (
    JSON_KEYS,
    ValidationReport,
    Violation,
    build_data_graph,
    curie,
    default_paths,
    validate,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "shapes" / "examples"
VALID = EXAMPLES / "valid" / "site-involvement-finding.ttl"
INVALID = EXAMPLES / "invalid" / "min-greater-than-max.ttl"
KB = "https://w3id.org/emdkg/kb/"

DRAFT = """\
@prefix emdkg: <https://w3id.org/emdkg/> .
@prefix kb:    <https://w3id.org/emdkg/kb/> .
@prefix rdfs:  <http://www.w3.org/2000/01/rdf-schema#> .

kb:draft-b a emdkg:IncidenceFinding ;
    rdfs:label "a draft incidence"@en , "另一个标签"@zh ;
    emdkg:disease emdkg:Skin ;
    emdkg:minPercent 120.0 .
kb:draft-a a emdkg:SiteInvolvementFinding ;
    emdkg:disease emdkg:MultipleMyeloma ; emdkg:site emdkg:Skin .
"""


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    path = tmp_path / "draft.ttl"
    path.write_text(DRAFT, encoding="utf-8")
    return path


# --- the API ---------------------------------------------------------------------------------


def test_report_types_and_fields(draft: Path) -> None:
    report = validate([draft])
    assert isinstance(report, ValidationReport) and report.conforms is False
    assert report.files == [draft]
    assert all(isinstance(v, Violation) for v in report.violations)
    assert [f.name for f in dataclasses.fields(Violation)] == [
        "severity", "focus", "focus_label", "path", "value", "message", "source_shape", "component",
    ]
    by_shape = {(v.source_shape, v.focus): v for v in report.violations}

    disease = by_shape[("esh:disease-kind", KB + "draft-b")]
    assert disease.severity == "Violation"
    assert disease.focus_label == "a draft incidence", "the English label, not the Chinese one"
    assert disease.path == "emdkg:disease" and disease.value == "emdkg:Skin"
    assert disease.component == "sh:NodeConstraintComponent"
    assert "subclass of emdkg:Disease" in disease.message

    percent = by_shape[("esh:minPercent-range", KB + "draft-b")]
    assert percent.value == "120.0" and percent.component == "sh:MaxInclusiveConstraintComponent"

    unlabelled = by_shape[("esh:label-present", KB + "draft-a")]
    assert unlabelled.focus_label == "kb:draft-a", "no label: the CURIE"
    assert unlabelled.path == "rdfs:label" and unlabelled.value is None

    warning = by_shape[("esh:incidence-finding-phase-stated", KB + "draft-b")]
    assert warning.severity == "Warning"
    assert warning in report.warnings and warning not in report.errors


def test_report_is_sorted_and_deterministic(draft: Path) -> None:
    first = validate([draft]).violations
    again = validate([draft]).violations
    assert first == again
    ranks = {"Violation": 0, "Warning": 1, "Info": 2}
    keys = [(ranks[v.severity], v.focus, v.path or "", v.source_shape, v.component, v.value or "") for v in first]
    assert keys == sorted(keys)
    assert len(set(first)) == len(first), "no duplicate results"


def test_node_level_result_has_no_path_and_no_value() -> None:
    report = validate([EXAMPLES / "invalid" / "flagged-claim-asserted-as-finding.ttl"])
    (v,) = report.violations
    assert v.path is None and v.value is None
    assert v.component == "sh:NotConstraintComponent"


def test_valid_file_conforms() -> None:
    report = validate([VALID])
    assert report.conforms and report.violations == [] and report.summary() == "conforms"


def test_warnings_do_not_break_conformance() -> None:
    report = validate([EXAMPLES / "invalid" / "incidence-without-phase.ttl"])
    assert report.conforms and len(report.warnings) == 1 and not report.errors
    assert report.summary() == "conforms (1 warning)"


def test_summary_counts(draft: Path) -> None:
    report = validate([draft])
    assert report.summary().startswith(f"does not conform: {len(report.errors)} violations")


def test_default_is_the_bundled_knowledge_base() -> None:
    paths = default_paths()
    assert paths and all(p.parent.name == "kb" and p.suffix == ".ttl" for p in paths)
    assert validate().files == paths


def test_data_graph_carries_only_the_ontology_slice() -> None:
    from rdflib import URIRef

    graph = build_data_graph([VALID])
    skos_exact = URIRef("http://www.w3.org/2004/02/skos/core#exactMatch")
    definition = URIRef("http://purl.obolibrary.org/obo/IAO_0000115")
    subclass = URIRef("http://www.w3.org/2000/01/rdf-schema#subClassOf")
    assert (URIRef("https://w3id.org/emdkg/MultipleMyeloma"), subclass,
            URIRef("https://w3id.org/emdkg/PlasmaCellNeoplasm")) in graph
    assert not any(graph.triples((None, skos_exact, None)))
    assert not any(graph.triples((None, definition, None)))


def test_custom_shapes(tmp_path: Path) -> None:
    shapes = tmp_path / "only-labels.ttl"
    shapes.write_text(
        """@prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        @prefix emdkg: <https://w3id.org/emdkg/> .
        [] a sh:NodeShape ; sh:targetClass emdkg:Finding ;
           sh:property [ sh:path rdfs:comment ; sh:minCount 1 ; sh:message "needs a comment" ] .
        """
    )
    report = validate([VALID], shapes=shapes)
    (v,) = report.violations
    assert v.message == "needs a comment" and v.source_shape == "[rdfs:comment]"


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.ttl: no such file$"):
        validate([VALID, tmp_path / "nope.ttl"])


def test_malformed_turtle_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text('@prefix : <https://e.org/> .\n:a :b :c .\n:a :b "unterminated\n')
    with pytest.raises(InputError) as info:
        validate([bad])
    assert info.value.path == str(bad) and info.value.line == 3


def test_malformed_shapes_file(tmp_path: Path) -> None:
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text("@prefix sh: <http://www.w3.org/ns/shacl#> .\n[] a sh:NodeShape ;\n")
    with pytest.raises(InputError, match=r"shapes\.ttl:"):
        validate([VALID], shapes=shapes)
    with pytest.raises(InputError, match=r"none\.ttl: no such file"):
        validate([VALID], shapes=tmp_path / "none.ttl")


def test_shapes_that_are_not_shacl(tmp_path: Path) -> None:
    shapes = tmp_path / "broken-shacl.ttl"
    shapes.write_text(
        """@prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix emdkg: <https://w3id.org/emdkg/> .
        [] a sh:NodeShape ; sh:targetClass emdkg:Finding ; sh:or "not a list" .
        """
    )
    with pytest.raises(EmdkgError, match="not valid SHACL"):
        validate([VALID], shapes=shapes)


def test_curie() -> None:
    assert curie(KB + "blade-2022") == "kb:blade-2022"
    assert curie("https://w3id.org/emdkg/MultipleMyeloma") == "emdkg:MultipleMyeloma"
    assert curie("http://purl.obolibrary.org/obo/ECO_0000304") == "obo:ECO_0000304"
    assert curie("https://w3id.org/emdkg/a/b") == "<https://w3id.org/emdkg/a/b>"


def test_importing_validate_is_cheap() -> None:
    code = (
        "import sys, emdkg.validate, emdkg.cli.validate; "
        "print(sorted(m for m in ('rdflib', 'pyshacl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the command line ------------------------------------------------------------------------


def test_cli_exit_0_when_conforming(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(VALID))
    assert result.exit_code == 0, result.stderr
    assert "conforms" in result.stdout and result.stderr == ""


def test_cli_exit_1_with_violations_table(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(INVALID))
    assert result.exit_code == 1, result.stderr
    out = result.stdout
    for header in ("severity", "focus", "path", "value", "message"):
        assert header in out
    assert "Violation" in out and "emdkg:minPercent" in out
    assert "extramedullary disease occurs in 0.5-4.8%" in out, "the focus node's label"
    assert "does not conform: 1 violation" in out


def test_cli_json(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(INVALID), "--format", "json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and len(rows) == 1
    (row,) = rows
    assert list(row) == list(JSON_KEYS) == [
        "severity", "focus", "focus_label", "path", "value", "message", "shape", "component",
    ]
    assert row["severity"] == "Violation"
    assert row["focus"] == KB + "example-incidence"
    assert row["path"] == "emdkg:minPercent" and row["value"] == "4.8"
    assert row["shape"] == "esh:percent-order"
    assert row["component"] == "sh:LessThanOrEqualsConstraintComponent"


def test_cli_json_empty_list_when_conforming(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--format", "json", str(VALID))
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_cli_missing_file_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "missing.ttl"
    result = cli("validate", str(VALID), str(missing))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr_lines == [f"emdkg: error: {missing}: no such file; check the path"]


def test_cli_malformed_turtle_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.ttl"
    bad.write_text('@prefix : <https://e.org/> .\n:a :b :c .\n:a :b "unterminated\n')
    result = cli("validate", str(bad))
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr_lines
    assert line.startswith(f"emdkg: error: {bad}:3:")


def test_cli_ill_typed_literal_is_reported_quietly(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "ill-typed.ttl"
    path.write_text(
        "@prefix emdkg: <https://w3id.org/emdkg/> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
        '<https://w3id.org/emdkg/kb/x> emdkg:minPercent "abc"^^xsd:decimal .\n'
    )
    result = cli("validate", "--format", "json", str(path))
    assert result.exit_code == 1 and result.stderr == "", "no rdflib traceback on stderr"
    rows = json.loads(result.stdout)
    assert {"esh:minPercent-datatype"} <= {r["shape"] for r in rows}


def test_cli_bad_format_is_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--format", "xml")
    assert result.exit_code == 2 and len(result.stderr_lines) == 1


@pytest.mark.slow
def test_cli_bundled_knowledge_base_as_a_process(cli_process) -> None:  # type: ignore[no-untyped-def]
    result = cli_process("validate", "--format", "json")
    rows = json.loads(result.stdout)
    assert result.exit_code == (0 if not [r for r in rows if r["severity"] == "Violation"] else 1)
    assert result.exit_code == 0, "\n".join(f"{r['focus']} {r['shape']}: {r['message']}" for r in rows)
