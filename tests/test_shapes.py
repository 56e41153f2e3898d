"""The SHACL shapes: the bundled knowledge base conforms, every example does what its header says.

How the examples are loaded: each file in ``shapes/examples/{valid,invalid}/`` is validated
*alone* with :func:`emdkg.validate.validate` — the file plus the slice of the bundled ontology
(class hierarchy, labels, disjointness axioms, therapy individuals) that every data graph
carries. An invalid example names the results it must produce, one per line, in its header::

    #   expect: <severity> <source shape> <constraint component> <focus node>

and must produce exactly those (no more, no fewer). A valid example produces no result at all,
not even a warning.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emdkg.validate import PREFIXES, ValidationReport, Violation, curie, validate

REPO = Path(__file__).resolve().parent.parent
SHAPES = REPO / "shapes" / "emdkg.shacl.ttl"
EXAMPLES = REPO / "shapes" / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.ttl"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.ttl"))
EXPECT = re.compile(r"^#\s+expect:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.M)

SH = "http://www.w3.org/ns/shacl#"
# Node shapes used only through sh:node / sh:or (esh:DiseaseTerm, esh:EvidenceTerm, …).
HELPERS = ("Term", "IdentifiedPublication")


def expected_results(path: Path) -> set[tuple[str, str, str, str]]:
    return set(EXPECT.findall(path.read_text(encoding="utf-8")))


def observed_results(report: ValidationReport) -> set[tuple[str, str, str, str]]:
    return {(v.severity, v.source_shape, v.component, curie(v.focus)) for v in report.violations}


def describe(violations: list[Violation]) -> str:
    return "\n".join(
        f"  {v.severity} {curie(v.focus)} [{v.path or '-'}] {v.value or ''} "
        f"{v.source_shape} {v.component}: {v.message}"
        for v in violations
    )


# --- the bundled knowledge base ------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_report() -> ValidationReport:
    return validate()


def test_bundled_knowledge_base_conforms(bundled_report: ValidationReport) -> None:
    assert bundled_report.files, "no ontology/kb/*.ttl files found"
    assert bundled_report.conforms, (
        f"the bundled knowledge base has {len(bundled_report.errors)} violation(s):\n"
        + describe(bundled_report.errors)
    )


def test_bundled_knowledge_base_is_checked_at_all(bundled_report: ValidationReport) -> None:
    # Guard against a vacuous pass: the data graph holds the KB and the ontology slice.
    assert bundled_report.triples > 2000
    assert len(bundled_report.files) >= 1


# --- the examples ----------------------------------------------------------------------------


def test_there_are_examples() -> None:
    assert len(VALID) >= 5 and len(INVALID) >= 30


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_example_conforms(path: Path) -> None:
    report = validate([path])
    assert report.conforms and not report.violations, describe(report.violations)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example_gives_exactly_its_named_results(path: Path) -> None:
    expected = expected_results(path)
    assert expected, f"{path.name} has no '# expect:' line in its header"
    report = validate([path])
    assert observed_results(report) == expected, describe(report.violations)
    assert len(report.violations) == len(expected), "one result per expected line, no duplicates"
    if any(severity == "Violation" for severity, *_ in expected):
        assert not report.conforms
    else:  # a warning-only example still conforms
        assert report.conforms


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example_is_named_and_documented(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.ttl", path.name)
    assert text.startswith("# INVALID example: ")
    assert "validate()" in text, "the header says how the example is loaded"


# --- the shapes themselves -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes_graph():  # type: ignore[no-untyped-def]
    from rdflib import Graph

    return Graph().parse(SHAPES, format="turtle")


def _named_shapes(graph, kind: str) -> set[str]:  # type: ignore[no-untyped-def]
    from rdflib import RDF, URIRef

    return {str(s) for s in graph.subjects(RDF.type, URIRef(SH + kind)) if isinstance(s, URIRef)}


def test_every_property_shape_is_named_and_has_a_message(shapes_graph) -> None:  # type: ignore[no-untyped-def]
    from rdflib import BNode, URIRef

    sh_property = URIRef(SH + "property")
    for parent, shape in shapes_graph.subject_objects(sh_property):
        if isinstance(parent, BNode) or str(parent).endswith(HELPERS):
            continue  # helper shapes used through sh:node / sh:or: they never report on their own
        assert isinstance(shape, URIRef), f"{parent}: name its property shapes (stable source shapes)"
    for shape in _named_shapes(shapes_graph, "PropertyShape"):
        node = URIRef(shape)
        assert shapes_graph.value(node, URIRef(SH + "message")) is not None, f"{shape} has no sh:message"
        assert shapes_graph.value(node, URIRef(SH + "name")) is not None, f"{shape} has no sh:name"


def test_every_node_level_constraint_has_a_message(shapes_graph) -> None:  # type: ignore[no-untyped-def]
    from rdflib import URIRef

    node_level = ("or", "and", "not", "class", "sparql")
    for shape in _named_shapes(shapes_graph, "NodeShape"):
        node = URIRef(shape)
        if shape.endswith(HELPERS):
            continue  # helper shapes used through sh:node / sh:or
        assert shapes_graph.value(node, URIRef(SH + "name")) is not None, f"{shape} has no sh:name"
        if any(shapes_graph.value(node, URIRef(SH + c)) is not None for c in node_level):
            has_message = shapes_graph.value(node, URIRef(SH + "message")) is not None
            sparql = shapes_graph.value(node, URIRef(SH + "sparql"))
            if sparql is not None:
                has_message = shapes_graph.value(sparql, URIRef(SH + "message")) is not None
            assert has_message, f"{shape} has a node-level constraint but no sh:message"


def test_every_rule_has_an_invalid_example(shapes_graph) -> None:  # type: ignore[no-untyped-def]
    """Each shape that can report (a named property shape, or a node shape with a node-level
    constraint) is shown failing by at least one file in shapes/examples/invalid/."""
    from rdflib import URIRef

    reporting = set(_named_shapes(shapes_graph, "PropertyShape"))
    for shape in _named_shapes(shapes_graph, "NodeShape"):
        node = URIRef(shape)
        if shapes_graph.value(node, URIRef(SH + "message")) is not None or shapes_graph.value(
            node, URIRef(SH + "sparql")
        ) is not None:
            reporting.add(shape)
    shown = {shape for path in INVALID for _, shape, _, _ in expected_results(path)}
    missing = sorted(curie(s) for s in reporting if curie(s) not in shown)
    assert not missing, f"rules without an invalid example: {missing}"


def test_sparql_is_kept_to_the_disjointness_rule(shapes_graph) -> None:  # type: ignore[no-untyped-def]
    from rdflib import URIRef

    with_sparql = {str(s) for s in shapes_graph.subjects(URIRef(SH + "sparql"), None)}
    assert with_sparql == {PREFIXES["esh"] + "DisjointTypesShape"}
    with_sparql_target = {str(s) for s in shapes_graph.subjects(URIRef(SH + "target"), None)}
    assert with_sparql_target == {PREFIXES["esh"] + "DisjointTypesShape"}


def test_percent_order_uses_core_less_than_or_equals(shapes_graph) -> None:  # type: ignore[no-untyped-def]
    from rdflib import URIRef

    order = URIRef(PREFIXES["esh"] + "percent-order")
    assert shapes_graph.value(order, URIRef(SH + "lessThanOrEquals")) == URIRef(PREFIXES["emdkg"] + "maxPercent")
