"""OWL reasoning (emdkg.reason, ``emdkg reason``): HermiT through owlready2.

The JVM costs about a second a call, so the bundled knowledge graph is classified once per
module (``bundled``) and every test that can reads that result; each deliberately wrong file
gets one run of its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import emdkg
from emdkg.reason import (
    INCONSISTENCY,
    MISUSE,
    UNSATISFIABLE,
    InconsistentKnowledgeGraph,
    ReasonerUnavailable,
    ReasoningResult,
    inferred_triples,
    java_executable,
    materialise_inferences,
    reason,
)
from emdkg.resources import bundled_rdf_files
from emdkg.store import load_files
from emdkg.values import IRI

DATA = Path(__file__).parent / "data" / "reason"
EMDKG = "https://w3id.org/emdkg/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"

needs_java = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="no Java runtime on PATH (install one: apt-get install default-jre-headless)",
)


@pytest.fixture(scope="module")
def bundled() -> ReasoningResult:
    """The bundled ontology + knowledge base, classified once for the whole module."""
    if shutil.which("java") is None:
        pytest.skip("no Java runtime on PATH (install one: apt-get install default-jre-headless)")
    files = bundled_rdf_files()
    return reason(load_files(files), files=files)


def _e(name: str) -> str:
    return EMDKG + name


# --- the bundled knowledge graph ------------------------------------------------------------


def test_bundled_graph_is_consistent_without_unsatisfiable_classes(bundled: ReasoningResult) -> None:
    assert bundled.consistent
    assert bundled.unsatisfiable == []
    assert bundled.problems == [], [p.explanation for p in bundled.problems]
    assert bundled.ok


def test_known_entailments_hold(bundled: ReasoningResult) -> None:
    # asserted through plasma cell leukemia, entailed transitively
    assert bundled.is_subclass(_e("PrimaryPlasmaCellLeukemia"), _e("PlasmaCellNeoplasm"))
    assert bundled.is_subclass(_e("PrimaryPlasmaCellLeukemia"), _e("Disease"))
    # inferred from the defined class: a site disjoint from the bone marrow and bone is extramedullary
    assert bundled.is_subclass(_e("Liver"), _e("ExtramedullarySite"))
    assert bundled.is_subclass(_e("Testis"), _e("ExtramedullarySite"))
    # ... and an extramedullary site is not a disease, nor is the bone marrow extramedullary
    assert not bundled.is_subclass(_e("Liver"), _e("Disease"))
    assert not bundled.is_subclass(_e("ExtramedullarySite"), _e("Disease"))
    assert not bundled.is_subclass(_e("BoneMarrow"), _e("ExtramedullarySite"))
    # a lesion in bone itself is skeletal disease, and paraskeletal tissue is outside the bone
    assert not bundled.is_subclass(_e("Bone"), _e("ExtramedullarySite"))
    assert bundled.is_subclass(_e("ParaskeletalRegion"), _e("ExtramedullarySite"))


def test_inferred_hierarchy_lists_only_new_axioms(bundled: ReasoningResult) -> None:
    edges = {(a.iri, b.iri) for a, b in bundled.inferred_subclasses}
    assert (_e("Liver"), _e("ExtramedullarySite")) in edges  # new
    assert (_e("ExtramedullarySite"), _e("AnatomicalSite")) in edges  # from the definition
    assert (_e("Liver"), _e("AnatomicalSite")) not in edges  # asserted
    assert (_e("PrimaryPlasmaCellLeukemia"), _e("PlasmaCellLeukemia")) not in edges  # asserted
    labels = {(a.label, b.label) for a, b in bundled.inferred_subclasses}
    assert ("liver", "extramedullary site") in labels


def test_punned_classes_keep_class_and_individual_answers_apart(bundled: ReasoningResult) -> None:
    # owlready2's own result handling would write `emdkg:Kidney rdf:type ExtramedullarySite`.
    typed = {(a.iri, b.iri) for a, b in bundled.inferred_types + bundled.punned_types}
    assert (_e("Kidney"), _e("ExtramedullarySite")) not in typed
    # the individual emdkg:Kidney (a finding's site) is an anatomical site, by the range
    assert (_e("Kidney"), _e("AnatomicalSite")) in {(a.iri, b.iri) for a, b in bundled.punned_types}


def test_result_as_json(bundled: ReasoningResult) -> None:
    data = json.loads(json.dumps(bundled.to_dict()))
    assert data["consistent"] is True and data["ok"] is True
    assert data["unsatisfiable_classes"] == []
    assert {"subclass": {"iri": _e("Liver"), "label": "liver", "curie": "emdkg:Liver"},
            "superclass": {"iri": _e("ExtramedullarySite"), "label": "extramedullary site",
                           "curie": "emdkg:ExtramedullarySite"}} in data["inferred_subclasses"]
    assert data["timings"]["hermit"] > 0


def test_reasoning_time_is_reasonable(bundled: ReasoningResult) -> None:
    # The target is well under 5 s on 2 cores (measured ~1.5-3.5 s with the JVM start, the
    # spread being other load); this generous bound catches a regression, not the target.
    assert bundled.timings["total"] < 20


# --- materialised inferences (for `emdkg export --inferred`) --------------------------------


def test_inferred_triples_are_new_sorted_iris(bundled: ReasoningResult) -> None:
    triples = inferred_triples(bundled)
    assert triples == sorted(set(triples))
    assert (IRI(_e("Liver")), IRI(SUBCLASS), IRI(_e("ExtramedullarySite"))) in triples
    assert all(isinstance(term, IRI) for triple in triples for term in triple)
    assert (IRI(_e("Liver")), IRI(SUBCLASS), IRI(_e("AnatomicalSite"))) not in triples  # asserted
    # types of classes used as values are left out unless asked for
    assert not any(p == RDF_TYPE and s == _e("Liver") for s, p, _ in triples)
    punned = inferred_triples(bundled, include_punned=True)
    assert (IRI(_e("Liver")), IRI(RDF_TYPE), IRI(_e("AnatomicalSite"))) in punned


def test_materialise_inferences_uses_the_reasoner(bundled: ReasoningResult, monkeypatch) -> None:
    import emdkg.reason as module

    monkeypatch.setattr(module, "reason", lambda store, **kwargs: bundled)
    assert materialise_inferences(emdkg.load(include_bundled=False)) == inferred_triples(bundled)


def test_materialise_refuses_an_inconsistent_graph() -> None:
    result = ReasoningResult(consistent=False)
    with pytest.raises(InconsistentKnowledgeGraph) as caught:
        inferred_triples(result)
    assert caught.value.exit_code == 1


# --- deliberately wrong assertions ----------------------------------------------------------


@needs_java
def test_bevacizumab_as_bispecific_t_cell_engager_is_rejected(cli) -> None:
    result = cli("reason", "--data", str(DATA / "bevacizumab-bite.ttl"))
    assert result.exit_code == 1, result.stderr
    assert "consistency: INCONSISTENT" in result.stdout
    explanation = next(line for line in result.stdout.splitlines() if "bevacizumab" in line)
    assert "bevacizumab (emdkg:bevacizumab) is typed both anti-VEGF monoclonal antibody and " \
           "bispecific T-cell engager, which are disjoint" in explanation
    assert "bevacizumab-bite.ttl" in explanation  # says where the wrong assertion is


@needs_java
def test_site_used_as_disease_makes_the_site_unsatisfiable(cli) -> None:
    result = cli("reason", "--data", str(DATA / "site-as-disease.ttl"), "--format", "json")
    assert result.exit_code == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["consistent"] is True
    assert [c["label"] for c in data["unsatisfiable_classes"]] == ["liver"]
    (problem,) = data["problems"]
    assert problem["kind"] == UNSATISFIABLE
    assert problem["entities"][0]["curie"] == "emdkg:Liver"
    text = problem["explanation"]
    assert text.startswith("liver (emdkg:Liver) is unsatisfiable")
    assert "anatomical site" in text and "disease" in text and "disjoint" in text
    assert "site-as-disease.ttl" in text


@needs_java
def test_site_given_as_the_disease_of_a_finding_is_reported() -> None:
    # Punning makes this consistent for HermiT; emdkg reason reports it anyway.
    files = [*bundled_rdf_files(), DATA / "site-as-disease-value.ttl"]
    result = reason(load_files(files), files=files)
    assert result.consistent and not result.unsatisfiable
    assert not result.ok
    (problem,) = result.problems
    assert problem.kind == MISUSE
    assert {t.curie for t in problem.entities} == {"emdkg:Spleen", "kb:test-spleen-as-disease"}
    assert problem.explanation.startswith("spleen (emdkg:Spleen) is used as a disease")
    assert "anatomical site" in problem.explanation


@needs_java
def test_site_used_both_as_disease_and_as_site_is_inconsistent() -> None:
    files = [*bundled_rdf_files(), DATA / "site-as-disease-and-site.ttl"]
    result = reason(load_files(files), files=files)
    assert not result.consistent
    (problem,) = result.problems
    assert problem.kind == INCONSISTENCY
    curies = {t.curie for t in problem.entities}
    assert {"emdkg:Liver", "kb:test-liver-as-disease"} <= curies
    assert "disease and anatomical site are disjoint" in problem.explanation


@needs_java
def test_literal_outside_its_datatype_range_is_explained() -> None:
    files = [*bundled_rdf_files(), DATA / "population-language-tagged.ttl"]
    result = reason(load_files(files), files=files)
    assert not result.consistent
    (problem,) = result.problems
    assert [t.curie for t in problem.entities] == ["kb:programme-01"]
    assert '"adults"@en, which is a language-tagged string, but the range of population is ' \
           "xsd:string" in problem.explanation
    assert "population-language-tagged.ttl" in problem.explanation


@needs_java
def test_inconsistency_without_a_direct_explanation_is_narrowed_down_by_hermit() -> None:
    path = DATA / "cardinality-conflict.ttl"
    result = reason(load_files([path]), files=[path])
    assert not result.consistent
    (problem,) = result.problems
    assert {t.curie for t in problem.entities} == {"kb:test-drug", "kb:test-target-a"}
    assert "a minimal set of 2 individual(s)" in problem.explanation
    assert "noise" not in problem.explanation


# --- when the reasoner cannot run -----------------------------------------------------------


def test_missing_java_exits_2_with_one_line(cli, tmp_path) -> None:
    result = cli("reason", env={"PATH": str(tmp_path), "JAVA_HOME": None})
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr_lines) == 1
    assert "apt-get install default-jre-headless" in result.stderr
    assert result.stderr.startswith("emdkg: error:")


def test_missing_java_in_the_api(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ReasonerUnavailable) as caught:
        java_executable()
    assert caught.value.exit_code == 2
    with pytest.raises(ReasonerUnavailable):
        materialise_inferences(emdkg.load(include_bundled=False))


def test_java_home_is_honoured(monkeypatch, tmp_path) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert java_executable() == str(java)
