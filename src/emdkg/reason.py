"""OWL reasoning over the knowledge graph: HermiT, run through owlready2, with readable answers.

:func:`reason` classifies the ontology together with the knowledge base and reports

* whether it is **consistent** (and, when it is not, which individuals and assertions are to
  blame, in plain words: "bevacizumab (emdkg:bevacizumab) is typed both anti-VEGF monoclonal
  antibody and bispecific T-cell engager, which are disjoint.");
* the **unsatisfiable classes**, each with the disjoint superclasses that make it so;
* the **inferred class hierarchy**: direct subclass axioms HermiT found that nobody asserted
  (every site other than the bone marrow falls under the defined class
  ``emdkg:ExtramedullarySite``);
* the **newly inferred types** of individuals (from domains, ranges and the hierarchy);
* **classes used as values of a disjoint kind** (OWL 2 punning misuse, see below).

:func:`materialise_inferences` returns the inferred subclass and type triples that are not
asserted, for ``emdkg export --inferred``.

How it runs
-----------
1. The store is serialized as N-Triples (pyoxigraph) and parsed once into a small in-memory
   index (labels, hierarchy, disjointness, domains, ranges), which is what the explanations use.
2. Annotation assertions (labels, definitions, quotes, cross-references...) are dropped from the
   reasoner's copy: they carry no logical meaning and are a third of the triples.
3. The rest is loaded into a fresh, isolated ``owlready2.World`` (never the default world) and
   saved as the N-Triples file that HermiT reads, exactly as ``owlready2.sync_reasoner`` does.
4. HermiT (the jar bundled with owlready2, found through ``owlready2.JAVA_EXE``) classifies the
   classes and realises the individuals (``-c -I``) in one JVM, over the whole ABox: with the
   bundled knowledge graph that takes 1.5-3.5 s including the JVM start on 2 cores, so nothing
   is left out. (Most of HermiT's time goes to the two ``owl:hasValue`` restrictions of the drug
   classes: nominals make classification consider the ABox; without them it is ~3x faster.)

HermiT, not Pellet: the Pellet bundled with owlready2 0.50/0.51 does not run on Java 17.

Why the HermiT call is ours and not ``owlready2.sync_reasoner``
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
Diseases, sites and phases are classes that findings also use as values (OWL 2 punning:
``kb:f emdkg:site emdkg:Liver``). HermiT handles punning correctly, but owlready2 0.51 applies
HermiT's answer keyed by IRI only, so for a punned IRI the class answer
(``SubClassOf(Liver ExtramedullarySite)``) and the individual answer (``Type(Liver
AnatomicalSite)``) collapse into one kind: it writes ``emdkg:Kidney rdf:type
emdkg:ExtramedullarySite``, which is wrong. We therefore run the same HermiT command line
(``org.semanticweb.HermiT.cli.CommandLine``) and read its ``SubClassOf``/``Type``/
``EquivalentClasses`` lines ourselves, keeping class and individual answers apart. Doing so also
lets us drop ``-O -D`` (property classification: the ontology has no property hierarchy) and
start the JVM with the client compiler and the serial collector, which halves the wall-clock
time of this short-lived JVM on a 2-core machine. ``infer_property_values`` (``-Y``) is not
used: without property hierarchies, inverses or chains, the only value-producing axioms are the
two ``owl:hasValue`` restrictions, whose values are asserted already.

Punning misuse
~~~~~~~~~~~~~~
Under punning the individual ``emdkg:Liver`` and the class ``emdkg:Liver`` are unrelated, so a
finding that says ``emdkg:disease emdkg:Liver`` is *consistent* for HermiT (the individual Liver
simply becomes a disease). We check it ourselves: when the types a punned IRI gets as a value
(from property ranges) are disjoint from the class's own superclasses, it is reported as a
problem, like an unsatisfiable class. (If other findings also use ``emdkg:Liver`` as a site, the
individual is both a disease and a site, and HermiT itself finds the graph inconsistent.)

When the knowledge graph is inconsistent, owlready2 gives no explanation (HermiT's explanation
API is not reachable through it). We first check, without the JVM, the disjoint pairs directly:
asserted types, types implied by ``rdfs:domain``/``rdfs:range``, and literals against their data
property ranges. If that finds nothing, a bounded search asks HermiT (one JVM per round, many
candidate subsets per JVM) for a small set of individuals whose assertions, with the ontology's
axioms, are already contradictory.

>>> java_install_hint()
'apt-get install default-jre-headless'
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from emdkg.errors import EmdkgError
from emdkg.values import IRI, XSD, literal_value

__all__ = [
    "ReasonerUnavailable",
    "ReasonerFailed",
    "InconsistentKnowledgeGraph",
    "Term",
    "Problem",
    "ReasoningResult",
    "reason",
    "materialise_inferences",
    "inferred_triples",
    "curie",
    "java_executable",
    "java_install_hint",
]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE = RDF + "type"
RDFS_SUBCLASSOF = RDFS + "subClassOf"
RDFS_LABEL = RDFS + "label"
OWL_EQUIVALENTCLASS = OWL + "equivalentClass"
OWL_THING = OWL + "Thing"
OWL_NOTHING = OWL + "Nothing"

_BUILTIN_NAMESPACES = (RDF, RDFS, OWL, XSD)

#: Annotation properties OWL knows without a declaration.
_BUILTIN_ANNOTATION_PROPERTIES = frozenset(
    RDFS + name for name in ("label", "comment", "seeAlso", "isDefinedBy")
) | frozenset(
    OWL + name
    for name in ("deprecated", "versionInfo", "priorVersion", "backwardCompatibleWith", "incompatibleWith")
)

#: Prefixes used to print IRIs compactly (longest namespace first wins).
PREFIXES: dict[str, str] = {
    "kb": "https://w3id.org/emdkg/kb/",
    "emdkg": "https://w3id.org/emdkg/",
    "obo": "http://purl.obolibrary.org/obo/",
    "mesh": "http://id.nlm.nih.gov/mesh/",
    "oboInOwl": "http://www.geneontology.org/formats/oboInOwl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "cito": "http://purl.org/spar/cito/",
    "bibo": "http://purl.org/ontology/bibo/",
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
}
_PREFIX_ORDER = sorted(PREFIXES.items(), key=lambda item: -len(item[1]))

#: The JVM options for HermiT's short run: the client compiler and the serial collector start
#: faster and need less CPU than the server defaults (measured ~2x faster on 2 cores).
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")

#: How long one HermiT run may take before we give up (seconds).
HERMIT_TIMEOUT = 600

#: Bounds of the culprit search for an inconsistency no direct check explains.
SEARCH_MAX_ROUNDS = 24
SEARCH_MAX_SECONDS = 60.0
SEARCH_MAX_CHUNKS = 6

#: Problem kinds.
INCONSISTENCY = "inconsistency"
UNSATISFIABLE = "unsatisfiable class"
MISUSE = "class used as a value of a disjoint kind"

_HERMIT_LINE = re.compile(r"^(SubClassOf|Type|EquivalentClasses)\( ((?:<[^>]+>\s*)+)\)$", re.MULTILINE)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def java_install_hint() -> str:
    """How to get a Java runtime, as one short command (Debian/Ubuntu)."""
    return "apt-get install default-jre-headless"


class ReasonerUnavailable(EmdkgError):
    """The reasoner cannot run here (no Java); exit code 2."""

    exit_code = 2


class ReasonerFailed(EmdkgError):
    """HermiT ran but failed for a reason other than an inconsistency; exit code 2."""

    exit_code = 2


class InconsistentKnowledgeGraph(EmdkgError):
    """The knowledge graph is inconsistent or has unsatisfiable classes; exit code 1.

    ``result`` is the :class:`ReasoningResult` with the explanations.
    """

    exit_code = 1

    def __init__(self, message: str, result: ReasoningResult) -> None:
        self.result = result
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Java and HermiT
# --------------------------------------------------------------------------------------------


def java_executable() -> str:
    """The ``java`` to run HermiT with, or :class:`ReasonerUnavailable` (one line, exit 2).

    Looked up in this order: ``owlready2.JAVA_EXE`` when it was set to something other than
    plain ``"java"``, ``$JAVA_HOME/bin/java``, then ``java`` on ``PATH``.
    """
    import owlready2

    configured = getattr(owlready2, "JAVA_EXE", "java") or "java"
    if configured != "java":
        found = shutil.which(configured)
        if found:
            return found
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home, "bin", "java")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found:
        return found
    raise ReasonerUnavailable(
        "the OWL reasoner (HermiT) needs Java, and no 'java' is on PATH: install a Java runtime "
        f"(e.g. `{java_install_hint()}`) or set JAVA_HOME"
    )


def _hermit_classpath() -> str:
    from owlready2 import reasoning

    return reasoning._HERMIT_CLASSPATH


def _hermit_command(java: str, actions: Sequence[str], files: Sequence[Path]) -> list[str]:
    from owlready2 import reasoning

    return [
        java,
        f"-Xmx{reasoning.JAVA_MEMORY}M",
        *JVM_OPTIONS,
        "-cp",
        _hermit_classpath(),
        "org.semanticweb.HermiT.cli.CommandLine",
        *actions,
        "--ignoreUnsupportedDatatypes",
        *(path.resolve().as_uri() for path in files),
    ]


@dataclass
class _HermitRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def inconsistent(self) -> bool:
        return self.returncode != 0 and "InconsistentOntologyException" in self.stderr


def _run_hermit(java: str, actions: Sequence[str], files: Sequence[Path]) -> _HermitRun:
    command = _hermit_command(java, actions, files)
    start = time.perf_counter()
    try:
        completed = subprocess.run(
            command, capture_output=True, timeout=HERMIT_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise ReasonerUnavailable(
            f"cannot start {java!r}: install a Java runtime (e.g. `{java_install_hint()}`)"
        ) from None
    except subprocess.TimeoutExpired:
        raise ReasonerFailed(f"HermiT did not finish within {HERMIT_TIMEOUT} s") from None
    run = _HermitRun(
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
        time.perf_counter() - start,
    )
    if run.returncode != 0 and not run.inconsistent:
        raise ReasonerFailed(f"HermiT failed: {_java_error_summary(run.stderr or run.stdout)}")
    return run


def _java_error_summary(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "Exception" in line or "Error" in line:
            return line[:300]
    return (lines[0][:300] if lines else "no output")


# --------------------------------------------------------------------------------------------
# The graph index the explanations use
# --------------------------------------------------------------------------------------------


def curie(iri: str) -> str:
    """A compact name for an IRI.

    >>> curie("https://w3id.org/emdkg/kb/blade-2022"), curie("https://w3id.org/emdkg/Liver")
    ('kb:blade-2022', 'emdkg:Liver')
    >>> curie("https://example.org/x")
    '<https://example.org/x>'
    """
    for prefix, namespace in _PREFIX_ORDER:
        if iri.startswith(namespace) and "/" not in iri[len(namespace):] and "#" not in iri[len(namespace):]:
            return f"{prefix}:{iri[len(namespace):]}"
    return f"<{iri}>"


def _is_builtin(iri: str) -> bool:
    return iri.startswith(_BUILTIN_NAMESPACES)


class _Index:
    """What the explanations need from the graph, in plain Python sets and dicts."""

    def __init__(self, quads: Iterable[Any]) -> None:
        self.triples: list[ox.Triple] = []
        labels: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.classes: set[str] = set()
        self.object_properties: set[str] = set()
        self.datatype_properties: set[str] = set()
        self.annotation_properties: set[str] = set(_BUILTIN_ANNOTATION_PROPERTIES)
        self.types: dict[str, set[str]] = defaultdict(set)  # asserted, named, non-builtin
        self.parents: dict[str, set[str]] = defaultdict(set)  # asserted named subClassOf
        self.equivalents: dict[str, set[str]] = defaultdict(set)  # asserted named equivalences
        self.disjoint: set[frozenset[str]] = set()
        self.domains: dict[str, set[str]] = defaultdict(set)
        self.ranges: dict[str, set[str]] = defaultdict(set)
        self.individuals: set[str] = set()
        self.subjects_in_ontology: set[str] = set()
        lists: dict[str, tuple[str | None, str | None]] = {}  # list node -> (first, rest)
        members_of: dict[str, str] = {}  # owl:members subject -> list head
        all_disjoint_nodes: list[str] = []
        seen: set[ox.Triple] = set()
        for quad in quads:
            triple = quad.triple if isinstance(quad, ox.Quad) else quad
            if triple in seen:
                continue
            seen.add(triple)
            self.triples.append(triple)
            s, p, o = triple.subject, triple.predicate.value, triple.object
            s_iri = s.value if isinstance(s, ox.NamedNode) else None
            o_iri = o.value if isinstance(o, ox.NamedNode) else None
            if isinstance(s, ox.BlankNode) and p in (RDF + "first", RDF + "rest"):
                first, rest = lists.get(_node_id(s), (None, None))
                if p == RDF + "first":
                    lists[_node_id(s)] = (_node_id(o), rest)
                else:
                    lists[_node_id(s)] = (first, _node_id(o))
            if p == RDFS_LABEL and isinstance(o, ox.Literal) and s_iri:
                lang = (o.language or "").lower()
                rank = 0 if lang == "en" or lang.startswith("en-") else (1 if not lang else 2)
                labels[s_iri].append((rank, o.value))
            elif p == RDF_TYPE and o_iri:
                if o_iri == OWL + "Class" and s_iri:
                    self.classes.add(s_iri)
                elif o_iri == OWL + "ObjectProperty" and s_iri:
                    self.object_properties.add(s_iri)
                elif o_iri == OWL + "DatatypeProperty" and s_iri:
                    self.datatype_properties.add(s_iri)
                elif o_iri == OWL + "AnnotationProperty" and s_iri:
                    self.annotation_properties.add(s_iri)
                elif o_iri == OWL + "AllDisjointClasses" and isinstance(s, ox.BlankNode):
                    all_disjoint_nodes.append(s.value)
                elif o_iri == OWL + "NamedIndividual" and s_iri:
                    self.individuals.add(s_iri)
                elif o_iri == OWL + "Ontology" and s_iri:
                    self.subjects_in_ontology.add(s_iri)
                elif s_iri and not _is_builtin(o_iri):
                    self.types[s_iri].add(o_iri)
                    self.individuals.add(s_iri)
            elif p == RDFS_SUBCLASSOF and s_iri:
                self.classes.add(s_iri)
                if o_iri:
                    self.classes.add(o_iri)
                    self.parents[s_iri].add(o_iri)
            elif p == OWL_EQUIVALENTCLASS and s_iri and o_iri:
                self.classes.update((s_iri, o_iri))
                self.equivalents[s_iri].add(o_iri)
                self.equivalents[o_iri].add(s_iri)
            elif p == OWL + "disjointWith" and s_iri and o_iri:
                self.classes.update((s_iri, o_iri))
                self.disjoint.add(frozenset((s_iri, o_iri)))
            elif p == OWL + "members":
                members_of[_node_id(s)] = _node_id(o)
            elif p == RDFS + "domain" and s_iri and o_iri:
                self.domains[s_iri].add(o_iri)
            elif p == RDFS + "range" and s_iri and o_iri:
                self.ranges[s_iri].add(o_iri)
        for node in all_disjoint_nodes:
            members = [m for m in _walk_list(lists, members_of.get("_:" + node)) if not m.startswith("_:")]
            self.classes.update(members)
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    self.disjoint.add(frozenset((a, b)))
        self.labels = {iri: sorted(values)[0][1] for iri, values in labels.items()}
        self.classes -= {OWL_THING, OWL_NOTHING}
        # Object property assertions make their values individuals too (punning included).
        self.object_assertions: list[tuple[str, str, str]] = []
        self.data_assertions: list[tuple[str, str, ox.Literal]] = []
        for triple in self.triples:
            p = triple.predicate.value
            s, o = triple.subject, triple.object
            if not isinstance(s, ox.NamedNode):
                continue
            if p in self.object_properties and isinstance(o, ox.NamedNode):
                self.object_assertions.append((s.value, p, o.value))
                self.individuals.update((s.value, o.value))
            elif p in self.datatype_properties and isinstance(o, ox.Literal):
                self.data_assertions.append((s.value, p, o))
                self.individuals.add(s.value)
        self.punned = self.individuals & self.classes

    # -- names -----------------------------------------------------------------------------

    def label(self, iri: str) -> str:
        """The English label, else the compact IRI."""
        if iri == OWL_THING:
            return "Thing"
        if iri == OWL_NOTHING:
            return "Nothing"
        return self.labels.get(iri) or curie(iri)

    def term(self, iri: str) -> Term:
        return Term(IRI(iri), self.label(iri), curie(iri))

    def name(self, iri: str) -> str:
        """``label (curie)``, or just the curie when there is no label."""
        label = self.labels.get(iri)
        return f"{label} ({curie(iri)})" if label else curie(iri)

    # -- hierarchy -------------------------------------------------------------------------

    def ancestor_paths(
        self, start: str, extra_parents: Mapping[str, set[str]] | None = None
    ) -> dict[str, list[str]]:
        """Every named superclass of ``start`` (itself included) with one shortest path to it."""
        paths: dict[str, list[str]] = {start: [start]}
        queue = deque([start])
        while queue:
            current = queue.popleft()
            nexts = set(self.parents.get(current, ())) | self.equivalents.get(current, set())
            if extra_parents:
                nexts |= extra_parents.get(current, set())
            for parent in sorted(nexts):
                if parent not in paths and parent not in (OWL_THING,):
                    paths[parent] = [*paths[current], parent]
                    queue.append(parent)
        return paths

    def disjoint_pair(
        self, left: Mapping[str, list[str]], right: Mapping[str, list[str]]
    ) -> tuple[str, str] | None:
        """The declared-disjoint pair (a in left, b in right) with the shortest paths, if any."""
        best: tuple[int, str, str] | None = None
        for a, path_a in left.items():
            for b, path_b in right.items():
                if a != b and frozenset((a, b)) in self.disjoint:
                    cost = len(path_a) + len(path_b)
                    key = (cost, a, b)
                    if best is None or key < best:
                        best = key
        return None if best is None else (best[1], best[2])


def _node_id(term: Any) -> str:
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, ox.NamedNode):
        return term.value
    return str(term)


def _walk_list(lists: Mapping[str, tuple[str | None, str | None]], head: str | None) -> list[str]:
    items: list[str] = []
    seen: set[str] = set()
    while head and head != RDF + "nil" and head not in seen:
        seen.add(head)
        first, rest = lists.get(head, (None, None))
        if first is not None:
            items.append(first)
        head = rest
    return items


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Term:
    """An entity as reported: its IRI, English label and compact IRI."""

    iri: IRI
    label: str
    curie: str

    def __str__(self) -> str:
        return f"{self.label} ({self.curie})" if self.label != self.curie else self.curie


@dataclass(frozen=True)
class Problem:
    """One thing the reasoner (or a direct check) found wrong, with a readable explanation.

    ``kind`` is ``"inconsistency"``, ``"unsatisfiable class"`` or ``"class used as a value of a
    disjoint kind"``; ``entities`` are the individuals or classes involved.
    """

    kind: str
    entities: tuple[Term, ...]
    explanation: str


@dataclass
class ReasoningResult:
    """What :func:`reason` found. ``ok`` is what ``emdkg reason`` turns into exit 0."""

    consistent: bool
    unsatisfiable: list[Term] = field(default_factory=list)
    inferred_subclasses: list[tuple[Term, Term]] = field(default_factory=list)
    inferred_equivalences: list[tuple[Term, Term]] = field(default_factory=list)
    inferred_types: list[tuple[Term, Term]] = field(default_factory=list)
    punned_types: list[tuple[Term, Term]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    triples: int = 0
    reasoner_triples: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    #: entailed named superclasses, class IRI -> set of IRIs (the class itself included)
    _superclasses: dict[str, set[str]] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """Consistent, no unsatisfiable class and no other problem."""
        return self.consistent and not self.unsatisfiable and not self.problems

    def superclasses(self, iri: str) -> set[str]:
        """All entailed named superclasses of a class (itself included); empty if unknown."""
        return set(self._superclasses.get(str(iri), set()))

    def is_subclass(self, sub: str, sup: str) -> bool:
        """Whether ``sub ⊑ sup`` is entailed (between named classes)."""
        return str(sup) in self._superclasses.get(str(sub), set())

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (what ``emdkg reason --format json`` prints)."""

        def term(t: Term) -> dict[str, str]:
            return {"iri": str(t.iri), "label": t.label, "curie": t.curie}

        return {
            "consistent": self.consistent,
            "ok": self.ok,
            "unsatisfiable_classes": [term(t) for t in self.unsatisfiable],
            "problems": [
                {"kind": p.kind, "entities": [term(t) for t in p.entities], "explanation": p.explanation}
                for p in self.problems
            ],
            "inferred_subclasses": [
                {"subclass": term(a), "superclass": term(b)} for a, b in self.inferred_subclasses
            ],
            "inferred_equivalences": [
                {"class": term(a), "equivalent": term(b)} for a, b in self.inferred_equivalences
            ],
            "inferred_types": [
                {"individual": term(a), "type": term(b)} for a, b in self.inferred_types
            ],
            "punned_types": [{"class": term(a), "type": term(b)} for a, b in self.punned_types],
            "triples": self.triples,
            "reasoner_triples": self.reasoner_triples,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


# --------------------------------------------------------------------------------------------
# The reasoning run
# --------------------------------------------------------------------------------------------


def _store_quads(store: Any) -> list[Any]:
    data = store.serialize("ntriples")
    return list(ox.parse(data, format=ox.RdfFormat.N_TRIPLES)) if data else []


def _reasoner_triples(index: _Index) -> list[ox.Triple]:
    """The triples HermiT needs: everything but annotation assertions."""
    drop = index.annotation_properties - index.object_properties - index.datatype_properties
    return [t for t in index.triples if t.predicate.value not in drop]


def _write_via_owlready2(triples: Sequence[ox.Triple], path: Path) -> None:
    """Load the triples into an isolated owlready2 World and save what HermiT will read."""
    import owlready2

    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) if triples else b""
    world = owlready2.World()  # in memory, isolated from owlready2.default_world
    try:
        ontology = world.get_ontology("urn:emdkg:reasoning-input")
        ontology.load(fileobj=io.BytesIO(data), format="ntriples")
        with path.open("wb") as out:
            world.save(out, format="ntriples")
    finally:
        world.close()


def _write_plain(triples: Sequence[ox.Triple], path: Path) -> None:
    path.write_bytes(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) if triples else b"")


def _parse_hermit(output: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[list[str]]]:
    subclass: list[tuple[str, str]] = []
    types: list[tuple[str, str]] = []
    equivalences: list[list[str]] = []
    for relation, iris in _HERMIT_LINE.findall(output):
        members = re.findall(r"<([^>]+)>", iris)
        if relation == "SubClassOf" and len(members) == 2:
            subclass.append((members[0], members[1]))
        elif relation == "Type" and len(members) == 2:
            types.append((members[0], members[1]))
        elif relation == "EquivalentClasses":
            equivalences.append(members)
    return subclass, types, equivalences


def reason(
    store: Any,
    *,
    files: Sequence[str | os.PathLike[str]] | None = None,
    search_culprits: bool = True,
) -> ReasoningResult:
    """Classify the ontology and knowledge base in ``store`` with HermiT.

    ``files`` (optional) are the files the store was loaded from; when given, explanations say
    which file asserts the offending triples. ``search_culprits=False`` skips the bounded
    HermiT search for an inconsistency that no direct check explains.

    Raises :class:`ReasonerUnavailable` (no Java) or :class:`ReasonerFailed` (HermiT crashed);
    an inconsistent graph is a *result* (``consistent=False`` with ``problems``), not an error.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    java = java_executable()
    index = _Index(_store_quads(store))
    reasoner_input = _reasoner_triples(index)
    timings["prepare"] = time.perf_counter() - start

    result = ReasoningResult(consistent=True, triples=len(index.triples), reasoner_triples=len(reasoner_input))
    with tempfile.TemporaryDirectory(prefix="emdkg-reason-") as tmp:
        path = Path(tmp, "input.nt")
        t = time.perf_counter()
        _write_via_owlready2(reasoner_input, path)
        timings["owlready2"] = time.perf_counter() - t
        run = _run_hermit(java, ["-c", "-I"], [path])
        timings["hermit"] = run.seconds

    t = time.perf_counter()
    provenance = _Provenance(files)
    if run.inconsistent:
        result.consistent = False
        result.problems = _explain_inconsistency(index, reasoner_input, java, provenance, search_culprits)
        timings["explain"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - start
        result.timings = timings
        return result

    subclass_lines, type_lines, equivalence_lines = _parse_hermit(run.stdout)
    _analyse(index, result, subclass_lines, type_lines, equivalence_lines, provenance)
    timings["analyse"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    result.timings = timings
    return result


def _analyse(
    index: _Index,
    result: ReasoningResult,
    subclass_lines: list[tuple[str, str]],
    type_lines: list[tuple[str, str]],
    equivalence_lines: list[list[str]],
    provenance: _Provenance,
) -> None:
    unsatisfiable: set[str] = set()
    equivalent: dict[str, set[str]] = defaultdict(set)
    for members in equivalence_lines:
        named = [m for m in members if not _is_builtin(m)]
        if OWL_NOTHING in members:
            unsatisfiable.update(named)
            continue
        for a in named:
            equivalent[a].update(m for m in named if m != a)

    # HermiT prints the direct parents of one representative per equivalence set: give them to
    # every member, so that the hierarchy holds for each name.
    direct: dict[str, set[str]] = defaultdict(set)
    for sub, sup in subclass_lines:
        if sup in (OWL_THING,) or sub in (OWL_NOTHING,) or _is_builtin(sub):
            continue
        for member in {sub, *equivalent.get(sub, ())}:
            direct[member].add(sup)

    # Entailed superclasses: the closure of HermiT's direct hierarchy and the equivalences.
    classes = (index.classes | set(direct) | {s for sups in direct.values() for s in sups}) - unsatisfiable
    closure: dict[str, set[str]] = {}
    for c in sorted(classes):
        found = {c}
        queue = deque([c])
        while queue:
            current = queue.popleft()
            for parent in direct.get(current, set()) | equivalent.get(current, set()):
                if parent not in found and not _is_builtin(parent):
                    found.add(parent)
                    queue.append(parent)
        closure[c] = found
    result._superclasses = closure

    asserted_edges = {(c, p) for c, ps in index.parents.items() for p in ps}
    new_edges = sorted(
        (sub, sup)
        for sub, sups in direct.items()
        for sup in sups
        if (sub, sup) not in asserted_edges and sub not in unsatisfiable and not _is_builtin(sup)
    )
    result.inferred_subclasses = [(index.term(a), index.term(b)) for a, b in new_edges]
    result.inferred_equivalences = sorted(
        (index.term(a), index.term(b))
        for a, others in equivalent.items()
        for b in others
        if a < b and b not in index.equivalents.get(a, set())
    )
    result.unsatisfiable = sorted(index.term(c) for c in unsatisfiable)

    # Types: HermiT gives the direct types; new are those not asserted on the individual.
    new_types: list[tuple[str, str]] = []
    punned_types: list[tuple[str, str]] = []
    for individual, cls in type_lines:
        if _is_builtin(cls) or _is_builtin(individual):
            continue
        if individual in index.classes:
            if cls not in index.types.get(individual, set()):
                punned_types.append((individual, cls))
        elif cls not in index.types.get(individual, set()):
            new_types.append((individual, cls))
    result.inferred_types = [(index.term(a), index.term(b)) for a, b in sorted(set(new_types))]
    result.punned_types = [(index.term(a), index.term(b)) for a, b in sorted(set(punned_types))]

    problems: list[Problem] = []
    roots = _unsatisfiable_roots(index, unsatisfiable)
    for c in sorted(unsatisfiable, key=lambda iri: index.label(iri).lower()):
        problems.append(
            Problem(UNSATISFIABLE, (index.term(c),), _explain_unsatisfiable(index, c, roots, provenance))
        )
    problems.extend(_punning_misuse(index, closure, provenance))
    result.problems = problems


# --------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------


class _Provenance:
    """Which of the given files assert a triple (parsed lazily, only to explain problems)."""

    def __init__(self, files: Sequence[str | os.PathLike[str]] | None) -> None:
        self.files = [Path(f) for f in files or ()]
        self._by_file: list[tuple[Path, set[tuple[str, str, str]]]] | None = None

    def _load(self) -> list[tuple[Path, set[tuple[str, str, str]]]]:
        if self._by_file is None:
            from emdkg.store import FORMATS, format_for_path

            loaded = []
            for path in self.files:
                try:
                    fmt = FORMATS[format_for_path(path)][0]
                    quads = ox.parse(path.read_bytes(), format=fmt, base_iri=path.resolve().as_uri())
                    keys = {(_node_id(q.subject), q.predicate.value, _node_id(q.object)) for q in quads}
                except (EmdkgError, OSError, SyntaxError, ValueError):
                    continue
                loaded.append((path, keys))
            self._by_file = loaded
        return self._by_file

    def where(self, s: str, p: str, o: str) -> list[str]:
        if not self.files:
            return []
        return [_display_path(path) for path, keys in self._load() if (s, p, o) in keys]

    def note(self, s: str, p: str, o: str) -> str:
        places = self.where(s, p, o)
        return f" (asserted in {', '.join(places)})" if places else ""


def _display_path(path: Path) -> str:
    from emdkg.resources import data_root

    try:
        return str(path.resolve().relative_to(data_root().resolve()))
    except (ValueError, EmdkgError):
        pass
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _path_text(index: _Index, path: list[str]) -> str:
    return " ⊑ ".join(index.label(c) for c in path)


def _unsatisfiable_roots(index: _Index, unsatisfiable: set[str]) -> dict[str, str]:
    """For an unsatisfiable class that only inherits it: the unsatisfiable superclass."""
    inherited: dict[str, str] = {}
    for c in unsatisfiable:
        for parent, path in index.ancestor_paths(c).items():
            if parent != c and parent in unsatisfiable:
                inherited[c] = parent
                break
    return inherited


def _explain_unsatisfiable(index: _Index, c: str, inherited: Mapping[str, str], provenance: _Provenance) -> str:
    name = index.name(c)
    if c in inherited:
        return f"{name} is unsatisfiable because its superclass {index.name(inherited[c])} is."
    paths = index.ancestor_paths(c)
    pair = index.disjoint_pair(paths, paths)
    if pair is None:
        parents = ", ".join(index.label(p) for p in sorted(index.parents.get(c, ()))) or "none asserted"
        return (
            f"{name} is unsatisfiable (no instance can exist), but no pair of disjoint named "
            f"superclasses explains it: check its restrictions and equivalences "
            f"(asserted superclasses: {parents})."
        )
    a, b = pair
    return (
        f"{name} is unsatisfiable: it is a subclass of {index.label(a)} "
        f"({_sourced_path(index, paths[a], provenance)}) and of {index.label(b)} "
        f"({_sourced_path(index, paths[b], provenance)}), which are disjoint, so nothing can be "
        f"{_article(index.label(c))}."
    )


def _sourced_path(index: _Index, path: list[str], provenance: _Provenance) -> str:
    """``a ⊑ b ⊑ c``, naming the file of the first (the class's own) axiom when known."""
    if len(path) < 2:
        return index.label(path[0])
    places = provenance.where(path[0], RDFS_SUBCLASSOF, path[1])
    if len(path) == 2:
        return f"asserted in {', '.join(places)}" if places else "asserted"
    text = _path_text(index, path)
    if places:
        text += f"; {index.label(path[0])} ⊑ {index.label(path[1])} is asserted in {', '.join(places)}"
    return text


def _article(label: str) -> str:
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label


@dataclass(frozen=True)
class _Reason:
    """Why an individual has a type: asserted, or from a domain/range of an assertion."""

    cls: str
    how: str  # "asserted" | "domain" | "range"
    prop: str = ""
    other: str = ""  # the other end of the property assertion


def _type_reasons(index: _Index, individual: str) -> list[_Reason]:
    reasons = [_Reason(c, "asserted") for c in sorted(index.types.get(individual, ()))]
    for s, p, o in index.object_assertions:
        if s == individual:
            reasons.extend(_Reason(d, "domain", p, o) for d in sorted(index.domains.get(p, ())))
        if o == individual:
            reasons.extend(_Reason(r, "range", p, s) for r in sorted(index.ranges.get(p, ())))
    for s, p, _literal in index.data_assertions:
        if s == individual:
            reasons.extend(_Reason(d, "domain", p) for d in sorted(index.domains.get(p, ())))
    # one reason per (class, how, prop) is plenty for an explanation
    unique: dict[tuple[str, str, str], _Reason] = {}
    for r in reasons:
        unique.setdefault((r.cls, r.how, r.prop), r)
    return list(unique.values())


def _reason_text(index: _Index, individual: str, r: _Reason, provenance: _Provenance) -> str:
    if r.how == "asserted":
        return f"typed {index.label(r.cls)}{provenance.note(individual, RDF_TYPE, r.cls)}"
    if r.how == "domain":
        target = f" {index.name(r.other)}" if r.other else ""
        return (
            f"{_article(index.label(r.cls))} because it has {index.label(r.prop)} ({curie(r.prop)}){target}"
            f"{provenance.note(individual, r.prop, r.other) if r.other else ''}"
        )
    return (
        f"{_article(index.label(r.cls))} because it is the {index.label(r.prop)} ({curie(r.prop)}) "
        f"value of {index.name(r.other)}{provenance.note(r.other, r.prop, individual)}"
    )


def _individual_conflicts(index: _Index, provenance: _Provenance) -> list[Problem]:
    """Individuals whose asserted or implied types fall into declared-disjoint classes."""
    problems = []
    for individual in sorted(index.individuals):
        reasons = _type_reasons(index, individual)
        if len(reasons) < 1:
            continue
        paths = [(r, index.ancestor_paths(r.cls)) for r in reasons]
        best: tuple[int, int, int, str, str] | None = None
        for i, (r1, p1) in enumerate(paths):
            for j in range(i, len(paths)):
                r2, p2 = paths[j]
                pair = index.disjoint_pair(p1, p2)
                if pair is None:
                    continue
                a, b = pair
                # prefer what the curator asserted over what a domain or range implies
                cost = len(p1[a]) + len(p2[b]) + 3 * ((r1.how != "asserted") + (r2.how != "asserted"))
                key = (cost, i, j, a, b)
                if best is None or key < best:
                    best = key
        if best is None:
            continue
        _, i, j, a, b = best
        (r1, p1), (r2, p2) = paths[i], paths[j]
        name = index.name(individual)
        if r1.how == r2.how == "asserted" and (a, b) == (r1.cls, r2.cls):
            text = (
                f"{name} is typed both {index.label(a)} and {index.label(b)}, which are disjoint"
                f"{_notes(provenance, individual, a, b)}."
            )
        elif i == j:
            text = (
                f"{name} is {_reason_text(index, individual, r1, provenance)}, and "
                f"{index.label(r1.cls)} is both {index.label(a)} ({_path_text(index, p1[a])}) and "
                f"{index.label(b)} ({_path_text(index, p1[b])}), which are disjoint."
            )
        else:
            hence1 = f", hence {_article(index.label(a))}" if a != r1.cls else ""
            hence2 = f", hence {_article(index.label(b))}" if b != r2.cls else ""
            text = (
                f"{name} is {_reason_text(index, individual, r1, provenance)}{hence1}, and "
                f"{_reason_text(index, individual, r2, provenance)}{hence2}; "
                f"{index.label(a)} and {index.label(b)} are disjoint."
            )
        involved = {individual} | {r.other for r in (r1, r2) if r.other}
        problems.append(Problem(INCONSISTENCY, tuple(index.term(x) for x in sorted(involved)), text))
    return problems


def _notes(provenance: _Provenance, individual: str, a: str, b: str) -> str:
    places = dict.fromkeys(provenance.where(individual, RDF_TYPE, a) + provenance.where(individual, RDF_TYPE, b))
    return f" (asserted in {', '.join(places)})" if places else ""


_INTEGER_TYPES = {
    XSD + n
    for n in (
        "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
        "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
        "unsignedByte",
    )
}
_STRING_TYPES = {XSD + n for n in ("string", "normalizedString", "token", "language", "Name", "NCName", "NMTOKEN")}
_COMPATIBLE = {
    XSD + "decimal": _INTEGER_TYPES | {XSD + "decimal"},
    XSD + "integer": _INTEGER_TYPES,
    XSD + "nonNegativeInteger": {XSD + "nonNegativeInteger", XSD + "positiveInteger", XSD + "unsignedLong",
                                 XSD + "unsignedInt", XSD + "unsignedShort", XSD + "unsignedByte"},
    XSD + "string": _STRING_TYPES,
    XSD + "boolean": {XSD + "boolean"},
    XSD + "double": {XSD + "double"},
    XSD + "float": {XSD + "float"},
}


def _literal_conflicts(index: _Index, provenance: _Provenance) -> list[Problem]:
    """Literals that cannot be values of their data property's range (OWL: inconsistent)."""
    problems = []
    for s, p, literal in sorted(index.data_assertions, key=lambda x: (x[0], x[1], x[2].value)):
        datatype = RDF + "langString" if literal.language else literal.datatype.value
        reason = None
        if datatype in _INTEGER_TYPES | {XSD + "decimal", XSD + "double", XSD + "float", XSD + "boolean"}:
            if isinstance(literal_value(literal.value, datatype), str):
                reason = f"which is not a valid {curie(datatype)}"
        for rng in sorted(index.ranges.get(p, ())):
            allowed = _COMPATIBLE.get(rng)
            if reason is None and allowed is not None and datatype not in allowed:
                kind = "a language-tagged string" if literal.language else f"of type {curie(datatype)}"
                reason = f"which is {kind}, but the range of {index.label(p)} is {curie(rng)}"
        if reason:
            note = provenance.note(s, p, _node_id(literal))
            problems.append(
                Problem(
                    INCONSISTENCY,
                    (index.term(s),),
                    f"{index.name(s)} has {index.label(p)} ({curie(p)}) {_short_literal(literal)}, "
                    f"{reason}{note}.",
                )
            )
    return problems


def _short_literal(literal: ox.Literal) -> str:
    text = literal.value if len(literal.value) <= 60 else literal.value[:57] + "..."
    return f'"{text}"' + (f"@{literal.language}" if literal.language else "")


def _punning_misuse(index: _Index, closure: Mapping[str, set[str]], provenance: _Provenance) -> list[Problem]:
    """Classes used as values whose implied kind is disjoint from the class's own kind."""
    problems = []
    for iri in sorted(index.punned):
        class_paths = {c: [iri, c] for c in closure.get(iri, {iri})} or index.ancestor_paths(iri)
        for r in _type_reasons(index, iri):
            if r.how == "asserted":
                continue  # a class assertion on a class: allowed punning
            value_paths = index.ancestor_paths(r.cls)
            pair = index.disjoint_pair(value_paths, class_paths)
            if pair is None:
                continue
            a, b = pair
            role = (
                f"it is the {index.label(r.prop)} ({curie(r.prop)}) value of {index.name(r.other)}"
                if r.how == "range"
                else f"it has {index.label(r.prop)} ({curie(r.prop)})"
            )
            where = provenance.note(r.other, r.prop, iri) if r.how == "range" else ""
            text = (
                f"{index.name(iri)} is used as {_article(index.label(a))}: {role}{where}, so it would "
                f"be {_article(index.label(r.cls))}; but the class {index.label(iri)} is "
                f"{_article(index.label(b))}, and {index.label(a)} and {index.label(b)} are disjoint."
            )
            involved = {iri, r.other} - {""}
            problems.append(
                Problem(MISUSE, tuple(index.term(x) for x in sorted(involved)), text)
            )
    return problems


def _explain_inconsistency(
    index: _Index,
    reasoner_input: Sequence[ox.Triple],
    java: str,
    provenance: _Provenance,
    search: bool,
) -> list[Problem]:
    problems = _individual_conflicts(index, provenance) + _literal_conflicts(index, provenance)
    if problems:
        return problems
    if not search:
        return [Problem(INCONSISTENCY, (), "HermiT reports the knowledge graph inconsistent; no direct check explains it.")]
    return [_search_culprits(index, reasoner_input, java, provenance)]


# --------------------------------------------------------------------------------------------
# Bounded culprit search (HermiT -k over candidate subsets, several per JVM)
# --------------------------------------------------------------------------------------------


def _split_abox(index: _Index, triples: Sequence[ox.Triple]) -> tuple[list[ox.Triple], dict[str, list[ox.Triple]]]:
    """Axioms (kept in every candidate) and, per named individual, the triples about it."""
    schema: list[ox.Triple] = []
    groups: dict[str, list[ox.Triple]] = defaultdict(list)
    non_individuals = (
        index.classes | index.object_properties | index.datatype_properties | index.annotation_properties
        | index.subjects_in_ontology
    )
    for t in triples:
        s = t.subject
        if isinstance(s, ox.NamedNode) and s.value not in non_individuals and not _is_builtin(s.value):
            groups[s.value].append(t)
        else:
            schema.append(t)
    return schema, dict(groups)


def _first_inconsistent(java: str, candidates: Sequence[list[ox.Triple]], tmp: Path) -> int | None:
    """Index of the first inconsistent candidate (HermiT -k stops there), or None.

    HermiT's command line checks each ontology it is given in turn and stops with an exception
    at the first inconsistent one, printing one "is satisfiable" line per consistent one before
    it: so one JVM answers several questions.
    """
    paths = []
    for i, triples in enumerate(candidates):
        path = tmp / f"candidate-{i}.nt"
        _write_plain(triples, path)
        paths.append(path)
    run = _run_hermit(java, ["-k"], paths)
    if not run.inconsistent:
        return None
    return run.stdout.count("is satisfiable")


def _search_culprits(
    index: _Index, reasoner_input: Sequence[ox.Triple], java: str, provenance: _Provenance
) -> Problem:
    """A minimal set of individuals whose assertions, with the axioms, are inconsistent.

    Deletion with bisection (the "progression" of QuickXplain): find the shortest prefix of the
    individuals that is inconsistent together with those already found; its last individual is
    necessary; repeat on the prefix until the found ones alone are inconsistent. Each bisection
    step asks HermiT about several prefixes in one JVM. Bounded by rounds and time; when a bound
    is hit, the set reported is small but not proven minimal.
    """
    schema, groups = _split_abox(index, reasoner_input)
    deadline = time.perf_counter() + SEARCH_MAX_SECONDS
    pool = sorted(groups)
    found: list[str] = []
    rounds = 0
    complete = False

    def build(names: Iterable[str]) -> list[ox.Triple]:
        return schema + [t for name in names for t in groups[name]]

    with tempfile.TemporaryDirectory(prefix="emdkg-culprits-") as d:
        tmp = Path(d)
        while rounds < SEARCH_MAX_ROUNDS and time.perf_counter() < deadline:
            # invariant: schema + found + pool is inconsistent
            lo, hi = -1, len(pool)  # prefix lengths: lo unknown/consistent, hi inconsistent
            while hi - lo > 1 and rounds < SEARCH_MAX_ROUNDS and time.perf_counter() < deadline:
                rounds += 1
                step = (hi - lo) / (SEARCH_MAX_CHUNKS + 1)
                cuts = sorted({min(hi - 1, max(lo + 1, round(lo + step * (i + 1)))) for i in range(SEARCH_MAX_CHUNKS)})
                first = _first_inconsistent(java, [build(found + pool[:c]) for c in cuts], tmp)
                if first is None:
                    lo = cuts[-1]
                else:
                    hi = cuts[first]
                    lo = cuts[first - 1] if first > 0 else lo
            if hi - lo > 1:
                break  # out of budget mid-bisection
            if hi == 0:  # the individuals found so far are contradictory on their own
                complete = True
                break
            found.append(pool[hi - 1])
            pool = pool[: hi - 1]
        if not found and not complete:
            found = pool  # no progress at all: report everything (should not happen)
        if not complete and found and _first_inconsistent(java, [build(found)], tmp) == 0:
            complete = True  # the bound hit after the last one was found
        if not found:
            return Problem(
                INCONSISTENCY,
                (),
                "The ontology's axioms are inconsistent on their own, before any individual's "
                "assertions are added: check the class and property axioms of the last change.",
            )

    lines = []
    shown = sorted(found)[:10]
    for name in shown:
        assertions = []
        places: dict[str, None] = {}
        for t in groups[name]:
            p, o = t.predicate.value, t.object
            if p == RDF_TYPE and isinstance(o, ox.NamedNode) and _is_builtin(o.value):
                continue
            if isinstance(o, ox.NamedNode):
                value = index.name(o.value)
            elif isinstance(o, ox.Literal):
                value = '"' + (o.value if len(o.value) <= 60 else o.value[:57] + "...") + '"'
            else:
                value = "[an anonymous class or node]"
            verb = "type" if p == RDF_TYPE else f"{index.label(p)}"
            assertions.append(f"{verb} {value}")
            places.update(dict.fromkeys(provenance.where(name, p, _node_id(o))))
        where = f" (in {', '.join(places)})" if places else ""
        lines.append(f"{index.name(name)}{where}: " + "; ".join(sorted(assertions)))
    more = f" (and {len(found) - 10} more)" if len(found) > 10 else ""
    size = "a minimal" if complete else "a small (not proven minimal: the search was cut short)"
    text = (
        f"The knowledge graph is inconsistent, and no disjointness or datatype conflict explains it "
        f"directly. HermiT finds {size} set of {len(found)} individual(s) whose assertions, together "
        f"with the ontology's axioms, are contradictory: " + " | ".join(lines) + more + "."
    )
    return Problem(INCONSISTENCY, tuple(index.term(x) for x in sorted(found)), text)


# --------------------------------------------------------------------------------------------
# Materialisation
# --------------------------------------------------------------------------------------------


def materialise_inferences(store: Any, *, include_punned: bool = False) -> list[tuple[IRI, IRI, IRI]]:
    """The inferred subclass and type triples not already asserted, for ``export --inferred``.

    Returns ``(subject, predicate, object)`` tuples of :class:`emdkg.values.IRI` (all three are
    always IRIs), sorted, without duplicates:

    * ``(C, rdfs:subClassOf, D)`` for each direct subclass axiom HermiT infers that is not
      asserted (together with the asserted ones, the ``rdfs:subClassOf*`` closure is then the
      entailed hierarchy, so a store without a reasoner answers subclass questions the same way);
    * ``(C, owl:equivalentClass, D)`` for inferred equivalences between named classes;
    * ``(i, rdf:type, C)`` for each direct type of an individual that is not asserted.

    Types of *classes used as values* (punning: ``emdkg:Liver rdf:type emdkg:AnatomicalSite``,
    from the range of ``emdkg:site``) are left out unless ``include_punned=True``: they restate
    the class hierarchy and would make ``?x a emdkg:AnatomicalSite`` return classes.

    Raises :class:`InconsistentKnowledgeGraph` when the graph is inconsistent or has
    unsatisfiable classes (there is nothing sound to materialise), and
    :class:`ReasonerUnavailable` when Java is missing.
    """
    return inferred_triples(reason(store, search_culprits=False), include_punned=include_punned)


def inferred_triples(result: ReasoningResult, *, include_punned: bool = False) -> list[tuple[IRI, IRI, IRI]]:
    """The triples :func:`materialise_inferences` returns, from a :class:`ReasoningResult`."""
    if not result.consistent or result.unsatisfiable:
        what = "is inconsistent" if not result.consistent else "has unsatisfiable classes"
        first = next((p.explanation for p in result.problems if p.kind != MISUSE), "")
        raise InconsistentKnowledgeGraph(
            f"cannot materialise inferences: the knowledge graph {what}. {first}".strip(), result
        )
    triples: set[tuple[IRI, IRI, IRI]] = set()
    for sub, sup in result.inferred_subclasses:
        triples.add((IRI(sub.iri), IRI(RDFS_SUBCLASSOF), IRI(sup.iri)))
    for a, b in result.inferred_equivalences:
        triples.add((IRI(a.iri), IRI(OWL_EQUIVALENTCLASS), IRI(b.iri)))
    for individual, cls in result.inferred_types:
        triples.add((IRI(individual.iri), IRI(RDF_TYPE), IRI(cls.iri)))
    if include_punned:
        for individual, cls in result.punned_types:
            triples.add((IRI(individual.iri), IRI(RDF_TYPE), IRI(cls.iri)))
    return sorted(triples)
