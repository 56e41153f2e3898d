"""The networkx projection and the traversals on it, over the real knowledge base."""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import pytest

import emdkg
from emdkg.api import KnowledgeGraph
from emdkg.errors import EmdkgError, UnknownTermError
from emdkg.graph import Citation, Edge, Graph, Node, PathStep, SiteHit, describe_path

E = "https://w3id.org/emdkg/"
KB = E + "kb/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    return emdkg.load()


@pytest.fixture(scope="module")
def graph(kg: KnowledgeGraph) -> Graph:
    return kg.graph()


# --- the projection ------------------------------------------------------------------------------


def test_projection_rules(graph: Graph) -> None:
    g = graph.nx
    assert isinstance(g, nx.MultiDiGraph)
    assert all(isinstance(n, str) and "://" in n or n.startswith("urn:") for n in g), "only IRIs are nodes"
    # RDF direction, predicate as key and attribute, labelled
    data = g.edges[KB + "blade-2022-site-relapse-liver", E + "MultipleMyeloma", E + "disease"]
    assert data["predicate"] == E + "disease" and data["label"] == "about disease"
    assert not g.has_edge(E + "MultipleMyeloma", KB + "blade-2022-site-relapse-liver")
    # rdf:type and rdfs:subClassOf are edges
    assert g.has_edge(E + "bortezomib", E + "ProteasomeInhibitor", RDF_TYPE)
    assert g.has_edge(E + "MultipleMyeloma", E + "PlasmaCellNeoplasm", SUBCLASS_OF)
    assert g.edges[E + "MultipleMyeloma", E + "PlasmaCellNeoplasm", SUBCLASS_OF]["label"] == "subclass of"
    # two predicates between the same two terms stay two edges (a MultiDiGraph)
    claim = KB + "claim-all-overview-web-bevacizumab-bite"
    assert g.number_of_edges(claim, KB + "kantarjian-2017-blinatumomab-bite") == 1
    # labels are attributes, literals are not nodes, English only
    assert g.nodes[E + "MultipleMyeloma"]["label"] == "multiple myeloma"
    assert g.nodes[E + "MultipleMyeloma"]["kind"] == "disease"
    assert g.nodes[KB + "blade-2022-site-relapse-liver"]["kind"] == "finding"
    assert g.nodes[claim]["kind"] == "claim"
    assert "multiple myeloma" not in g and "多发性骨髓瘤" not in g


def test_blank_node_axioms_are_left_out(kg: KnowledgeGraph, graph: Graph) -> None:
    blank = kg.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }")[0]["n"]
    assert blank > 0, "the ontology has OWL axioms written with blank nodes"
    iri_triples = kg.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(isIRI(?s) && isIRI(?o)) }")[0]["n"]
    assert graph.nx.number_of_edges() == iri_triples


def test_same_graph_on_both_backends(graph: Graph) -> None:
    other = emdkg.load(backend="rdflib").graph()
    assert sorted(graph.nx.edges(keys=True)) == sorted(other.nx.edges(keys=True))
    assert dict(graph.nx.nodes(data="label")) == dict(other.nx.nodes(data="label"))


def test_import_emdkg_does_not_import_networkx_or_rdflib() -> None:
    code = ("import sys, emdkg; kg = emdkg.load(); kg.sites('MM', 'relapse'); "
            "print(sorted(m for m in ('networkx', 'rdflib', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- traversals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "disease,phase",
    [
        ("multiple myeloma", "relapse"),
        ("multiple myeloma", "at diagnosis"),
        ("multiple myeloma", None),
        ("plasma cell neoplasm", None),
        ("acute lymphoblastic leukemia", None),
        ("acute lymphoblastic leukemia", "relapse"),
        ("acute lymphoblastic leukemia", "extramedullary relapse"),
        ("hematologic malignancy", "relapse"),
        ("disease", None),
        ("plasma cell leukemia", None),
    ],
)
def test_sites_by_agrees_with_the_sites_query(kg: KnowledgeGraph, graph: Graph, disease: str, phase: str | None) -> None:
    from_query = [(r.iri, r.phase_iri) for r in kg.sites(disease, phase)]
    hits = graph.sites_by(disease, phase)
    assert all(isinstance(h, SiteHit) and isinstance(h.site, Node) for h in hits)
    from_graph = [(h.site.iri, None if h.phase is None else h.phase.iri) for h in hits]
    assert sorted(from_graph, key=str) == sorted(from_query, key=str)
    assert [h.site.label for h in hits] == [r.site for r in kg.sites(disease, phase)], "same order"


def test_sites_by_names_its_findings(graph: Graph) -> None:
    liver = next(h for h in graph.sites_by("MM", "relapse") if h.site.label == "liver")
    assert [f.iri for f in liver.findings] == [KB + "blade-2022-site-relapse-liver"]
    assert liver.phase is not None and liver.phase.label == "relapse"
    with pytest.raises(UnknownTermError, match="unknown disease"):
        graph.sites_by("liver")


def test_shared_sites(graph: Graph) -> None:
    shared = graph.shared_sites("multiple myeloma", "acute lymphoblastic leukemia")
    assert [n.label for n in shared] == ["central nervous system", "liver", "lymph node"]
    assert [n.label for n in graph.shared_sites("MM", "ALL", "relapse")] == ["central nervous system"]
    assert graph.shared_sites("MM", "ALL", "at diagnosis") == []


def test_evidence_path(graph: Graph) -> None:
    steps = graph.evidence_path("blinatumomab", "Yoon 2020")
    assert all(isinstance(s, PathStep) and isinstance(s.edge, Edge) for s in steps)
    nodes = [steps[0].start] + [s.end for s in steps]
    assert [n.iri for n in nodes] == [
        E + "blinatumomab", KB + "yoon-2020-blinatumomab-salvage-iemr", KB + "yoon-2020",
    ]
    assert [s.edge.label for s in steps] == ["about therapy", "has source"]
    assert [s.forward for s in steps] == [False, True], "the finding points at the drug and the source"
    line = describe_path(steps)
    assert line.startswith("blinatumomab <-[about therapy]- blinatumomab was given as salvage therapy")
    # the phase of that finding leads to ALL and its publication, as the issue describes
    phase = graph.evidence_path("isolated extramedullary relapse after allogeneic transplantation", "Yoon 2020")
    assert [s.end.iri for s in phase] == [KB + "yoon-2020-blinatumomab-salvage-iemr", KB + "yoon-2020"]
    to_all = graph.evidence_path("blinatumomab", "acute lymphoblastic leukemia")
    assert len(to_all) == 2 and to_all[0].end.kind == "finding" and to_all[-1].end.iri == E + "AcuteLymphoblasticLeukemia"


def test_paths_avoid_hubs_and_flagged_claims(graph: Graph) -> None:
    hubs = graph.hubs()
    assert {"http://www.w3.org/2002/07/owl#Class", "http://www.w3.org/2002/07/owl#NamedIndividual",
            E + "HighGrade", "http://purl.obolibrary.org/obo/ECO_0000304", KB + "doc-001",
            E + "SiteInvolvementFinding", KB + "claim-all-overview-web-vdcp-erythromycin"} <= hubs
    for a, b in [("erythromycin", "VDCP"), ("bevacizumab", "ALL"), ("MM", "ALL"), ("skin", "Yoon 2020")]:
        steps = graph.evidence_path(a, b)
        for step in steps:
            assert step.start.iri not in hubs and step.end.iri not in hubs
        for here, there in zip(steps, steps[1:]):
            assert here.end == there.start
    with pytest.raises(EmdkgError, match="paths avoid it"):
        graph.evidence_path("high-grade evidence", "MM")


def test_neighbours(graph: Graph) -> None:
    edges = graph.neighbours("VDCP")
    components = [e.target.label for e in edges if e.label == "has component"]
    assert components == ["cyclophosphamide", "daunorubicin", "prednisone", "vincristine"]
    assert "erythromycin" not in {str(e.target) for e in edges} | {str(e.source) for e in edges}
    incoming = [e for e in edges if e.target.iri == E + "VDCP"]
    assert incoming and all(e.source.kind == "finding" for e in incoming if e.label == "about therapy")


def test_citation_closure(graph: Graph) -> None:
    closure = graph.citation_closure("Yoon 2020")
    assert all(isinstance(c, Citation) for c in closure)
    cites = [c for c in closure if c.direction == "cites"]
    assert len(cites) == 15 and {c.depth for c in cites} == {1}
    assert KB + "kantarjian-2017" in {c.publication.iri for c in cites}
    back = graph.citation_closure("doi:10.1056/NEJMoa1609783")
    assert [(c.publication.iri, c.direction, c.depth) for c in back] == [(KB + "yoon-2020", "cited by", 1)]


def test_citation_closure_is_transitive() -> None:
    ttl = b"""@prefix cito: <http://purl.org/spar/cito/> . @prefix kb: <https://w3id.org/emdkg/kb/> .
    @prefix emdkg: <https://w3id.org/emdkg/> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    kb:a a emdkg:JournalArticle ; rdfs:label "A"@en ; cito:cites kb:b .
    kb:b a emdkg:JournalArticle ; rdfs:label "B"@en ; cito:cites kb:c .
    kb:c a emdkg:JournalArticle ; rdfs:label "C"@en ; cito:cites kb:a .
    kb:d a emdkg:JournalArticle ; rdfs:label "D"@en ; cito:cites kb:b ."""
    kg = emdkg.load()
    kg.load_bytes(ttl, "turtle")
    found = {(c.publication.label, c.direction, c.depth) for c in kg.graph().citation_closure("B")}
    assert found == {("C", "cites", 1), ("A", "cites", 2), ("A", "cited by", 1), ("D", "cited by", 1),
                     ("C", "cited by", 2)}
