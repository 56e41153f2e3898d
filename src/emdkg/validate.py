"""Check the knowledge graph against the SHACL shapes (``shapes/emdkg.shacl.ttl``).

:func:`validate` loads the files, builds the data graph, runs pyshacl and returns a
:class:`ValidationReport` whose :class:`Violation` rows say, for each problem, which node, which
property, which value, what to fix (the shape's ``sh:message``), and which shape and SHACL
constraint component found it.

**The data graph** is the files being validated (by default the knowledge base,
``ontology/kb/*.ttl``) plus a *slice* of the bundled ontology (``ontology/emdkg.ttl`` and
``ontology/imports/*.ttl``): only the triples the shapes read — ``rdf:type``,
``rdfs:subClassOf``, ``rdfs:label``, the disjointness axioms with their RDF lists, and the
``emdkg:bindsTarget`` / ``emdkg:hasComponent`` facts of the therapy individuals — never the
definitions, synonyms and cross-references. The shapes need the class hierarchy in the data
graph: ``sh:targetClass emdkg:Statement`` reaches the finding subclasses through
``rdfs:subClassOf``, and disease/site/phase values, which are OWL classes used as values
(punning), are checked by walking ``rdfs:subClassOf+`` up to ``emdkg:Disease`` & co.
The ontology always comes from the bundled copy, so a single new file can be validated on its
own; files that refer to each other's individuals must be validated together.

Only ``sh:Violation`` results make a report non-conforming; warnings are reported alongside.

pyshacl and rdflib are imported inside :func:`validate` (they cost ~0.3 s to import).

>>> import pathlib, tempfile
>>> ttl = '''
... @prefix emdkg: <https://w3id.org/emdkg/> .
... @prefix kb: <https://w3id.org/emdkg/kb/> .
... @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
... kb:f1 a emdkg:SiteInvolvementFinding ;
...     rdfs:label "skin is involved"@en ;
...     emdkg:disease emdkg:Skin ; emdkg:site emdkg:Skin .
... '''
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d, "draft.ttl")
...     _ = path.write_text(ttl)
...     report = validate([path])
>>> report.conforms
False
>>> v = next(v for v in report.violations if v.path == "emdkg:disease")
>>> v.focus, v.focus_label, v.value, v.source_shape, v.component
('https://w3id.org/emdkg/kb/f1', 'skin is involved', 'emdkg:Skin', 'esh:disease-kind', 'sh:NodeConstraintComponent')
>>> v.message[:62]
'The value of emdkg:disease must be a disease class of the onto'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emdkg.errors import EmdkgError

if TYPE_CHECKING:
    from rdflib import Graph
    from rdflib.term import Node

__all__ = [
    "Violation",
    "ValidationReport",
    "validate",
    "check_data",
    "build_data_graph",
    "default_paths",
    "ontology_context_files",
    "curie",
    "JSON_KEYS",
    "PREFIXES",
    "SEVERITIES",
]

#: Prefixes used to shorten IRIs in reports (longest namespace wins: ``kb:`` before ``emdkg:``).
PREFIXES: dict[str, str] = {
    "kb": "https://w3id.org/emdkg/kb/",
    "emdkg": "https://w3id.org/emdkg/",
    "esh": "https://w3id.org/emdkg/shapes#",
    "obo": "http://purl.obolibrary.org/obo/",
    "mesh": "http://id.nlm.nih.gov/mesh/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "sh": "http://www.w3.org/ns/shacl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "bibo": "http://purl.org/ontology/bibo/",
    "cito": "http://purl.org/spar/cito/",
    "oboInOwl": "http://www.geneontology.org/formats/oboInOwl#",
}

#: Severities, most serious first (the sort order of reports).
SEVERITIES = ("Violation", "Warning", "Info")

_SH = "http://www.w3.org/ns/shacl#"
_RDF = PREFIXES["rdf"]
_RDFS = PREFIXES["rdfs"]

# The ontology triples the shapes read (see the module docstring and the shapes file header).
_CONTEXT_QUERY = """
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX emdkg: <https://w3id.org/emdkg/>
CONSTRUCT { ?s ?p ?o } WHERE {
  VALUES ?p { rdf:type rdfs:subClassOf rdfs:label owl:disjointWith owl:members rdf:first rdf:rest
              emdkg:bindsTarget emdkg:hasComponent }
  ?s ?p ?o
}
"""


@dataclass(frozen=True)
class Violation:
    """One validation result, in words a curator can act on.

    ``severity`` is ``"Violation"``, ``"Warning"`` or ``"Info"``. ``focus`` is the full IRI of
    the node at fault (``_:id`` for a blank node) and ``focus_label`` its English label, else
    its CURIE. ``path`` is the property (a CURIE, or a SPARQL property path) or ``None`` when
    the problem is with the node as a whole. ``value`` is the offending value (a CURIE, or the
    literal in Turtle syntax such as ``"120.0"^^xsd:decimal``) or ``None``. ``source_shape``
    and ``component`` name the shape and the SHACL constraint component that found it
    (``esh:percent-order``, ``sh:LessThanOrEqualsConstraintComponent``).
    """

    severity: str
    focus: str
    focus_label: str
    path: str | None
    value: str | None
    message: str
    source_shape: str
    component: str

    def as_row(self) -> dict[str, str | None]:
        """The row ``emdkg validate --format json`` prints (``shape`` for ``source_shape``)."""
        row: dict[str, str | None] = asdict(self)
        row["shape"] = row.pop("source_shape")
        return {key: row[key] for key in JSON_KEYS}

    def _sort_key(self) -> tuple[Any, ...]:
        rank = SEVERITIES.index(self.severity) if self.severity in SEVERITIES else len(SEVERITIES)
        return (rank, self.focus, self.path or "", self.source_shape, self.component,
                self.value or "", self.message)


#: The keys of a row of ``emdkg validate --format json``, in order.
JSON_KEYS = ("severity", "focus", "focus_label", "path", "value", "message", "shape", "component")


@dataclass
class ValidationReport:
    """The outcome of :func:`validate`: ``conforms`` is true when no result is a ``Violation``.

    ``violations`` holds every result (warnings too), sorted by severity, focus node, path,
    shape, component and value. ``files`` are the files validated and ``triples`` the size of
    the data graph (with the ontology slice).
    """

    conforms: bool
    violations: list[Violation] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    triples: int = 0

    @property
    def errors(self) -> list[Violation]:
        """The results of severity ``Violation``."""
        return [v for v in self.violations if v.severity == "Violation"]

    @property
    def warnings(self) -> list[Violation]:
        """The results of severity ``Warning`` or ``Info``."""
        return [v for v in self.violations if v.severity != "Violation"]

    def summary(self) -> str:
        """One line: ``"conforms (2 warnings)"`` or ``"does not conform: 3 violations, 1 warning"``.

        >>> ValidationReport(True).summary()
        'conforms'
        """
        errors, warnings = len(self.errors), len(self.warnings)
        extra = _plural(warnings, "warning")
        if self.conforms:
            return "conforms" + (f" ({extra})" if warnings else "")
        return f"does not conform: {_plural(errors, 'violation')}" + (f", {extra}" if warnings else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def default_paths() -> list[Path]:
    """The files validated when none are given: the knowledge base, ``ontology/kb/*.ttl``."""
    from emdkg.resources import ontology_dir

    return sorted(p for p in (ontology_dir() / "kb").glob("*.ttl") if p.is_file())


def ontology_context_files() -> list[Path]:
    """The bundled ontology files whose slice joins every data graph (emdkg.ttl, imports)."""
    from emdkg.resources import ontology_dir

    base = ontology_dir()
    files = [base / "emdkg.ttl"] if (base / "emdkg.ttl").is_file() else []
    return files + sorted(p for p in (base / "imports").glob("*.ttl") if p.is_file())


def _stamp(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    stamps = []
    for path in paths:
        stat = path.stat()
        stamps.append((str(path.resolve()), stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def _parse_ntriples(data: bytes) -> tuple[tuple[Node, Node, Node], ...]:
    import logging

    from rdflib import Graph

    # rdflib logs a traceback at WARNING for every ill-typed literal ("abc"^^xsd:decimal);
    # sh:datatype reports those to the curator in one line instead.
    logging.getLogger("rdflib.term").setLevel(logging.ERROR)
    graph = Graph()
    if data:
        graph.parse(data=data, format="nt")
    return tuple(graph)


@cache
def _context_triples(stamp: tuple[tuple[str, int, int], ...]) -> tuple[tuple[Node, Node, Node], ...]:
    # The ontology slice, cached per version of the ontology files: it is the same for every
    # validation run, and rdflib parses N-Triples at only ~20k triples/s.
    import pyoxigraph as ox

    from emdkg.store import load_files

    store = load_files([Path(path) for path, _, _ in stamp])
    triples = store.native.query(_CONTEXT_QUERY)  # type: ignore[attr-defined]
    return _parse_ntriples(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"")


@cache
def _shapes_triples(stamp: tuple[tuple[str, int, int], ...]) -> tuple[tuple[Node, Node, Node], ...]:
    from emdkg.store import load_files

    (path, _, _), = stamp
    return _parse_ntriples(load_files([Path(path)]).serialize("ntriples"))


def _graph(*parts: Iterable[tuple[Node, Node, Node]]) -> Graph:
    from rdflib import Graph

    graph = Graph()
    for triples in parts:
        graph.addN((s, p, o, graph) for s, p, o in triples)
    return graph


def build_data_graph(paths: Sequence[str | os.PathLike[str]]) -> Graph:
    """The rdflib graph :func:`validate` checks: ``paths`` in full plus the ontology slice.

    Files are parsed by :func:`emdkg.store.load_files` (all or nothing; an unreadable or
    malformed file raises :class:`~emdkg.errors.InputError` naming the file and line), then
    handed to rdflib as N-Triples, which rdflib parses several times faster than Turtle.
    """
    from emdkg.store import load_files

    store = load_files(paths)  # first, so that an error in the user's files is reported first
    data = _parse_ntriples(store.serialize("ntriples"))
    context = ontology_context_files()
    return _graph(data, _context_triples(_stamp(context)) if context else ())


def validate(
    paths: Sequence[str | os.PathLike[str]] | None = None,
    *,
    shapes: str | os.PathLike[str] | None = None,
) -> ValidationReport:
    """Validate ``paths`` (default: the bundled knowledge base) against ``shapes``.

    ``shapes`` defaults to the bundled ``shapes/emdkg.shacl.ttl``. Raises
    :class:`~emdkg.errors.InputError` when a file cannot be read or parsed (nothing is
    validated then), and :class:`~emdkg.errors.EmdkgError` when the shapes are not valid SHACL.

    >>> report = validate()  # the bundled knowledge base
    >>> [p.parent.name for p in report.files][:1], report.triples > 0
    (['kb'], True)
    """
    from emdkg.resources import shapes_dir

    files = default_paths() if paths is None else [Path(p) for p in paths]
    shapes_path = Path(shapes) if shapes is not None else shapes_dir() / "emdkg.shacl.ttl"

    data_graph = build_data_graph(files)
    if not shapes_path.is_file():
        from emdkg.store import load_files

        load_files([shapes_path])  # raises the loader's own error: no such file, a directory
    shapes_graph = _graph(_shapes_triples(_stamp([shapes_path])))
    size = len(data_graph)

    import pyshacl
    from pyshacl.errors import ReportableRuntimeError

    try:
        _, results_graph, _ = pyshacl.validate(
            data_graph,
            shacl_graph=shapes_graph,
            inference="none",
            advanced=True,  # for the one sh:SPARQLTarget (see esh:DisjointTypesShape)
            allow_warnings=True,
            allow_infos=True,
            inplace=True,  # the graph is ours: no need for pyshacl to copy it
        )
    except ReportableRuntimeError as e:
        raise EmdkgError(f"{shapes_path}: the shapes are not valid SHACL: {e.message}") from None

    violations = _read_results(results_graph, data_graph)
    conforms = not any(v.severity == "Violation" for v in violations)
    return ValidationReport(conforms=conforms, violations=violations, files=files, triples=size)


def check_data(data: Sequence[str | os.PathLike[str]], *, consequence: str) -> None:
    """Refuse ``data`` files that do not conform, before they go into a release or a server.

    The files are validated together with the bundled knowledge base (so a file that gives a
    bundled individual a second label, or another kind, is caught too). Raises the loader's
    :class:`~emdkg.errors.InputError` for a file that cannot be read (exit 2), and an
    :class:`~emdkg.errors.EmdkgError` with exit code 1 naming the file and the first violation
    when there are violations; ``consequence`` ("nothing was written") ends its hint.
    """
    files = [Path(p) for p in data]
    if not files:
        return
    report = validate([*default_paths(), *files])
    if report.conforms:
        return
    errors = report.errors
    owners = {v: _file_of(v.focus, files) for v in errors}
    first = next((v for v in errors if owners[v] is not None), errors[0])
    where = owners[first] or files[0]
    what = " ".join(part for part in (repr(first.focus_label), first.path, first.value) if part)
    others = f" (and {_plural(len(errors) - 1, 'more violation')})" if len(errors) > 1 else ""
    shown = " ".join(str(f) for f in files)
    raise EmdkgError(
        f"{where}: does not conform to the shapes: {what}: {first.message.rstrip('.')}{others}",
        exit_code=1,
        hint=f"fix it (`emdkg validate --with-bundled {shown}` gives the full report); {consequence}",
    )


def _file_of(focus: str, files: Sequence[Path]) -> Path | None:
    """The first of ``files`` that has ``focus`` (an IRI) as a subject, or None."""
    import pyoxigraph as ox

    from emdkg.store import FORMATS, format_for_path

    for path in files:
        try:
            quads = ox.parse(path=str(path), format=FORMATS[format_for_path(path)][0])
            if any(getattr(q.subject, "value", None) == focus for q in quads):
                return path
        except (SyntaxError, ValueError, OSError, EmdkgError):
            continue
    return None


# --- reading pyshacl's results graph -----------------------------------------------------------


def curie(iri: str, prefixes: Mapping[str, str] = PREFIXES) -> str:
    """``iri`` shortened with the longest matching prefix, else ``<iri>``.

    >>> curie("https://w3id.org/emdkg/kb/blade-2022"), curie("https://example.org/x")
    ('kb:blade-2022', '<https://example.org/x>')
    """
    best = max(
        ((prefix, ns) for prefix, ns in prefixes.items() if iri.startswith(ns)),
        key=lambda item: len(item[1]),
        default=None,
    )
    if best is None:
        return f"<{iri}>"
    local = iri[len(best[1]):]
    if local and all(c.isalnum() or c in "-_." for c in local) and not local.endswith("."):
        return f"{best[0]}:{local}"
    return f"<{iri}>"


# Literals that Turtle writes without quotes, and the lexical forms it accepts for them.
_TURTLE_SHORTHAND = {
    "integer": r"[+-]?[0-9]+",
    "decimal": r"[+-]?[0-9]*\.[0-9]+",
    "double": r"[+-]?([0-9]+\.[0-9]*|\.?[0-9]+)[eE][+-]?[0-9]+",
    "boolean": r"true|false",
}


def _term_text(term: Node) -> str:
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, URIRef):
        return curie(str(term))
    if isinstance(term, BNode):
        return f"_:{term}"
    if isinstance(term, Literal):
        lexical = str(term).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        if term.language:
            return f'"{lexical}"@{term.language}'
        datatype = str(term.datatype) if term.datatype is not None else None
        if datatype is None or datatype == PREFIXES["xsd"] + "string":
            return f'"{lexical}"'
        if datatype == PREFIXES["xsd"] + "decimal" and re.fullmatch(r"[+-]?[0-9]+", lexical):
            lexical += ".0"  # the loader keeps decimals canonical ("120"); Turtle writes 120.0
        shorthand = _TURTLE_SHORTHAND.get(datatype.removeprefix(PREFIXES["xsd"]))
        if datatype.startswith(PREFIXES["xsd"]) and shorthand and re.fullmatch(shorthand, lexical):
            return lexical  # as a curator writes it in Turtle: 4.8, 57, 4.8e0, true
        return f'"{lexical}"^^{curie(str(term.datatype))}'
    return str(term)


def _path_text(graph: Graph, node: Node, depth: int = 0) -> str:
    """A SHACL property path as a SPARQL property path with CURIEs."""
    from rdflib import BNode, URIRef
    from rdflib.collection import Collection

    if isinstance(node, URIRef) or depth > 10:
        return _term_text(node)
    sh = {name: URIRef(_SH + name) for name in
          ("inversePath", "alternativePath", "zeroOrMorePath", "oneOrMorePath", "zeroOrOnePath")}
    for name, suffix in (("zeroOrMorePath", "*"), ("oneOrMorePath", "+"), ("zeroOrOnePath", "?")):
        inner = graph.value(node, sh[name])
        if inner is not None:
            return f"({_path_text(graph, inner, depth + 1)}){suffix}"
    inner = graph.value(node, sh["inversePath"])
    if inner is not None:
        return "^" + _path_text(graph, inner, depth + 1)
    alternatives = graph.value(node, sh["alternativePath"])
    if alternatives is not None:
        return "(" + "|".join(_path_text(graph, m, depth + 1) for m in Collection(graph, alternatives)) + ")"
    if isinstance(node, BNode) and graph.value(node, URIRef(_RDF + "first")) is not None:
        return "/".join(_path_text(graph, m, depth + 1) for m in Collection(graph, node))
    return _term_text(node)


def _label(graph: Graph, node: Node) -> str:
    from rdflib import Literal, URIRef

    labels = [o for o in graph.objects(node, URIRef(_RDFS + "label")) if isinstance(o, Literal)]
    english = sorted(str(o) for o in labels if (o.language or "").lower().split("-")[0] == "en")
    if english:
        return english[0]
    untagged = sorted(str(o) for o in labels if not o.language)
    if untagged:
        return untagged[0]
    return _term_text(node)


def _shape_text(results: Graph, shape: Node) -> str:
    from rdflib import BNode, URIRef

    if isinstance(shape, BNode):  # only in user-supplied shapes; ours are all named
        path = results.value(shape, URIRef(_SH + "path"))
        return f"[{_path_text(results, path)}]" if path is not None else "[anonymous shape]"
    return _term_text(shape)


def _read_results(results: Graph, data: Graph) -> list[Violation]:
    from rdflib import BNode, URIRef

    def sh(name: str) -> URIRef:
        return URIRef(_SH + name)

    found: set[Violation] = set()
    # Only the report's own results: pyshacl also records the results of nested shapes
    # (sh:node, sh:or, …) as sh:detail, which are explanations, not separate problems.
    for result in results.objects(None, sh("result")):
        focus = results.value(result, sh("focusNode"))
        path = results.value(result, sh("resultPath"))
        value = results.value(result, sh("value"))
        severity = results.value(result, sh("resultSeverity"))
        shape = results.value(result, sh("sourceShape"))
        component = results.value(result, sh("sourceConstraintComponent"))
        messages = sorted(str(m) for m in results.objects(result, sh("resultMessage")))
        if path is None and value is not None and value == focus:
            value = None  # a node-level result: the value is the focus node itself
        focus_text = f"_:{focus}" if isinstance(focus, BNode) else str(focus)
        found.add(
            Violation(
                severity=str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation",
                focus=focus_text,
                focus_label=_label(data, focus) if focus is not None else "",
                path=_path_text(results, path) if path is not None else None,
                value=_term_text(value) if value is not None else None,
                message=" ".join(messages[0].split()) if messages else "",
                source_shape=_shape_text(results, shape) if shape is not None else "",
                component=_term_text(component) if component is not None else "",
            )
        )
    return sorted(found, key=Violation._sort_key)
