"""The knowledge graph as a networkx graph, and the traversals people ask for.

The projection (:meth:`Graph.from_store`, one SELECT: :data:`PROJECTION_QUERY`):

* **Nodes are IRIs.** Every IRI that is the subject or object of a triple with an IRI on both
  ends is a node. Node attributes: ``label`` (its English ``rdfs:label``; labels are the only
  literals read), ``kind`` (``disease``, ``site``, ``phase``, ``treatment_phase``,
  ``manifestation``, ``therapy``, ``regimen``, ``publication``, ``finding``, ``claim``, ``class``
  or ``entity``) and ``types`` (its ``rdf:type`` IRIs).
* **Edges follow RDF: subject → object**, in a :class:`networkx.MultiDiGraph` keyed by the
  predicate, so two properties between the same two terms stay two edges. Edge attributes:
  ``predicate`` (the IRI) and ``label`` (the predicate's English label, else its CURIE). A
  finding points at what it is about (``finding -[about disease]-> multiple myeloma``), a class
  at its superclass (``rdfs:subClassOf``) and an individual at its class (``rdf:type``): both
  are kept as edges.
* **Left out:** literals (quotes, numbers, dates; labels only become attributes) and blank
  nodes, and with them the OWL axioms written with blank nodes (restrictions, disjointness
  lists, class expressions).

Traversals take names like the rest of the API (labels, synonyms, CURIEs, IRIs) and return
labelled :class:`Node`, :class:`Edge`, :class:`SiteHit`, :class:`PathStep` and
:class:`Citation` values.

>>> import emdkg
>>> g = emdkg.load().graph()
>>> [hit.site.label for hit in g.sites_by("multiple myeloma", "relapse")]
['breast', 'central nervous system', 'kidney', 'liver', 'lymph node', 'pericardium', 'pleura']
>>> [site.label for site in g.shared_sites("multiple myeloma", "acute lymphoblastic leukemia")]
['central nervous system', 'liver', 'lymph node']
>>> print(describe_path(g.evidence_path("blinatumomab", "Yoon 2020")))  # doctest: +ELLIPSIS
blinatumomab <-[about therapy]- blinatumomab was given as salvage therapy ... -[has source]-> Yoon et al. 2020, ...
>>> len([c for c in g.citation_closure("Yoon 2020") if c.direction == "cites"])
15
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
import networkx as nx

from emdkg.errors import EmdkgError
from emdkg.store import Store
from emdkg.terms import EMDKG, TermIndex, curie, index_for
from emdkg.values import IRI

__all__ = [
    "PROJECTION_QUERY",
    "Graph",
    "Node",
    "Edge",
    "SiteHit",
    "PathStep",
    "Citation",
    "describe_path",
]

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SUBCLASS_OF = RDFS + "subClassOf"
LABEL = RDFS + "label"
OWL = "http://www.w3.org/2002/07/owl#"
CITES = "http://purl.org/spar/cito/cites"

#: The one query the projection is built from: IRI-to-IRI triples, and English labels.
PROJECTION_QUERY = """\
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?s ?p ?o WHERE {
  ?s ?p ?o .
  FILTER(isIRI(?s) && (isIRI(?o) || (?p = rdfs:label && langMatches(lang(?o), "en"))))
}
"""

# Namespaces of modelling vocabulary: their terms (owl:Class, owl:NamedIndividual, ...) are hubs.
_VOCABULARY = (
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    RDFS,
    OWL,
    "http://www.w3.org/2001/XMLSchema#",
)
_PREDICATE_LABELS = {
    RDF_TYPE: "is a",
    SUBCLASS_OF: "subclass of",
    RDFS + "seeAlso": "see also",
    RDFS + "domain": "domain",
    RDFS + "range": "range",
    OWL + "equivalentClass": "equivalent class",
    OWL + "disjointWith": "disjoint with",
    OWL + "versionIRI": "version IRI",
    OWL + "imports": "imports",
}
# Properties whose objects are provenance bookkeeping shared by many statements: evidence codes,
# study designs, grades, source documents, publication types. Their objects are hubs.
_BOOKKEEPING = {
    EMDKG + name
    for name in ("evidenceCode", "studyDesign", "evidenceGrade", "extractedFrom", "publicationType",
                 "valueQualifier", "careSetting", "errorType", "prognosisDirection")
}


@dataclass(frozen=True)
class Node:
    """A term of the graph: IRI, English label (None when it has none) and kind."""

    iri: IRI
    label: str | None
    kind: str

    def __str__(self) -> str:
        return self.label or curie(self.iri)


@dataclass(frozen=True)
class Edge:
    """A triple of the graph, in RDF direction: ``source`` is the subject, ``target`` the object."""

    source: Node
    predicate: IRI
    label: str
    target: Node

    def __str__(self) -> str:
        return f"{self.source} -[{self.label}]-> {self.target}"


@dataclass(frozen=True)
class SiteHit:
    """A site where a disease is found in a phase (None: the findings state no phase)."""

    site: Node
    phase: Node | None
    findings: tuple[Node, ...]


@dataclass(frozen=True)
class PathStep:
    """One step of a path: the edge walked, and whether it was walked in its RDF direction."""

    edge: Edge
    forward: bool

    @property
    def start(self) -> Node:
        return self.edge.source if self.forward else self.edge.target

    @property
    def end(self) -> Node:
        return self.edge.target if self.forward else self.edge.source


@dataclass(frozen=True)
class Citation:
    """A publication in the citation closure: ``cites`` (reached along cito:cites) or
    ``cited by`` (reached against it), ``depth`` links away."""

    publication: Node
    direction: str
    depth: int


def describe_path(steps: Iterable[PathStep]) -> str:
    """A path as one line: ``a -[predicate]-> b <-[predicate]- c`` (arrows in RDF direction)."""
    steps = list(steps)
    if not steps:
        return ""
    parts = [str(steps[0].start)]
    for step in steps:
        arrow = f"-[{step.edge.label}]->" if step.forward else f"<-[{step.edge.label}]-"
        parts += [arrow, str(step.end)]
    return " ".join(parts)


class Graph:
    """The networkx projection of a store (``.nx``) and traversals on it."""

    def __init__(self, graph: nx.MultiDiGraph, index: TermIndex) -> None:
        self.nx = graph
        self.terms = index
        self._hubs: frozenset[str] | None = None
        self._undirected: nx.Graph | None = None

    @classmethod
    def from_store(cls, store: Store, index: TermIndex | None = None) -> Graph:
        """Project ``store`` (see the module documentation); ``index`` resolves names."""
        index = index or index_for(store)
        labels: dict[str, str] = {}
        triples: list[tuple[str, str, str]] = []
        for row in store.select(PROJECTION_QUERY):
            s, p, o = str(row["s"]), str(row["p"]), row["o"]
            if isinstance(o, IRI):
                triples.append((s, p, str(o)))
            elif p == LABEL:
                if s not in labels or str(o) < labels[s]:
                    labels[s] = str(o)
        triples.sort()  # the same graph, built in the same order, whatever the backend
        graph = nx.MultiDiGraph()
        for s, p, o in triples:
            for node in (s, o):
                if node not in graph:
                    graph.add_node(node, label=labels.get(node), types=(), kind="entity")
            graph.add_edge(s, o, key=p, predicate=IRI(p), label=labels.get(p) or _PREDICATE_LABELS.get(p) or curie(p))
        for node, data in graph.nodes(data=True):
            data["types"] = tuple(sorted(o for _, o, k in graph.out_edges(node, keys=True) if k == RDF_TYPE))
        statement_classes = _subclasses(graph, EMDKG + "Statement")
        finding_classes = _subclasses(graph, EMDKG + "Finding")
        for node, data in graph.nodes(data=True):
            kind = index.term(node).kind if index.kinds(node) else "entity"
            if kind == "entity":
                types = set(data["types"])
                if types & finding_classes:
                    kind = "finding"
                elif EMDKG + "FlaggedClaim" in types:
                    kind = "claim"
                elif types & statement_classes:
                    kind = "statement"
                elif OWL + "Class" in types:
                    kind = "class"
            data["kind"] = kind
        return cls(graph, index)

    # -- nodes and names -------------------------------------------------------------------

    def node(self, iri: str) -> Node:
        """The :class:`Node` of an IRI of the graph."""
        data = self.nx.nodes[iri]
        return Node(IRI(iri), data.get("label"), data.get("kind", "entity"))

    def _find(self, text: str, kind: str | None = None) -> str:
        iri = str(self.terms.resolve(text, kind).iri)
        if iri not in self.nx:
            raise EmdkgError(f"{text!r} ({curie(iri)}) has no links in the graph")
        return iri

    def _edge(self, s: str, p: str, o: str) -> Edge:
        return Edge(self.node(s), IRI(p), self.nx.edges[s, o, p]["label"], self.node(o))

    def _objects(self, node: str, predicate: str) -> list[str]:
        return sorted(o for _, o, k in self.nx.out_edges(node, keys=True) if k == predicate)

    def _subjects(self, node: str, predicate: str) -> list[str]:
        return sorted(s for s, _, k in self.nx.in_edges(node, keys=True) if k == predicate)

    def subclasses(self, iri: str) -> set[str]:
        """``iri`` and every class below it (``rdfs:subClassOf*``)."""
        return _subclasses(self.nx, iri)

    # -- traversals ------------------------------------------------------------------------

    def sites_by(self, disease: str, phase: str | None = None) -> list[SiteHit]:
        """Sites of the site-involvement findings about ``disease`` (or a subclass) in ``phase``
        (or a subphase; None: any phase, including findings that state none).

        The same answer as the ``sites`` named query, from the graph's edges (the query also
        requires each finding's source, English quote and grade, which the shapes guarantee).
        """
        diseases = self.subclasses(self._find(disease, "disease"))
        phases = self.subclasses(self._find(phase, "phase") if phase is not None else EMDKG + "DiseasePhase")
        hits: dict[tuple[str, str | None], set[str]] = defaultdict(set)
        for finding in self._subjects(EMDKG + "SiteInvolvementFinding", RDF_TYPE):
            if not set(self._objects(finding, EMDKG + "disease")) & diseases:
                continue
            finding_phases = self._objects(finding, EMDKG + "diseasePhase")
            for finding_phase in finding_phases or [None]:
                if (finding_phase or EMDKG + "DiseasePhase") not in phases:
                    continue
                for site in self._objects(finding, EMDKG + "site"):
                    hits[(site, finding_phase)].add(finding)
        out = [
            SiteHit(self.node(site), None if ph is None else self.node(ph),
                    tuple(self.node(f) for f in sorted(findings)))
            for (site, ph), findings in hits.items()
        ]
        out.sort(key=lambda h: (h.site.label or "", h.phase is not None, h.phase.label if h.phase else "",
                                h.site.iri))
        return out

    def shared_sites(self, disease_a: str, disease_b: str, phase: str | None = None) -> list[Node]:
        """Sites where both diseases (or their subclasses) are found in ``phase``, by label."""
        a = {hit.site for hit in self.sites_by(disease_a, phase)}
        b = {hit.site for hit in self.sites_by(disease_b, phase)}
        return sorted(a & b, key=lambda n: (n.label or "", n.iri))

    def hubs(self) -> frozenset[str]:
        """Nodes a path may not pass through: modelling vocabulary (owl:Class,
        owl:NamedIndividual...), classes of statements (every finding is typed with one),
        controlled values (grades, study designs, error types...), other provenance
        bookkeeping (ECO codes, source documents), and flagged claims, which are never
        evidence."""
        if self._hubs is None:
            hubs = {n for n in self.nx if n.startswith(_VOCABULARY)}
            hubs |= self.subclasses(EMDKG + "Statement")  # the classes, not the findings
            hubs.update(self._subjects(EMDKG + "FlaggedClaim", RDF_TYPE))
            for root in ("ValueSetMember", "SourceDocument"):  # the classes and their members
                classes = self.subclasses(EMDKG + root)
                hubs |= classes
                for cls in classes:
                    hubs.update(self._subjects(cls, RDF_TYPE))
            for s, o, p in self.nx.edges(keys=True):
                if p in _BOOKKEEPING or p == "http://www.w3.org/2002/07/owl#imports":
                    hubs.add(o)
            hubs |= set(self._subjects(OWL + "Ontology", RDF_TYPE))
            self._hubs = frozenset(hubs)
        return self._hubs

    def _undirected_view(self) -> nx.Graph:
        if self._undirected is None:
            hubs = self.hubs()
            view = nx.Graph()
            view.add_nodes_from(sorted(n for n in self.nx if n not in hubs))
            for s, o, p in sorted(self.nx.edges(keys=True)):
                if s in hubs or o in hubs or s == o or view.has_edge(s, o):
                    continue
                view.add_edge(s, o, triple=(s, p, o))
            self._undirected = view
        return self._undirected

    def evidence_path(self, a: str, b: str) -> list[PathStep]:
        """A shortest chain of links from ``a`` to ``b``, in either RDF direction, that avoids
        hub nodes (:meth:`hubs`): e.g. a drug, the finding about it, and the finding's source.

        Raises :class:`~emdkg.errors.EmdkgError` when they are not connected.
        """
        start, end = self._find(a), self._find(b)
        view = self._undirected_view()
        for iri, text in ((start, a), (end, b)):
            if iri not in view:
                raise EmdkgError(f"{text!r} is a modelling or bookkeeping term; paths avoid it")
        try:
            nodes = nx.shortest_path(view, start, end)
        except nx.NetworkXNoPath:
            raise EmdkgError(f"no path between {a!r} and {b!r}") from None
        steps = []
        for here, there in zip(nodes, nodes[1:]):
            s, p, o = view.edges[here, there]["triple"]
            steps.append(PathStep(self._edge(s, p, o), forward=(s == here)))
        return steps

    def neighbours(self, entity: str) -> list[Edge]:
        """Every edge into or out of ``entity``: outgoing first, each group by predicate label
        and then by the other end's label."""
        iri = self._find(entity)
        out = [self._edge(iri, p, o) for _, o, p in self.nx.out_edges(iri, keys=True)]
        into = [self._edge(s, p, iri) for s, _, p in self.nx.in_edges(iri, keys=True)]
        out.sort(key=lambda e: (e.label, str(e.target), e.target.iri))
        into.sort(key=lambda e: (e.label, str(e.source), e.source.iri))
        return out + into

    def citation_closure(self, publication: str) -> list[Citation]:
        """Every publication ``publication`` cites, directly or through others (``cites``), and
        every one that cites it, directly or not (``cited by``), with the number of links."""
        start = self._find(publication, "publication")
        found: list[Citation] = []
        for direction, forward in (("cites", True), ("cited by", False)):
            depth = {start: 0}
            queue = deque([start])
            while queue:
                here = queue.popleft()
                nexts = self._objects(here, CITES) if forward else self._subjects(here, CITES)
                for there in nexts:
                    if there not in depth:
                        depth[there] = depth[here] + 1
                        queue.append(there)
            found += [Citation(self.node(n), direction, d) for n, d in depth.items() if n != start]
        found.sort(key=lambda c: (c.direction, c.depth, c.publication.label or "", c.publication.iri))
        return found


def _subclasses(graph: nx.MultiDiGraph, iri: str) -> set[str]:
    """``iri`` and everything that reaches it along rdfs:subClassOf edges."""
    found = {iri}
    queue = deque([iri])
    while queue:
        here = queue.popleft()
        if here not in graph:
            continue
        for s, _, p in graph.in_edges(here, keys=True):
            if p == SUBCLASS_OF and s not in found:
                found.add(s)
                queue.append(s)
    return found

