"""The release files, written deterministically and atomically: ``emdkg export``.

One release is the bundled ontology and knowledge base (plus any ``--data`` files), merged into
one graph, in five forms:

=====================  ======================================================================
file                   what it is
=====================  ======================================================================
``emdkg.ttl``          Turtle for people: prefixes, one block per subject, ``a`` first, blank
                       nodes nested as ``[ ... ]`` and RDF lists as ``( ... )``
``emdkg.nt``           canonical N-Triples: blank nodes labelled by RDF Dataset
                       Canonicalization (RDFC-1.0, ``_:c14n0``...), lines sorted; the file to
                       diff and to load into a triple store
``emdkg.jsonld``       JSON-LD (flattened: one node object per subject, sorted) whose
                       ``@context`` is the file ``emdkg.context.jsonld`` beside it
``emdkg.owl``          OWL as RDF/XML, for owlready2, Protégé and the OWL API
``emdkg.sssom.tsv``    the ``skos:*Match`` mappings as an SSSOM table
``emdkg-inferred.nt``  with ``--inferred``: what the OWL reasoner infers that is not asserted
=====================  ======================================================================

**Deterministic.** The same input gives the same bytes, whatever the hash seed or the order the
files were parsed in: blank node labels come from RDFC-1.0 (pyoxigraph), and every writer here
sorts what it writes (rdflib's writers are not used: their output order changes with Python's
hash seed). No date or time is written.

**Atomic.** Every file is first written in full (contents are all made in memory before the
first byte is written) to a temporary file in the output folder, ``fsync``-ed, then renamed over
the old one with :func:`os.replace`. An export that fails, or is killed, leaves each previous
file as it was, never half written (a leftover ``.<name>.*.partial`` from a killed export is
removed by the next one).

>>> graph = ReleaseGraph.from_ntriples(
...     b'<https://w3id.org/emdkg/a> <http://www.w3.org/2000/01/rdf-schema#label> "a"@en .')
>>> print(turtle(graph).decode().split("\\n\\n", 2)[-1], end="")
emdkg:a rdfs:label "a"@en .
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from emdkg.errors import EmdkgError, InputError
from emdkg.store import OxigraphStore

__all__ = [
    "PREFIXES",
    "EXPORT_FORMATS",
    "FILES",
    "CONTEXT_FILE",
    "INFERRED_FILE",
    "ReleaseGraph",
    "load_release",
    "release_graph",
    "ntriples",
    "turtle",
    "jsonld",
    "rdfxml",
    "sssom",
    "inferred_ntriples",
    "render",
    "write_atomically",
    "export",
]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCTERMS = "http://purl.org/dc/terms/"
RDF_TYPE = RDF + "type"
RDF_FIRST = RDF + "first"
RDF_REST = RDF + "rest"
RDF_NIL = RDF + "nil"
XSD_STRING = XSD + "string"

#: The published prefixes: the Turtle header, the JSON-LD @context and the RDF/XML namespaces.
#: Changing one changes the release files (and the context other documents may refer to).
PREFIXES: dict[str, str] = {
    "bibo": "http://purl.org/ontology/bibo/",
    "cito": "http://purl.org/spar/cito/",
    "dcterms": DCTERMS,
    "emdkg": "https://w3id.org/emdkg/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "kb": "https://w3id.org/emdkg/kb/",
    "mesh": "http://id.nlm.nih.gov/mesh/",
    "obo": "http://purl.obolibrary.org/obo/",
    "oboInOwl": "http://www.geneontology.org/formats/oboInOwl#",
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "skos": SKOS,
    "xsd": XSD,
}

CONTEXT_FILE = "emdkg.context.jsonld"
INFERRED_FILE = "emdkg-inferred.nt"

#: ``--format`` value -> the files it writes.
FILES: dict[str, tuple[str, ...]] = {
    "ttl": ("emdkg.ttl",),
    "nt": ("emdkg.nt",),
    "jsonld": ("emdkg.jsonld", CONTEXT_FILE),
    "owl": ("emdkg.owl",),
    "sssom": ("emdkg.sssom.tsv",),
}
EXPORT_FORMATS = (*FILES, "all")

_DEFAULT_LICENSE = "https://creativecommons.org/licenses/by/4.0/"


# --------------------------------------------------------------------------------------------
# The graph of a release
# --------------------------------------------------------------------------------------------


def _sort_key(term: Any) -> str:
    return str(term)


@dataclass
class ReleaseGraph:
    """The triples of a release: graphs merged, blank nodes canonically labelled, sorted.

    ``triples`` are pyoxigraph triples sorted by their N-Triples text; ``by_subject`` indexes
    them (subject -> predicate IRI -> objects, each sorted).
    """

    triples: list[ox.Triple]
    by_subject: dict[Any, dict[str, list[Any]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[Any, dict[str, list[Any]]] = {}
        for t in self.triples:  # already sorted: objects come out sorted per predicate
            index.setdefault(t.subject, {}).setdefault(t.predicate.value, []).append(t.object)
        self.by_subject = index

    @classmethod
    def from_quads(cls, quads: Iterable[ox.Quad | ox.Triple]) -> ReleaseGraph:
        """Merge all graphs into one, label blank nodes by RDFC-1.0, sort."""
        dataset = ox.Dataset(
            dict.fromkeys(ox.Quad(q.subject, q.predicate, q.object) for q in quads)
        )
        # RDFC-1.0 (the W3C standard) labels blank nodes _:c14n0, _:c14n1... from the shape of
        # the graph alone: the same graph gets the same labels, whatever the parse order.
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        triples = sorted((q.triple for q in dataset), key=_sort_key)
        return cls(triples)

    @classmethod
    def from_ntriples(cls, data: bytes) -> ReleaseGraph:
        """A release graph from N-Triples (for tests and doctests)."""
        return cls.from_quads(ox.parse(data, format=ox.RdfFormat.N_TRIPLES))

    def __len__(self) -> int:
        return len(self.triples)

    def objects(self, subject: Any, predicate: str) -> list[Any]:
        return self.by_subject.get(subject, {}).get(predicate, [])

    def ontology(self) -> ox.NamedNode | None:
        """The (first, by IRI) subject typed owl:Ontology."""
        candidates = [
            s
            for s, preds in self.by_subject.items()
            if isinstance(s, ox.NamedNode)
            and any(isinstance(o, ox.NamedNode) and o.value == OWL + "Ontology" for o in preds.get(RDF_TYPE, ()))
        ]
        return min(candidates, key=_sort_key) if candidates else None

    def ontology_value(self, predicate: str) -> Any | None:
        ontology = self.ontology()
        values = self.objects(ontology, predicate) if ontology is not None else []
        return values[0] if values else None

    def version_iri(self) -> str | None:
        """The ontology's owl:versionIRI: the default named graph of ``emdkg load``."""
        value = self.ontology_value(OWL + "versionIRI")
        return value.value if isinstance(value, ox.NamedNode) else None


def load_release(data: Sequence[str | os.PathLike[str]] = (), *, include_bundled: bool = True) -> OxigraphStore:
    """An embedded store with the bundled knowledge graph (unless told not to) and ``data``."""
    from emdkg.resources import bundled_rdf_files
    from emdkg.store import load_files

    files = bundled_rdf_files() if include_bundled else []
    store = load_files([*files, *data])
    assert isinstance(store, OxigraphStore)
    return store


def release_graph(data: Sequence[str | os.PathLike[str]] = (), *, include_bundled: bool = True) -> ReleaseGraph:
    """The release graph of the bundled knowledge graph plus ``data`` files."""
    return ReleaseGraph.from_quads(load_release(data, include_bundled=include_bundled).native)


# --------------------------------------------------------------------------------------------
# Terms
# --------------------------------------------------------------------------------------------

# Conservative local names: what every Turtle and JSON-LD reader takes without escapes.
_PN_LOCAL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?")
# XML NCName, ASCII subset (RDF/XML element and attribute names).
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NAMESPACES_LONGEST_FIRST = sorted(PREFIXES.items(), key=lambda kv: -len(kv[1]))


def compact(iri: str, pattern: re.Pattern[str] = _PN_LOCAL) -> str | None:
    """``prefix:local`` for an IRI in a published namespace (the longest that fits), else None.

    >>> compact("https://w3id.org/emdkg/kb/blade-2022"), compact("https://example.org/x")
    ('kb:blade-2022', None)
    """
    for prefix, namespace in _NAMESPACES_LONGEST_FIRST:
        if iri.startswith(namespace):
            local = iri[len(namespace) :]
            if local == "" or pattern.fullmatch(local):
                return f"{prefix}:{local}"
    return None


def _quoted(text: str) -> str:
    return str(ox.Literal(text))  # pyoxigraph's N-Triples string escaping


# --------------------------------------------------------------------------------------------
# N-Triples
# --------------------------------------------------------------------------------------------


def ntriples(graph: ReleaseGraph) -> bytes:
    """Canonical N-Triples: one triple a line, sorted (Unicode code point order), LF endings."""
    return "".join(f"{t} .\n" for t in graph.triples).encode("utf-8")


def inferred_ntriples(triples: Iterable[tuple[Any, Any, Any]]) -> bytes:
    """Sorted N-Triples of ``(s, p, o)`` tuples of :mod:`emdkg.values` or pyoxigraph terms."""
    from emdkg.store import _ox_term
    from emdkg.values import BNode

    def term(value: Any) -> Any:
        if isinstance(value, (ox.NamedNode, ox.BlankNode, ox.Literal)):
            return value
        if isinstance(value, BNode):
            return ox.BlankNode(str(value))
        return _ox_term(value)  # an IRI, or a Python value as its typed literal

    lines = {f"{ox.Triple(term(s), term(p), term(o))} .\n" for s, p, o in triples}
    return "".join(sorted(lines)).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Turtle
# --------------------------------------------------------------------------------------------


class _Namer:
    """IRIs as prefixed names where safe, remembering which prefixes were used."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def iri(self, iri: str) -> str:
        name = compact(iri)
        if name is None:
            return f"<{iri}>"
        self.used.add(name.split(":", 1)[0])
        return name

    def literal(self, literal: ox.Literal) -> str:
        text = _quoted(literal.value)
        if literal.language:
            return f"{text}@{literal.language}"
        datatype = literal.datatype.value
        if datatype == XSD_STRING:
            return text
        return f"{text}^^{self.iri(datatype)}"


def turtle(graph: ReleaseGraph) -> bytes:
    """Turtle for people: the ontology header first, then subjects in IRI order.

    Blank nodes used once as an object are nested (``[ ... ]``), well-formed RDF lists become
    ``( ... )``; any other blank node is written with its canonical label.
    """
    namer = _Namer()
    refs: dict[ox.BlankNode, int] = defaultdict(int)
    for t in graph.triples:
        if isinstance(t.object, ox.BlankNode):
            refs[t.object] += 1
    open_nodes: set[ox.BlankNode] = set()  # being written: refer to them by label
    written: set[ox.BlankNode] = set()

    def inlinable(node: Any) -> bool:
        return (
            isinstance(node, ox.BlankNode)
            and refs[node] == 1
            and node not in open_nodes
            and node not in written
        )

    def list_items(node: ox.BlankNode) -> list[Any] | None:
        items: list[Any] = []
        seen: set[ox.BlankNode] = set()
        current: Any = node
        while not (isinstance(current, ox.NamedNode) and current.value == RDF_NIL):
            if not isinstance(current, ox.BlankNode) or current in seen:
                return None
            if current is not node and not inlinable(current):
                return None
            preds = graph.by_subject.get(current, {})
            if set(preds) != {RDF_FIRST, RDF_REST} or len(preds[RDF_FIRST]) != 1 or len(preds[RDF_REST]) != 1:
                return None
            seen.add(current)
            items.append(preds[RDF_FIRST][0])
            current = preds[RDF_REST][0]
        written.update(seen)
        return items

    def obj(node: Any, indent: str) -> str:
        if isinstance(node, ox.NamedNode):
            return namer.iri(node.value)
        if isinstance(node, ox.Literal):
            return namer.literal(node)
        if not inlinable(node):
            return str(node)
        open_nodes.add(node)
        try:
            items = list_items(node)
            if items is not None:
                return "( " + " ".join(obj(item, indent) for item in items) + " )" if items else "()"
            preds = graph.by_subject.get(node)
            written.add(node)
            if not preds:
                return "[]"
            inner = indent + "    "
            return "[\n" + inner + properties(preds, inner) + "\n" + indent + "]"
        finally:
            open_nodes.discard(node)

    def properties(preds: Mapping[str, list[Any]], indent: str) -> str:
        order = sorted(preds, key=lambda p: (p != RDF_TYPE, p))
        parts = []
        for p in order:
            verb = "a" if p == RDF_TYPE else namer.iri(p)
            objects = [obj(o, indent + "    ") for o in preds[p]]
            parts.append(f"{verb} " + " , ".join(objects))
        return (" ;\n" + indent).join(parts)

    def block(subject: Any) -> str:
        if isinstance(subject, ox.NamedNode):
            return namer.iri(subject.value) + " " + properties(graph.by_subject[subject], "    ") + " .\n"
        open_nodes.add(subject)
        try:
            head = "[]" if refs[subject] == 0 else str(subject)  # unreferenced: no label needed
            return head + " " + properties(graph.by_subject[subject], "    ") + " .\n"
        finally:
            open_nodes.discard(subject)
            written.add(subject)

    ontology = graph.ontology()
    iris = sorted((s for s in graph.by_subject if isinstance(s, ox.NamedNode)), key=lambda s: (s != ontology, s.value))
    blocks = [block(s) for s in iris]
    # Blank node subjects not nested above, with their canonical labels: first those referenced
    # by several triples or by none, then any left (a cycle of nodes each referenced once).
    bnodes = sorted((s for s in graph.by_subject if isinstance(s, ox.BlankNode)), key=_sort_key)
    for s in [b for b in bnodes if refs[b] != 1] + [b for b in bnodes if refs[b] == 1]:
        if s not in written:
            blocks.append(block(s))
    header = "".join(f"@prefix {p}: <{PREFIXES[p]}> .\n" for p in sorted(namer.used))
    intro = "# The emdkg release (generated by `emdkg export`; edit ontology/ instead).\n\n"
    return (intro + header + "\n" + "\n".join(blocks)).encode("utf-8")


# --------------------------------------------------------------------------------------------
# JSON-LD
# --------------------------------------------------------------------------------------------


def _json_iri(iri: str) -> str:
    return compact(iri) or iri


def _json_object(node: Any) -> Any:
    if isinstance(node, ox.NamedNode):
        return {"@id": _json_iri(node.value)}
    if isinstance(node, ox.BlankNode):
        return {"@id": str(node)}
    if node.language:
        return {"@value": node.value, "@language": node.language}
    if node.datatype.value == XSD_STRING:
        return node.value
    return {"@value": node.value, "@type": _json_iri(node.datatype.value)}


def jsonld_context() -> dict[str, Any]:
    """The published JSON-LD context: the prefixes, nothing else (so no value is coerced)."""
    return {"@context": dict(sorted(PREFIXES.items()))}


def jsonld(graph: ReleaseGraph) -> tuple[bytes, bytes]:
    """(the document, its context) as JSON-LD.

    The document is in flattened form (one node object per subject, sorted by ``@id``; keys
    sorted; several values as an array sorted by their N-Triples text), and refers to its
    context by the relative IRI ``emdkg.context.jsonld``: a JSON-LD processor resolves it
    against the document's own address, so the two files are published side by side.
    """
    nodes = []
    for subject in sorted(graph.by_subject, key=lambda s: (isinstance(s, ox.BlankNode), str(s))):
        preds = graph.by_subject[subject]
        node: dict[str, Any] = {
            "@id": _json_iri(subject.value) if isinstance(subject, ox.NamedNode) else str(subject)
        }
        for p, objects in preds.items():
            if p == RDF_TYPE and all(isinstance(o, ox.NamedNode) for o in objects):
                types = [_json_iri(o.value) for o in objects]
                node["@type"] = types[0] if len(types) == 1 else types
                continue
            values = [_json_object(o) for o in objects]
            node[_json_iri(p)] = values[0] if len(values) == 1 else values
        nodes.append(node)
    document = {"@context": CONTEXT_FILE, "@graph": nodes}
    dump = lambda data: (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")  # noqa: E731
    return dump(document), dump(jsonld_context())


# --------------------------------------------------------------------------------------------
# RDF/XML
# --------------------------------------------------------------------------------------------

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    if _XML_INVALID.search(text):
        raise EmdkgError(f"a literal holds a character XML 1.0 cannot carry: {text[:60]!r}")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _xml_attr(text: str) -> str:
    return _xml_text(text).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


def _split_qname(iri: str) -> tuple[str, str] | None:
    """(namespace, local) with ``local`` the longest NCName ending the IRI, or None.

    >>> _split_qname("http://purl.obolibrary.org/obo/IAO_0000115")
    ('http://purl.obolibrary.org/obo/', 'IAO_0000115')
    >>> _split_qname("http://e.org/123") is None
    True
    """
    match = re.search(r"[A-Za-z_][A-Za-z0-9_.\-]*$", iri)
    if match is None or match.start() == 0:
        return None
    return iri[: match.start()], match.group()


def rdfxml(graph: ReleaseGraph) -> bytes:
    """OWL as RDF/XML: one node element per subject (typed by its first type), sorted.

    Blank nodes are ``rdf:nodeID`` references with their canonical labels; lists are plain
    ``rdf:first``/``rdf:rest`` triples, which every RDF/XML reader takes.
    """
    namespaces: dict[str, str] = {ns: p for p, ns in PREFIXES.items()}
    # Properties and types need an XML name; IRIs outside the published namespaces get ns1...
    named = {t.predicate.value for t in graph.triples}
    named |= {t.object.value for t in graph.triples if t.predicate.value == RDF_TYPE and isinstance(t.object, ox.NamedNode)}
    splits = (_split_qname(iri) for iri in named if compact(iri, _NCNAME) is None)
    extra = sorted({split[0] for split in splits if split is not None and split[0] not in namespaces})
    for i, ns in enumerate(extra, 1):
        namespaces[ns] = f"ns{i}"

    longest_first = sorted(namespaces, key=len, reverse=True)

    def qname(iri: str) -> str | None:
        for ns in longest_first:
            if iri.startswith(ns) and _NCNAME.fullmatch(iri[len(ns) :]):
                return f"{namespaces[ns]}:{iri[len(ns):]}"
        return None

    used: set[str] = {"rdf"}
    body: list[str] = []
    ontology = graph.ontology()
    subjects = sorted(graph.by_subject, key=lambda s: (s != ontology, isinstance(s, ox.BlankNode), str(s)))
    for subject in subjects:
        preds = graph.by_subject[subject]
        if isinstance(subject, ox.NamedNode):
            about = f'rdf:about="{_xml_attr(subject.value)}"'
        else:
            about = f'rdf:nodeID="{subject.value}"'
        element, skip_type = "rdf:Description", None
        for t in preds.get(RDF_TYPE, ()):
            if isinstance(t, ox.NamedNode) and (name := qname(t.value)) is not None:
                element, skip_type = name, t
                break
        lines = []
        for p in sorted(preds, key=lambda p: (p != RDF_TYPE, p)):
            name = qname(p)
            if name is None:
                raise EmdkgError(f"RDF/XML cannot name the property <{p}> (no XML local name)")
            for o in preds[p]:
                if p == RDF_TYPE and o == skip_type:
                    continue
                used.add(name.split(":")[0])
                if isinstance(o, ox.NamedNode):
                    lines.append(f'    <{name} rdf:resource="{_xml_attr(o.value)}"/>')
                elif isinstance(o, ox.BlankNode):
                    lines.append(f'    <{name} rdf:nodeID="{o.value}"/>')
                elif o.language:
                    lines.append(f'    <{name} xml:lang="{o.language}">{_xml_text(o.value)}</{name}>')
                elif o.datatype.value == XSD_STRING:
                    lines.append(f"    <{name}>{_xml_text(o.value)}</{name}>")
                else:
                    lines.append(
                        f'    <{name} rdf:datatype="{_xml_attr(o.datatype.value)}">{_xml_text(o.value)}</{name}>'
                    )
        used.add(element.split(":")[0])
        if lines:
            body.append(f"  <{element} {about}>\n" + "\n".join(lines) + f"\n  </{element}>\n")
        else:
            body.append(f"  <{element} {about}/>\n")
    declared = sorted((p, ns) for ns, p in namespaces.items() if p in used)
    head = '<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF'
    head += "".join(f'\n    xmlns:{p}="{_xml_attr(ns)}"' for p, ns in declared) + ">\n"
    return (head + "".join(body) + "</rdf:RDF>\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# SSSOM
# --------------------------------------------------------------------------------------------

MAPPING_PREDICATES = tuple(
    SKOS + name for name in ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")
)
_SSSOM_PREFIXES = {
    "emdkg": PREFIXES["emdkg"],
    "kb": PREFIXES["kb"],
    "skos": SKOS,
    "semapv": "https://w3id.org/semapv/vocab/",
    "drugbank": "https://go.drugbank.com/drugs/",
    "mesh": PREFIXES["mesh"],
}
_OBO_ID = re.compile(r"http://purl\.obolibrary\.org/obo/([A-Za-z][A-Za-z0-9]*)_([A-Za-z0-9_]+)")
SSSOM_COLUMNS = (
    "subject_id",
    "subject_label",
    "predicate_id",
    "object_id",
    "mapping_justification",
)


class _Curies:
    """CURIEs for SSSOM: OBO PURLs as ``MONDO:0009693``, known namespaces, else a new prefix."""

    def __init__(self, iris: Iterable[str]) -> None:
        self.map: dict[str, str] = {}
        unknown = set()
        for iri in iris:
            if not _OBO_ID.fullmatch(iri) and not any(
                iri.startswith(ns) and iri != ns for ns in _SSSOM_PREFIXES.values()
            ):
                unknown.add(iri.rsplit("#", 1)[0] + "#" if "#" in iri else iri.rsplit("/", 1)[0] + "/")
        self._extra = {ns: f"ns{i}" for i, ns in enumerate(sorted(unknown), 1)}

    def __call__(self, iri: str) -> str:
        match = _OBO_ID.fullmatch(iri)
        if match:
            prefix = match.group(1)
            self.map[prefix] = f"http://purl.obolibrary.org/obo/{prefix}_"
            return f"{prefix}:{match.group(2)}"
        candidates = [(p, ns) for p, ns in _SSSOM_PREFIXES.items() if iri.startswith(ns) and iri != ns]
        candidates += [(p, ns) for ns, p in self._extra.items() if iri.startswith(ns)]
        prefix, namespace = max(candidates, key=lambda c: len(c[1]))
        self.map[prefix] = namespace
        return f"{prefix}:{iri[len(namespace):]}"


def _english_label(graph: ReleaseGraph, subject: Any) -> str:
    labels = [o for o in graph.objects(subject, RDFS + "label") if isinstance(o, ox.Literal)]
    for wanted in ("en", ""):
        chosen = [o.value for o in labels if (o.language or "").split("-")[0] == wanted]
        if chosen:
            return " ".join(min(chosen).split())
    return " ".join(min(o.value for o in labels).split()) if labels else ""


def _yaml_scalar(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_./:\-]+", text) else json.dumps(text, ensure_ascii=False)


def sssom(graph: ReleaseGraph) -> bytes:
    """The ``skos:*Match`` mappings between IRIs as an SSSOM TSV, rows sorted.

    Every row is ``semapv:ManualMappingCuration``: curators took each mapping from a verified
    reference (see ontology/README.md). The metadata block names the set, its version and
    licence, and every prefix the rows use.
    """
    mappings = sorted(
        (t.subject.value, t.predicate.value, t.object.value)
        for t in graph.triples
        if t.predicate.value in MAPPING_PREDICATES
        and isinstance(t.subject, ox.NamedNode)
        and isinstance(t.object, ox.NamedNode)
    )
    curie = _Curies(iri for s, _, o in mappings for iri in (s, o))
    rows = sorted(
        (
            curie(s),
            _english_label(graph, ox.NamedNode(s)),
            curie(p),
            curie(o),
            curie("https://w3id.org/semapv/vocab/ManualMappingCuration"),
        )
        for s, p, o in mappings
    )
    version = graph.ontology_value(OWL + "versionInfo")
    version_iri = graph.version_iri()
    license_value = graph.ontology_value(DCTERMS + "license")
    title = graph.ontology_value(DCTERMS + "title")
    base = version_iri.rsplit("/", 1)[0] + "/" if version_iri else PREFIXES["emdkg"]
    meta = [
        "curie_map:",
        *(f"  {p}: {_yaml_scalar(ns)}" for p, ns in sorted(curie.map.items())),
        f"mapping_set_id: {base}emdkg.sssom.tsv",
    ]
    if version is not None:
        meta.append(f"mapping_set_version: {_yaml_scalar(version.value)}")
    if title is not None:
        meta.append(f"mapping_set_title: {_yaml_scalar(title.value + ': mappings')}")
    meta.append(f"license: {license_value.value if isinstance(license_value, ox.NamedNode) else _DEFAULT_LICENSE}")
    lines = ["# " + m for m in meta]
    lines.append("\t".join(SSSOM_COLUMNS))
    lines.extend("\t".join(row) for row in rows)
    return ("\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

Writer = Callable[[ReleaseGraph], dict[str, bytes]]

#: ``--format`` value -> a function returning {file name: bytes}.
WRITERS: dict[str, Writer] = {
    "ttl": lambda g: {"emdkg.ttl": turtle(g)},
    "nt": lambda g: {"emdkg.nt": ntriples(g)},
    "jsonld": lambda g: dict(zip(FILES["jsonld"], jsonld(g))),
    "owl": lambda g: {"emdkg.owl": rdfxml(g)},
    "sssom": lambda g: {"emdkg.sssom.tsv": sssom(g)},
}


def render(graph: ReleaseGraph, formats: Iterable[str]) -> dict[str, bytes]:
    """The release files' contents, in memory: {file name: bytes}, in ``FILES`` order."""
    wanted = set(formats)
    if "all" in wanted:
        wanted = set(FILES)
    unknown = wanted - set(FILES)
    if unknown:
        raise EmdkgError(f"unknown export format {sorted(unknown)[0]!r} (one of: {', '.join(EXPORT_FORMATS)})")
    contents: dict[str, bytes] = {}
    for name in FILES:
        if name in wanted:
            contents.update(WRITERS[name](graph))
    return contents


def _partial_pattern(name: str) -> str:
    return f".{name}.*.partial"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(directory: str | os.PathLike[str], contents: Mapping[str, bytes]) -> list[Path]:
    """Write every file of ``contents`` into ``directory``, each all or nothing.

    Each file goes to a temporary ``.<name>.<random>.partial`` in the same folder, is flushed
    to disk (``fsync``), and only when *all* of them are written are they renamed over the old
    files (``os.replace``, atomic on POSIX), then the folder itself is synced. On any error the
    temporary files are removed and the old files are untouched. Leftover partial files of a
    killed earlier run are removed first.
    """
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output folder: {e.strerror or e}", path=folder) from None
    if not folder.is_dir():
        raise InputError("is not a folder", path=folder)
    for name in contents:
        for stale in folder.glob(_partial_pattern(name)):
            stale.unlink(missing_ok=True)
    mode = 0o666 & ~_umask()
    temporary: dict[str, str] = {}
    try:
        for name, data in contents.items():
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
            temporary[name] = tmp
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), mode)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for name, tmp in temporary.items():
            os.replace(tmp, folder / name)
    except OSError as e:
        raise InputError(f"cannot write the release: {e.strerror or e}", path=folder) from None
    finally:
        for tmp in temporary.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
    _fsync_dir(folder)
    return [folder / name for name in contents]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the renames are still atomic
    finally:
        os.close(fd)


def _inferred(store: OxigraphStore) -> bytes:
    try:
        from emdkg.reason import materialise_inferences
    except ImportError:
        raise EmdkgError("reasoning not available in this build (emdkg.reason is missing)") from None
    return inferred_ntriples(materialise_inferences(store))


@dataclass
class ExportResult:
    """What :func:`export` wrote: the paths, and the number of triples of the release."""

    paths: list[Path]
    triples: int
    inferred: int | None = None


def export(
    output: str | os.PathLike[str],
    formats: Iterable[str] = ("all",),
    *,
    data: Sequence[str | os.PathLike[str]] = (),
    inferred: bool = False,
) -> ExportResult:
    """Write the release files into ``output`` (see the module documentation)."""
    store = load_release(data)
    graph = ReleaseGraph.from_quads(store.native)
    contents = render(graph, formats)
    inferred_count = None
    if inferred:
        contents[INFERRED_FILE] = _inferred(store)
        inferred_count = contents[INFERRED_FILE].count(b"\n")
    paths = write_atomically(output, contents)
    return ExportResult(paths, len(graph), inferred_count)


# --------------------------------------------------------------------------------------------
# Loading into a triple store (SPARQL 1.1 Graph Store HTTP Protocol)
# --------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What :func:`load` did."""

    graph: str
    triples: int  # in the graph now, counted over the SPARQL protocol
    previous: int  # in the graph before (0: it did not exist or was empty)
    swap: str  # "MOVE" (SPARQL Update) or "PUT" (Graph Store Protocol)
    seconds: float


class _Server:
    """The three endpoints of one server, through one HTTP client."""

    def __init__(self, client: Any, store: str, endpoint: str, update: str | None, timeout: float) -> None:
        self.client = client
        self.store = store
        self.endpoint = endpoint
        self.update_url = update
        self.timeout = timeout

    def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        from emdkg.remote_store import remote_errors

        with remote_errors(url, self.timeout):
            return self.client.request(method, url, **kwargs)

    def put(self, graph: str, data: bytes, media: str = "application/n-triples") -> None:
        from emdkg.remote_store import check_response

        response = self._send("PUT", self.store, params={"graph": graph}, content=data, headers={"Content-Type": media})
        if response.status_code == 415 and media == "application/n-triples":
            # N-Triples is Turtle too; for servers that do not know the N-Triples media type.
            return self.put(graph, data, "text/turtle")
        check_response(response, f"PUT {self.store}?graph={graph}")

    def get(self, graph: str) -> tuple[bytes, str] | None:
        """The graph's content and media type, or None when the server has no such graph."""
        from emdkg.remote_store import check_response

        response = self._send("GET", self.store, params={"graph": graph},
            headers={"Accept": "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"},
        )
        if response.status_code == 404:
            return None
        check_response(response, f"GET {self.store}?graph={graph}")
        media = response.headers.get("content-type", "text/turtle").split(";")[0].strip()
        if media in ("text/plain", ""):
            media = "application/n-triples"
        return response.content, media

    def delete(self, graph: str) -> None:
        from emdkg.remote_store import check_response

        response = self._send("DELETE", self.store, params={"graph": graph})
        if response.status_code != 404:  # already gone is fine
            check_response(response, f"DELETE {self.store}?graph={graph}")

    def count(self, graph: str) -> int:
        from emdkg.remote_store import check_response

        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        response = self._send("POST", self.endpoint, data={"query": query},
            headers={"Accept": "application/sparql-results+json"},
        )
        check_response(response, f"count query at {self.endpoint}")
        try:
            value = json.loads(response.content)["results"]["bindings"][0]["n"]["value"]
            return int(value)
        except (ValueError, KeyError, IndexError, TypeError):
            from emdkg.errors import RemoteError

            raise RemoteError(f"{self.endpoint}: unreadable answer to the count query") from None

    def move(self, source: str, target: str) -> None:
        from emdkg.remote_store import check_response

        assert self.update_url is not None
        response = self._send("POST", self.update_url, data={"update": f"MOVE GRAPH <{source}> TO GRAPH <{target}>"})
        check_response(response, f"MOVE at {self.update_url}")


def load(
    store: str,
    endpoint: str,
    *,
    graph: str | None = None,
    data: Sequence[str | os.PathLike[str]] = (),
    update: str | None = None,
    user: str | None = None,
    password: str | None = None,
    auth: str = "auto",
    timeout: float = 60.0,
    release: ReleaseGraph | None = None,
) -> LoadResult:
    """Replace a named graph of a Graph Store Protocol server with the release, all or nothing.

    1. The release (canonical N-Triples) goes into a fresh staging graph
       ``<graph>/staging-<uuid>`` (``PUT``), whose triple count is then checked over the SPARQL
       protocol at ``endpoint``: it must equal the number of triples sent.
    2. The staging graph becomes the target: by SPARQL Update ``MOVE`` at ``update`` when an
       update endpoint is given, else by ``PUT`` of the target graph and deletion of the
       staging graph. The target's count is checked again.
    3. On any failure the staging graph is deleted and the target graph is put back as it was
       (it was read with ``GET`` before the swap); the error says what happened.

    ``graph`` defaults to the ontology's owl:versionIRI. Counting triples (not comparing them)
    is what survives servers relabelling blank nodes.
    """
    import time
    import uuid

    from emdkg.errors import RemoteError
    from emdkg.remote_store import http_client
    from emdkg.values import IRI, term_spec

    from emdkg.remote_store import check_url

    started = time.perf_counter()
    for url, option in ((store, "--store"), (endpoint, "--endpoint"), (update, "--update")):
        if url is not None:
            check_url(url, option)  # before anything is read or sent
    release = release if release is not None else release_graph(data)
    target = graph or release.version_iri()
    if target is None:
        raise EmdkgError("the release has no owl:versionIRI to name the graph: give --graph IRI")
    term_spec(IRI(target))  # a valid absolute IRI, or a QueryError
    payload = ntriples(release)
    expected = len(release)
    staging = f"{target.rstrip('/')}/staging-{uuid.uuid4()}"

    with http_client(timeout, user=user, password=password, auth=auth) as client:
        server = _Server(client, store, endpoint, update, timeout)
        state = {"previous": 0, "backup": None, "staging": False, "target": False}
        try:
            state["previous"] = previous = server.count(target)
            state["backup"] = server.get(target) if previous else None
            state["staging"] = True
            server.put(staging, payload)
            staged = server.count(staging)
            if staged != expected:
                raise RemoteError(
                    f"partial load: the staging graph holds {staged} of the {expected} triples sent"
                )
            state["target"] = True
            if update:
                server.move(staging, target)
                swap = "MOVE"
            else:
                server.put(target, payload)
                swap = "PUT"
            final = server.count(target)
            if final != expected:
                raise RemoteError(f"after the swap, <{target}> holds {final} triples, not {expected}")
            server.delete(staging)
        except EmdkgError as failure:
            notes = _roll_back(server, staging, target, **state)
            raise RemoteError(f"load failed: {failure.message}; {notes}") from None
    return LoadResult(target, final, previous, swap, time.perf_counter() - started)


def _roll_back(
    server: _Server, staging_iri: str, target_iri: str, *,
    previous: int, backup: tuple[bytes, str] | None, staging: bool, target: bool,
) -> str:
    """Delete the staging graph (if it was begun) and put the target back (if it was touched)."""
    notes = []
    if staging:
        try:
            server.delete(staging_iri)
        except EmdkgError as e:
            notes.append(f"the staging graph <{staging_iri}> could not be deleted ({e.message})")
    if not target:
        return "; ".join([f"<{target_iri}> was not changed", *notes])
    try:
        if backup is None:
            server.delete(target_iri)
        else:
            server.put(target_iri, *backup)
        now = server.count(target_iri)
        if now != previous:
            raise EmdkgError(f"it holds {now} triples, not the previous {previous}")
        notes.insert(0, f"the previous copy of <{target_iri}> is back in place ({previous} triples)")
    except EmdkgError as e:
        notes.insert(0, f"the previous copy of <{target_iri}> could NOT be restored: {e.message}")
    return "; ".join(notes)
