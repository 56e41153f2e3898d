"""SHACL validation compiled to SPARQL on the embedded store: the same results as pyshacl, fast.

pyshacl walks the focus nodes one by one in Python (and runs a SPARQL query per focus node for
``sh:sparql``); on a million triples that takes minutes. This module compiles every
constraint of the shapes graph into **one SPARQL query over all focus nodes at once** and lets
pyoxigraph evaluate them: whole-graph validation of 1M triples takes a few seconds.

Scope: exactly the SHACL features our shapes use, and a loud :class:`UnsupportedShapeError`
for anything else (a shape that uses ``sh:xone``, ``sh:closed``, ``$PATH`` in a SPARQL
constraint, … must be added here, with a test against pyshacl, before it can be validated fast):

=========================  ================================================================
targets                    ``sh:targetClass`` (instances of subclasses included, through
                           ``rdfs:subClassOf`` in the data graph), ``sh:targetSubjectsOf``,
                           ``sh:targetObjectsOf``, ``sh:targetNode``, ``sh:target`` with a
                           ``sh:SPARQLTarget`` (SHACL-AF, as pyshacl with ``advanced=True``)
paths                      IRIs, sequence lists, ``sh:inversePath``, ``sh:alternativePath``,
                           ``sh:zeroOrMorePath``, ``sh:oneOrMorePath``, ``sh:zeroOrOnePath``
value constraints          ``sh:class``, ``sh:datatype``, ``sh:nodeKind``, ``sh:in``,
                           ``sh:hasValue``, ``sh:pattern`` (+ ``sh:flags``), ``sh:minLength``,
                           ``sh:languageIn``, ``sh:minInclusive``, ``sh:maxInclusive``,
                           ``sh:minExclusive``
cardinality and pairs      ``sh:minCount``, ``sh:maxCount``, ``sh:uniqueLang``,
                           ``sh:lessThanOrEquals``
shape-based and logical    ``sh:property``, ``sh:node``, ``sh:not``, ``sh:and``, ``sh:or``,
                           ``sh:qualifiedValueShape`` with ``sh:qualifiedMinCount`` /
                           ``sh:qualifiedMaxCount``
SPARQL                     ``sh:sparql`` SELECT constraints on node shapes (``$this`` only)
=========================  ================================================================

How a constraint becomes a query: as set algebra over focus nodes, which pyoxigraph evaluates
with hash joins (per-node ``EXISTS`` with a property path costs ~100 µs a node there, a hash
anti-join ~3 µs a row). ``fail(shape, x, D)`` is the group pattern of the members of domain
``D`` that do not conform: ``MINUS`` for "has no value" and "is not an instance of",
``FILTER`` for checks on the term itself, ``UNION`` for a conjunction of constraints, a join
for ``sh:or``; costly checks of values (``sh:class``, ``sh:node``, logical constraints) run
once per *distinct value* of the path (a few dozen diseases, not 60 000 findings). Each
constraint of a *targeted* shape is one SELECT:

* a failure that has a witness (a bad value, a second value, a value above the maximum) is
  found from the witnesses alone, and only those few focus nodes are then checked against the
  target (one ``VALUES`` query, or a set when there are many);
* ``sh:minCount 1`` and friends (failing means *lacking* something) are first proven to hold
  everywhere by counts (|target ∪ subjects of p| = |subjects of p|; ``sh:maxCount 1``: as many
  distinct subjects as triples); the query that lists the offenders runs only when a count
  says there are some;
* a node-level ``sh:or`` runs in steps: the branch with the fewest bad values first, then each
  next branch over the nodes that failed so far, listed in the query;
* ``sh:sparql``: its (SHACL-AF) target is listed first; the query then runs once with the
  focus nodes as ``VALUES ?this`` where pyshacl pre-binds ``$this`` once per focus node.

Queries run on a few threads (pyoxigraph releases the GIL while it evaluates); identical
checks compiled for two shapes run once.

Agreement with pyshacl (tests/test_shacl_fast.py): the same set of (focus node, source shape,
constraint component) on the bundled knowledge base, on every shapes/examples file and on
generated knowledge bases with injected violations; :func:`report_fast` gives the very
:class:`~emdkg.validate.ValidationReport` of :func:`emdkg.validate.validate`, row for row.
Known, documented differences are
confined to literals no curator writes: lexical forms pyoxigraph rejects but rdflib accepts as
numbers (``"1e5"^^xsd:decimal``, ``" 1"^^xsd:integer``) fail ``sh:datatype`` here, and numeric
literals are compared after pyoxigraph's canonicalisation (``"01"^^xsd:integer`` is ``1``).

>>> import pyoxigraph as ox
>>> from emdkg.resources import shapes_dir
>>> store = ox.Store()
>>> validate_fast(store, shapes_dir() / "emdkg.shacl.ttl")
[]
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pyoxigraph as ox

from emdkg.errors import EmdkgError

__all__ = [
    "FastResult",
    "UnsupportedShapeError",
    "CompiledQuery",
    "ShapesProgram",
    "compile_shapes",
    "validate_fast",
    "report_fast",
    "result_key",
    "pyshacl_keys",
    "SLICE_PREDICATES",
    "ontology_slice",
]

SH = "http://www.w3.org/ns/shacl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"

RDF_TYPE = RDF + "type"
RDF_FIRST = RDF + "first"
RDF_REST = RDF + "rest"
RDF_NIL = RDF + "nil"

#: The ontology triples the shapes read (see the header of shapes/emdkg.shacl.ttl).
SLICE_PREDICATES = (
    RDF_TYPE,
    RDFS + "subClassOf",
    RDFS + "label",
    OWL + "disjointWith",
    OWL + "members",
    RDF_FIRST,
    RDF_REST,
    "https://w3id.org/emdkg/bindsTarget",
    "https://w3id.org/emdkg/hasComponent",
)


class UnsupportedShapeError(EmdkgError):
    """The shapes use a SHACL feature the fast engine does not implement."""


class FastResult(NamedTuple):
    """One validation result.

    ``source_shape`` is the shape's IRI; for a blank-node property shape (which has no name that
    survives a re-parse) it is ``"<node shape IRI> <path>"``, the node shape that holds it and its
    path in SPARQL syntax, so results compare across engines. ``path`` is the property path with
    full IRIs (``<iri>``, ``a/b``, ``^p``, ``(p)*``; ``None`` for node-level constraints);
    ``focus`` and ``value`` are pyoxigraph terms (``value`` is the focus node for node-level
    constraints, None for counts).
    """

    focus: Any
    path: str | None
    value: Any
    source_shape: str
    component: str
    severity: str
    message: str


def result_key(result: FastResult) -> tuple[str, str, str]:
    """(focus, source shape, component): what must agree with pyshacl."""
    return (_term_key(result.focus), result.source_shape, result.component)


def _term_key(term: Any) -> str:
    if isinstance(term, ox.NamedNode):
        return term.value
    if isinstance(term, ox.BlankNode):
        return "_:"  # blank node ids differ between engines
    return str(term)


###########################################################################################
# The shapes graph, as a small model
###########################################################################################

_IGNORED = {
    RDF_TYPE,
    SH + "name",
    SH + "description",
    SH + "message",
    SH + "severity",
    SH + "order",
    SH + "group",
    SH + "defaultValue",
    RDFS + "comment",
    RDFS + "label",
    RDFS + "seeAlso",
    SH + "targetClass",
    SH + "targetSubjectsOf",
    SH + "targetObjectsOf",
    SH + "targetNode",
    SH + "target",
    SH + "path",
    SH + "flags",
    SH + "qualifiedMinCount",
    SH + "qualifiedMaxCount",
    SH + "qualifiedValueShapesDisjoint",
    SH + "declare",
    SH + "prefixes",
    SH + "deactivated",
}

#: Constraint parameters this engine implements -> constraint component local name.
_COMPONENTS = {
    "class": "Class",
    "datatype": "Datatype",
    "nodeKind": "NodeKind",
    "in": "In",
    "hasValue": "HasValue",
    "pattern": "Pattern",
    "minLength": "MinLength",
    "languageIn": "LanguageIn",
    "minInclusive": "MinInclusive",
    "maxInclusive": "MaxInclusive",
    "minExclusive": "MinExclusive",
    "minCount": "MinCount",
    "maxCount": "MaxCount",
    "uniqueLang": "UniqueLang",
    "lessThanOrEquals": "LessThanOrEquals",
    "node": "Node",
    "not": "Not",
    "and": "And",
    "or": "Or",
    "qualifiedValueShape": "QualifiedValueShape",
    "property": "Property",
    "sparql": "SPARQL",
}
_VALUE_ONLY = {"class", "datatype", "nodeKind", "in", "pattern", "minLength", "languageIn",
               "minInclusive", "maxInclusive", "minExclusive", "node", "not", "and", "or"}


@dataclass
class _Shape:
    node: Any  # ox.NamedNode | ox.BlankNode
    path: Any | None  # the sh:path object (None for a node shape)
    params: list[tuple[str, Any]]  # (local name, object) of every constraint parameter
    severity: str
    message: str | None
    deactivated: bool
    parent: _Shape | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_property(self) -> bool:
        return self.path is not None


class _ShapesGraph:
    def __init__(self, path: str | os.PathLike[str] | None, data: bytes | None = None) -> None:
        self.store = ox.Store()
        if data is None:
            if path is None:
                raise ValueError("a shapes file or shapes data is needed")
            fmt = ox.RdfFormat.from_extension(Path(path).suffix.lstrip(".")) or ox.RdfFormat.TURTLE
            self.store.load(path=str(path), format=fmt)
        else:
            self.store.load(data, format=ox.RdfFormat.TURTLE)
        self._shapes: dict[Any, _Shape] = {}

    def objects(self, s: Any, p: str) -> list[Any]:
        return [q.object for q in self.store.quads_for_pattern(s, ox.NamedNode(p), None)]

    def one(self, s: Any, p: str) -> Any | None:
        objs = self.objects(s, p)
        if len(objs) > 1:
            raise UnsupportedShapeError(f"{_show(s)} has {len(objs)} values of {_local(p)}; expected one")
        return objs[0] if objs else None

    def subjects(self, p: str, o: Any | None = None) -> list[Any]:
        return [q.subject for q in self.store.quads_for_pattern(None, ox.NamedNode(p), o)]

    def items(self, head: Any) -> list[Any]:
        out, node, seen = [], head, set()
        while not (isinstance(node, ox.NamedNode) and node.value == RDF_NIL):
            if node in seen:
                raise UnsupportedShapeError(f"cyclic RDF list at {_show(head)}")
            seen.add(node)
            first = self.one(node, RDF_FIRST)
            rest = self.one(node, RDF_REST)
            if first is None or rest is None:
                raise UnsupportedShapeError(f"malformed RDF list at {_show(head)}")
            out.append(first)
            node = rest
        return out

    def shape(self, node: Any) -> _Shape:
        if node in self._shapes:
            return self._shapes[node]
        params: list[tuple[str, Any]] = []
        for q in self.store.quads_for_pattern(node, None, None):
            p = q.predicate.value
            if p in _IGNORED:
                continue
            if not p.startswith(SH):
                continue  # annotations in other vocabularies (dcterms:, skos:, ...)
            name = p[len(SH):]
            if name not in _COMPONENTS:
                raise UnsupportedShapeError(
                    f"shape {_show(node)} uses sh:{name}, which the fast engine does not implement"
                )
            params.append((name, q.object))
        params.sort(key=lambda kv: (kv[0], str(kv[1])))
        severity = self.one(node, SH + "severity")
        deactivated = self.one(node, SH + "deactivated")
        shape = _Shape(
            node=node,
            path=self.one(node, SH + "path"),
            params=params,
            severity=severity.value if isinstance(severity, ox.NamedNode) else SH + "Violation",
            message=_pick_message(self.objects(node, SH + "message")),
            deactivated=isinstance(deactivated, ox.Literal) and deactivated.value == "true",
        )
        self._shapes[node] = shape
        return shape

    def prefixes(self, node: Any) -> dict[str, str]:
        """The prefix declarations reachable through ``sh:prefixes`` (``sh:declare``)."""
        out: dict[str, str] = {}
        for source in self.objects(node, SH + "prefixes"):
            for decl in self.objects(source, SH + "declare"):
                prefix = self.one(decl, SH + "prefix")
                namespace = self.one(decl, SH + "namespace")
                if prefix is None or namespace is None:
                    raise UnsupportedShapeError(f"incomplete sh:declare under {_show(source)}")
                out[prefix.value] = namespace.value
        return out


def _pick_message(messages: list[Any]) -> str | None:
    if not messages:
        return None
    for m in messages:
        if isinstance(m, ox.Literal) and (m.language or "").lower().startswith("en"):
            return m.value
    return messages[0].value


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _show(term: Any) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<{term.value}>"
    return str(term)


def _sparql_term(term: Any) -> str:
    if isinstance(term, ox.BlankNode):
        raise UnsupportedShapeError(f"a blank node ({term}) as a constraint value")
    return str(term)  # pyoxigraph prints N-Triples syntax: <iri>, "lex"^^<dt>, "x"@en


###########################################################################################
# Compilation
###########################################################################################


@dataclass(frozen=True)
class CompiledQuery:
    """One SPARQL query that finds the violations of one constraint of one targeted shape.

    When ``target`` is set, the query returns *candidates* (focus nodes that fail the
    constraint, target or not) and the runner keeps those in the target; otherwise the target is
    part of the query. A ``sh:sparql`` constraint (``sparql_body``) is completed by the runner
    with the focus nodes of its target.
    """

    sparql: str
    source_shape: str
    component: str
    severity: str
    message: str
    path: str | None
    value_is_focus: bool = False  # node-level constraints: the value is the focus node
    target: _Target | None = None  # the candidates still need a target-membership check
    sparql_body: tuple[str, str] | None = None  # sh:sparql: (text before, text after) the target
    sparql_message: str | None = None  # sh:sparql: a template with {?var} / {$var}
    precheck: _Precheck | None = None  # a cheap count that proves there is nothing to find
    or_plan: tuple[_OrBranch, ...] | None = None  # see _Runner.run_or


@dataclass(frozen=True)
class _OrBranch:
    """One branch of a top-level sh:or (see :meth:`_Runner.run_or`)."""

    template: str  # its failures among the nodes of _DOMAIN
    free: str | None  # its failures found from witnesses alone, when it has that form
    bad_values: tuple[str, str] | None  # (path, query for the values that fail it), when simple


@dataclass(frozen=True)
class _Precheck:
    """A count that can prove a constraint holds everywhere (see :class:`_Runner`).

    ``subset``: every node bound to ?this by pattern ``a`` is bound by pattern ``b``
    (|a ∪ b| = |b|). ``functional``: the pattern ``a`` (binding ?s and ?o) gives each ?s one ?o.
    """

    kind: str
    a: str
    b: str = ""


@dataclass(frozen=True)
class _Target:
    """The focus nodes of a shape: a group pattern binding ?this, and how to test membership."""

    pattern: str  # a group pattern that binds ?this (possibly with duplicates)
    exists: str | None  # a pattern for FILTER EXISTS with ?this bound (None: materialise)
    key: str


@dataclass
class ShapesProgram:
    """The compiled shapes: :meth:`run` them on any number of stores."""

    queries: list[CompiledQuery]
    prologue: str = ""

    def run(
        self,
        store: Any,
        *,
        workers: int | None = None,
        timings: list[tuple[float, CompiledQuery, int]] | None = None,
    ) -> list[FastResult]:
        """Validate ``store``; ``workers`` threads run the queries (pyoxigraph releases the GIL
        while it evaluates), by default one per CPU, at most 4."""
        import time
        from concurrent.futures import ThreadPoolExecutor

        native = getattr(store, "native", store)
        runner = _Runner(native, self.prologue)

        def one(q: CompiledQuery) -> tuple[float, CompiledQuery, list[FastResult]]:
            start = time.perf_counter()
            found = list(runner.execute(q))
            return time.perf_counter() - start, q, found

        n = workers if workers is not None else min(4, os.cpu_count() or 1)
        # The costly queries first, so that the threads finish together.
        order = sorted(self.queries, key=lambda q: (q.precheck is not None, q.or_plan is None))
        if n <= 1:
            done = [one(q) for q in order]
        else:
            with ThreadPoolExecutor(max_workers=n) as pool:
                done = list(pool.map(one, order))
        results: dict[tuple[Any, ...], FastResult] = {}
        for elapsed, q, found in done:
            if timings is not None:
                timings.append((elapsed, q, len(found)))
            for r in found:
                results.setdefault((r.focus, r.source_shape, r.component, r.value, r.path), r)
        return sorted(results.values(), key=lambda r: (_term_key(r.focus), r.source_shape, r.component, str(r.value)))


_NOTHING = "{ FILTER(false) }"
#: Where the runner puts the domain of the second step of a top-level sh:or (see _or_plan).
_DOMAIN = "{ #DOMAIN# }"
#: At most this many candidates are checked against a target one by one (FILTER EXISTS);
#: beyond it, the target is listed once and kept as a set.
_MEMBERSHIP_CHECKS = 400
#: A sh:sparql constraint is run with its focus nodes inlined (VALUES) up to this many.
_INLINE_FOCUS = 50_000
_MAX_QUERY = 400_000


class _Compiler:
    """Shapes -> SPARQL, as set algebra over focus nodes.

    ``fail(shape, x, D)`` is a group pattern whose solutions bind ``x`` to the members of the
    domain ``D`` (a group pattern binding ``x``) that do not conform to ``shape``: MINUS for
    "has no …" and "is not an instance of …" (a hash anti-join in pyoxigraph), FILTER for
    checks on the term itself, UNION for a conjunction of constraints, and a chain of domains
    for ``sh:or`` (the nodes failing every branch). Costly per-value checks (class, node,
    logical constraints) run once over the *distinct values* of a path.
    """

    def __init__(self, sg: _ShapesGraph) -> None:
        self.sg = sg
        self.counter = itertools.count()
        self.in_progress: set[Any] = set()
        self.prefixes: dict[str, str] = {}

    def var(self, stem: str = "v") -> str:
        return f"?_{stem}{next(self.counter)}"

    # -- paths ----------------------------------------------------------------------------

    def path(self, node: Any) -> str:
        if isinstance(node, ox.NamedNode):
            return f"<{node.value}>"
        if isinstance(node, ox.BlankNode):
            if self.sg.objects(node, RDF_FIRST):
                return "(" + "/".join(self.path(p) for p in self.sg.items(node)) + ")"
            for key, fmt in (
                ("inversePath", "^({})"),
                ("zeroOrMorePath", "({})*"),
                ("oneOrMorePath", "({})+"),
                ("zeroOrOnePath", "({})?"),
            ):
                inner = self.sg.one(node, SH + key)
                if inner is not None:
                    return fmt.format(self.path(inner))
            alt = self.sg.one(node, SH + "alternativePath")
            if alt is not None:
                return "(" + "|".join(self.path(p) for p in self.sg.items(alt)) + ")"
        raise UnsupportedShapeError(f"unsupported sh:path {_show(node)}")

    def display_path(self, node: Any) -> str:
        """A path as people read it (and as emdkg.validate prints it): ``<p>``, ``a/b``,
        ``^p``, ``(a|b)``, ``(p)*``."""
        if isinstance(node, ox.NamedNode):
            return f"<{node.value}>"
        if self.sg.objects(node, RDF_FIRST):
            return "/".join(self.display_path(p) for p in self.sg.items(node))
        for key, suffix in (("zeroOrMorePath", "*"), ("oneOrMorePath", "+"), ("zeroOrOnePath", "?")):
            inner = self.sg.one(node, SH + key)
            if inner is not None:
                return f"({self.display_path(inner)}){suffix}"
        inner = self.sg.one(node, SH + "inversePath")
        if inner is not None:
            return "^" + self.display_path(inner)
        alt = self.sg.one(node, SH + "alternativePath")
        if alt is not None:
            return "(" + "|".join(self.display_path(p) for p in self.sg.items(alt)) + ")"
        raise UnsupportedShapeError(f"unsupported sh:path {_show(node)}")

    # -- targets --------------------------------------------------------------------------

    def target(self, shape: _Shape) -> tuple[_Target, set[str]] | None:
        """The target of a shape, and the predicates it is the subjects of (when that is all)."""
        node = shape.node
        branches: list[str] = []  # each binds ?this
        exists: list[str] = []  # each tests a bound ?this
        keys: list[str] = []
        subjects_of: set[str] = set()
        only_subjects = True
        for kind in ("targetClass", "targetSubjectsOf", "targetObjectsOf", "targetNode", "target"):
            keys.extend(f"{kind} {o}" for o in self.sg.objects(node, SH + kind))
        for c in self.sg.objects(node, SH + "targetClass"):
            t = self.var("t")
            branches.append(f"{t} <{RDFS}subClassOf>* {_sparql_term(c)} . ?this <{RDF_TYPE}> {t} .")
            exists.append(f"?this <{RDF_TYPE}>/<{RDFS}subClassOf>* {_sparql_term(c)} .")
            only_subjects = False
        for p in self.sg.objects(node, SH + "targetSubjectsOf"):
            o = self.var("o")
            branches.append(f"?this {_sparql_term(p)} {o} .")
            exists.append(f"?this {_sparql_term(p)} {self.var('o')} .")
            if isinstance(p, ox.NamedNode):
                subjects_of.add(f"<{p.value}>")
        for p in self.sg.objects(node, SH + "targetObjectsOf"):
            branches.append(f"{self.var('s')} {_sparql_term(p)} ?this .")
            exists.append(f"{self.var('s')} {_sparql_term(p)} ?this .")
            only_subjects = False
        nodes = self.sg.objects(node, SH + "targetNode")
        if nodes:
            values = " ".join(_sparql_term(n) for n in nodes)
            branches.append(f"VALUES ?this {{ {values} }}")
            only_subjects = False
        sparql_target = False
        for t in self.sg.objects(node, SH + "target"):
            types = {x.value for x in self.sg.objects(t, RDF_TYPE) if isinstance(x, ox.NamedNode)}
            select = self.sg.one(t, SH + "select")
            if select is None or (types and SH + "SPARQLTarget" not in types):
                raise UnsupportedShapeError(f"shape {_show(node)}: only sh:SPARQLTarget targets (with sh:select) are supported")
            self.prefixes.update(self.sg.prefixes(t))
            body = select.value
            if re.search(r"\bPREFIX\b|\bBASE\b", body, re.IGNORECASE):
                raise UnsupportedShapeError(f"shape {_show(node)}: PREFIX inside a SPARQL target (use sh:prefixes)")
            if "$this" in body:
                body = body.replace("$this", "?this")
            branches.append(f"{{ {body} }}")
            keys[keys.index(f"target {t}")] = f"target {body}"  # blank node ids are per parse
            sparql_target = True
            only_subjects = False
        if not branches:
            return None
        if nodes:
            exists = []  # VALUES in EXISTS: simpler to list the target once
        pattern = branches[0] if len(branches) == 1 else " UNION ".join(f"{{ {b} }}" for b in branches)
        pattern = f"{{ SELECT ?this WHERE {{ {pattern} }} }}"
        test = None
        if not sparql_target and exists:
            test = " UNION ".join(f"{{ {e} }}" for e in exists) if len(exists) > 1 else exists[0]
        return _Target(pattern, test, "\n".join(sorted(keys))), (subjects_of if only_subjects else set())

    # -- expressions: checks on a term alone -----------------------------------------------

    def expr(self, node: Any, v: str) -> str | None:
        """A FILTER expression for "``v`` conforms to shape ``node``", when the shape only
        looks at the term itself (no path); else None."""
        shape = self.sg.shape(node)
        if shape.deactivated:
            return "true"
        if shape.is_property:
            return None
        parts = []
        for name, obj in shape.params:
            e = self.constraint_expr(name, obj, shape, v)
            if e is None:
                return None
            parts.append(e)
        return _and(parts)

    def constraint_expr(self, name: str, obj: Any, shape: _Shape, v: str) -> str | None:
        if name == "datatype":
            return _datatype_ok(obj, v)
        if name == "nodeKind":
            kinds = {
                "IRI": f"isIRI({v})",
                "BlankNode": f"isBlank({v})",
                "Literal": f"isLiteral({v})",
                "BlankNodeOrIRI": f"!isLiteral({v})",
                "BlankNodeOrLiteral": f"!isIRI({v})",
                "IRIOrLiteral": f"!isBlank({v})",
            }
            kind = obj.value[len(SH):] if isinstance(obj, ox.NamedNode) and obj.value.startswith(SH) else None
            if kind not in kinds:
                raise UnsupportedShapeError(f"sh:nodeKind {_show(obj)}")
            return kinds[kind]
        if name == "in":
            members = self.sg.items(obj)
            if not members:
                return "false"
            return "(" + " || ".join(f"sameTerm({v}, {_sparql_term(m)})" for m in members) + ")"
        if name == "hasValue":
            return f"sameTerm({v}, {_sparql_term(obj)})"
        if name == "pattern":
            flags = self.sg.one(shape.node, SH + "flags")
            regex = _python_regex_to_rust(obj.value)
            args = _string(regex) + (f", {_string(flags.value)}" if flags is not None else "")
            return f"(!isBlank({v}) && REGEX(STR({v}), {args}))"
        if name == "minLength":
            n = _int(obj)
            return "true" if n == 0 else f"(!isBlank({v}) && STRLEN(STR({v})) >= {n})"
        if name == "languageIn":
            tags = []
            for t in self.sg.items(obj):
                if not isinstance(t, ox.Literal):
                    raise UnsupportedShapeError("sh:languageIn members must be strings")
                tags.append(t.value.lower())
            if "*" in tags:
                return f'(isLiteral({v}) && LANG({v}) != "")'
            listed = ", ".join(_string(t) for t in sorted(set(tags)))
            lang = f"LCASE(LANG({v}))"
            # pyshacl: the tag, or its first subtag, is one of the listed tags
            return (
                f'(isLiteral({v}) && LANG({v}) != "" && ({lang} IN ({listed}) '
                f'|| STRBEFORE(CONCAT({lang}, "-"), "-") IN ({listed})))'
            )
        if name in ("minInclusive", "maxInclusive", "minExclusive"):
            op = {"minInclusive": ">=", "maxInclusive": "<=", "minExclusive": ">"}[name]
            return f"COALESCE({v} {op} {_sparql_term(obj)}, false)"
        if name in ("node", "property"):
            return self._nested_expr(obj, v)
        if name == "not":
            e = self._nested_expr(obj, v)
            return None if e is None else f"!({e})"
        if name in ("and", "or"):
            parts = [self._nested_expr(s, v) for s in self.sg.items(obj)]
            if any(p is None for p in parts):
                return None
            if name == "and":
                return _and([p for p in parts if p is not None])
            return "(" + " || ".join(f"({p})" for p in parts) + ")" if parts else "false"
        if name == "class":
            return None
        if name in _COMPONENTS:
            return None
        raise UnsupportedShapeError(f"sh:{name} in {_show(shape.node)}")

    def _nested_expr(self, node: Any, v: str) -> str | None:
        if node in self.in_progress:
            raise UnsupportedShapeError(f"recursive shape {_show(node)}")
        self.in_progress.add(node)
        try:
            return self.expr(node, v)
        finally:
            self.in_progress.discard(node)

    # -- failure patterns ----------------------------------------------------------------

    def fail(self, node: Any, x: str, dom: str) -> str:
        """Members ``x`` of domain ``dom`` that do not conform to shape ``node``."""
        if node in self.in_progress:
            raise UnsupportedShapeError(f"recursive shape {_show(node)}")
        shape = self.sg.shape(node)
        if shape.deactivated:
            return _NOTHING
        self.in_progress.add(node)
        try:
            if shape.is_property:
                return self.fail_property(shape, x, dom)
            exprs, parts = [], []
            for name, obj in shape.params:
                if name == "sparql":
                    raise UnsupportedShapeError(f"sh:sparql in a nested shape ({_show(node)})")
                e = self.constraint_expr(name, obj, shape, x)
                if e is not None:
                    exprs.append(e)
                else:
                    parts.append(self.fail_constraint(name, obj, shape, x, dom))
            if exprs:
                parts.append(f"{{ {dom} FILTER(!({_and(exprs)})) }}")
            return _union(parts)
        finally:
            self.in_progress.discard(node)

    def conform(self, node: Any, x: str, dom: str) -> str:
        """Members ``x`` of domain ``dom`` that conform to shape ``node``."""
        e = self._nested_expr(node, x)
        if e is not None:
            return f"{{ {dom} FILTER({e}) }}"
        return f"{{ {dom} MINUS {self.fail(node, x, dom)} }}"

    def fail_constraint(self, name: str, obj: Any, shape: _Shape, x: str, dom: str) -> str:
        """Members ``x`` of ``dom`` failing one node-level constraint (not an expression)."""
        if name == "class":
            t = self.var("t")
            return f"{{ {dom} MINUS {{ {t} <{RDFS}subClassOf>* {_sparql_term(obj)} . {x} <{RDF_TYPE}> {t} }} }}"
        if name in ("node", "property"):
            return self.fail(obj, x, dom)
        if name == "not":
            return self.conform(obj, x, dom)
        if name == "and":
            return _union([self.fail(s, x, dom) for s in self.sg.items(obj)])
        if name == "or":
            members = self.sg.items(obj)
            if not members:
                return dom
            # The nodes that fail every branch: the intersection (a hash join on x) of the
            # failures of each branch, each over the whole domain.
            fails = [f"{{ SELECT DISTINCT {x} WHERE {self.fail(s, x, dom)} }}" for s in members]
            return "{ " + " ".join(fails) + " }"
        raise UnsupportedShapeError(f"sh:{name} cannot constrain a node shape ({_show(shape.node)})")

    def value_domain(self, path: str) -> tuple[str, str]:
        v = self.var()
        return v, f"{{ SELECT DISTINCT {v} WHERE {{ {self.var('s')} {path} {v} }} }}"

    def fail_property(self, shape: _Shape, x: str, dom: str) -> str:
        path = self.path(shape.path)
        parts: list[str] = []
        for name, obj in shape.params:
            if name == "minCount":
                n = _int(obj)
                if n == 1:
                    parts.append(f"{{ {dom} MINUS {{ {x} {path} {self.var('f')} }} }}")
                elif n > 1:
                    f = self.var("f")
                    parts.append(
                        f"{{ SELECT {x} WHERE {{ {dom} OPTIONAL {{ {x} {path} {f} }} }} "
                        f"GROUP BY {x} HAVING (COUNT(DISTINCT {f}) < {n}) }}"
                    )
            elif name == "maxCount":
                parts.append(f"{{ {dom} {self.more_than(x, path, _int(obj))} }}")
            elif name == "hasValue":
                parts.append(f"{{ {dom} MINUS {{ {x} {path} {_sparql_term(obj)} }} }}")
            elif name == "lessThanOrEquals":
                v, w = self.var(), self.var("w")
                parts.append(f"{{ {dom} {x} {path} {v} . {x} {_sparql_term(obj)} {w} FILTER(!{_le(v, w)}) }}")
            elif name == "uniqueLang":
                if _bool(obj):
                    parts.append(f"{{ {dom} {self._same_lang(x, path, self.var('a'), self.var('b'))} }}")
            elif name == "qualifiedValueShape":
                parts.extend(self._qualified_fail(shape, obj, x, path, dom))
            elif name == "sparql":
                raise UnsupportedShapeError(f"sh:sparql on property shape {_show(shape.node)} ($PATH)")
            else:
                v = self.var()
                e = self.constraint_expr(name, obj, shape, v)
                if e is not None:
                    parts.append(f"{{ {dom} {x} {path} {v} FILTER(!({e})) }}")
                else:
                    v, vdom = self.value_domain(path)
                    bad = self.fail_constraint(name, obj, shape, v, vdom)
                    parts.append(f"{{ {dom} {x} {path} {v} . {bad} }}")
        return _union(parts)

    def more_than(self, x: str, path: str, n: int, qshape: Any | None = None) -> str:
        """A pattern binding ``x`` to the nodes with more than ``n`` values (that conform to
        ``qshape``, a shape with an expression form)."""
        if n == 1:
            a, b = self.var("a"), self.var("b")
            cond = f"!sameTerm({a}, {b})"
            if qshape is not None:
                cond += f" && ({self._nested_expr(qshape, a)}) && ({self._nested_expr(qshape, b)})"
            return f"{{ SELECT DISTINCT {x} WHERE {{ {x} {path} {a} . {x} {path} {b} FILTER({cond}) }} }}"
        v = self.var()
        cond = f" FILTER({self._nested_expr(qshape, v)})" if qshape is not None else ""
        return (
            f"{{ SELECT {x} WHERE {{ {x} {path} {v}{cond} }} GROUP BY {x} "
            f"HAVING (COUNT(DISTINCT {v}) > {n}) }}"
        )

    def _qualified_fail(self, shape: _Shape, qshape: Any, x: str, path: str, dom: str,
                        which: tuple[str, ...] = ("qualifiedMinCount", "qualifiedMaxCount")) -> list[str]:
        self._check_qualified(shape)
        low = self.sg.one(shape.node, SH + "qualifiedMinCount") if "qualifiedMinCount" in which else None
        high = self.sg.one(shape.node, SH + "qualifiedMaxCount") if "qualifiedMaxCount" in which else None
        out = []
        v = self.var()
        e = self._nested_expr(qshape, v)
        if low is not None and _int(low) > 0:
            n = _int(low)
            if e is not None:
                matching = f"{x} {path} {v} FILTER({e})"
            else:
                v2, vdom = self.value_domain(path)
                matching = f"{x} {path} {v2} . {self.conform(qshape, v2, vdom)}"
                v = v2
            if n == 1:
                out.append(f"{{ {dom} MINUS {{ {matching} }} }}")
            else:
                out.append(
                    f"{{ SELECT {x} WHERE {{ {dom} OPTIONAL {{ {matching} }} }} GROUP BY {x} "
                    f"HAVING (COUNT(DISTINCT {v}) < {n}) }}"
                )
        if high is not None:
            n = _int(high)
            if e is not None:
                out.append(f"{{ {dom} {self.more_than(x, path, n, qshape)} }}")
            else:
                v2, vdom = self.value_domain(path)
                ok_set = self.conform(qshape, v2, vdom)
                out.append(
                    f"{{ {dom} {{ SELECT {x} WHERE {{ {x} {path} {v2} . {ok_set} }} GROUP BY {x} "
                    f"HAVING (COUNT(DISTINCT {v2}) > {n}) }} }}"
                )
        return out

    def _check_qualified(self, shape: _Shape) -> None:
        disjoint = self.sg.one(shape.node, SH + "qualifiedValueShapesDisjoint")
        if disjoint is not None and _bool(disjoint):
            raise UnsupportedShapeError(f"sh:qualifiedValueShapesDisjoint in {_show(shape.node)}")

    def _same_lang(self, x: str, path: str, a: str, b: str) -> str:
        return (
            f"{x} {path} {a} . {x} {path} {b} . "
            f'FILTER(!sameTerm({a}, {b}) && LANG({a}) != "" && LCASE(LANG({a})) = LCASE(LANG({b})))'
        )

    # -- top-level queries ---------------------------------------------------------------

    def compile_targeted(self, shape: _Shape) -> list[CompiledQuery]:
        found = self.target(shape)
        if found is None or shape.deactivated:
            return []
        target, subjects_of = found
        if shape.is_property:
            return self._property_queries(shape, target, subjects_of)
        out: list[CompiledQuery] = []
        for name, obj in shape.params:
            if name == "property":
                prop = self.sg.shape(obj)
                if prop.deactivated:
                    continue
                if not prop.is_property:
                    raise UnsupportedShapeError(f"sh:property {_show(obj)} has no sh:path")
                if prop.parent is not None and prop.parent.node != shape.node and isinstance(obj, ox.BlankNode):
                    raise UnsupportedShapeError(f"blank property shape {obj} shared by two node shapes")
                prop.parent = shape
                out.extend(self._property_queries(prop, target, subjects_of, holder=shape))
            elif name == "sparql":
                out.append(self._sparql_query(shape, obj, target))
            elif name in ("minCount", "maxCount", "lessThanOrEquals", "uniqueLang", "qualifiedValueShape"):
                raise UnsupportedShapeError(f"sh:{name} on node shape {_show(shape.node)} (needs a path)")
            else:
                e = self.constraint_expr(name, obj, shape, "?this")
                pre = None
                plan = None
                if e is not None:
                    body = f"{target.pattern} FILTER(!({e}))"
                else:
                    body = self.fail_constraint(name, obj, shape, "?this", target.pattern)
                    if name == "class":
                        pre = _Precheck("subset", target.pattern,
                                        f"{{ ?_t <{RDFS}subClassOf>* {_sparql_term(obj)} . ?this <{RDF_TYPE}> ?_t }}")
                    elif name == "or":
                        plan = self._or_plan(obj)
                q = self._query(f"SELECT DISTINCT ?this WHERE {{ {body} }}", shape, name, None,
                                value_is_focus=True, precheck=pre,
                                target=target if plan is not None else None)
                if plan is not None:
                    q = _replace(q, or_plan=plan)
                out.append(q)
        return out

    def _or_plan(self, obj: Any) -> tuple[_OrBranch, ...]:
        """sh:or at the top, as steps (see :meth:`_Runner.run_or`): for each branch, its
        failures over a domain (a template), its failures found from witnesses alone when it
        has such a form, and a count that estimates how many nodes fail it."""
        branches = []
        for member in self.sg.items(obj):
            free = self.free_fail(member, "?this")
            branches.append(_OrBranch(
                template=_canonical_variables(self.fail(member, "?this", _DOMAIN)),
                free=None if free is None else _canonical_variables(free),
                bad_values=self._bad_values(member),
            ))
        return tuple(branches)

    def _bad_values(self, node: Any) -> tuple[str, str] | None:
        """For a branch ``[ sh:path p ; <one check on values> ]``: (p, a query for the distinct
        values of p that fail the check) — cheap, and the nodes failing the branch are the
        subjects of those values."""
        shape = self.sg.shape(node)
        if not shape.is_property or len(shape.params) != 1:
            return None
        name, obj = shape.params[0]
        if name not in _VALUE_ONLY:
            return None
        path = self.path(shape.path)
        v = self.var()
        e = self.constraint_expr(name, obj, shape, v)
        if e is not None:
            body = f"{{ {self.var('s')} {path} {v} FILTER(!({e})) }}"
        else:
            v, vdom = self.value_domain(path)
            body = self.fail_constraint(name, obj, shape, v, vdom)
        return path, _canonical_variables(f"SELECT DISTINCT ({v} AS ?value) WHERE {body}")

    def free_fail(self, node: Any, x: str) -> str | None:
        """The nodes failing shape ``node`` for which a triple is the witness (a bad value, a
        second value), found without a domain; None when failing can mean "lacks something"."""
        shape = self.sg.shape(node)
        if shape.deactivated:
            return _NOTHING
        parts: list[str] = []
        if shape.is_property:
            path = self.path(shape.path)
            for name, obj in shape.params:
                if name in ("minCount", "hasValue", "qualifiedValueShape", "sparql"):
                    if name == "minCount" and _int(obj) == 0:
                        continue
                    return None
                if name == "maxCount":
                    parts.append(self.more_than(x, path, _int(obj)))
                elif name == "lessThanOrEquals":
                    v, w = self.var(), self.var("w")
                    parts.append(f"{{ {x} {path} {v} . {x} {_sparql_term(obj)} {w} FILTER(!{_le(v, w)}) }}")
                elif name == "uniqueLang":
                    if _bool(obj):
                        parts.append(f"{{ {self._same_lang(x, path, self.var('a'), self.var('b'))} }}")
                else:
                    v = self.var()
                    e = self.constraint_expr(name, obj, shape, v)
                    if e is not None:
                        parts.append(f"{{ {x} {path} {v} FILTER(!({e})) }}")
                    else:
                        v2, vdom = self.value_domain(path)
                        parts.append(f"{{ {x} {path} {v2} . {self.fail_constraint(name, obj, shape, v2, vdom)} }}")
            return _union(parts)
        for name, obj in shape.params:
            if name in ("node", "property"):
                f = self.free_fail(obj, x)
            elif name == "and":
                fs = [self.free_fail(m, x) for m in self.sg.items(obj)]
                f = None if any(m is None for m in fs) else _union([m for m in fs if m is not None])
            elif name == "or":
                fs = [self.free_fail(m, x) for m in self.sg.items(obj)]
                f = None if any(m is None for m in fs) or not fs else "{ " + " ".join(
                    f"{{ SELECT DISTINCT {x} WHERE {m} }}" for m in fs if m is not None) + " }"
            else:
                return None  # a check of the node itself: needs the node listed
            if f is None:
                return None
            parts.append(f)
        return _union(parts)

    def _property_queries(self, prop: _Shape, target: _Target, subjects_of: set[str],
                          holder: _Shape | None = None) -> list[CompiledQuery]:
        path = self.path(prop.path)
        # Focus nodes with a value for ``path`` are in the target when the target is "the
        # subjects of path": then candidates need no membership check at all.
        implied = path in subjects_of
        check = None if implied else target
        out: list[CompiledQuery] = []
        for name, obj in prop.params:
            if name == "minCount":
                n = _int(obj)
                if n == 0 or (implied and n == 1):
                    continue
                body = self.fail_property(_only(prop, name, obj), "?this", target.pattern)
                pre = _Precheck("subset", target.pattern, f"{{ ?this {path} ?_o }}") if n == 1 else None
                out.append(self._query(f"SELECT DISTINCT ?this WHERE {body}", prop, name, path, precheck=pre))
            elif name == "maxCount":
                pre = _Precheck("functional", f"{{ ?s {path} ?o }}") if _int(obj) == 1 else None
                out.append(self._query(
                    f"SELECT ?this WHERE {self.more_than('?this', path, _int(obj))}", prop, name, path, target=check,
                    precheck=pre))
            elif name == "hasValue":
                body = self.fail_property(_only(prop, name, obj), "?this", target.pattern)
                out.append(self._query(f"SELECT DISTINCT ?this WHERE {body}", prop, name, path))
            elif name == "lessThanOrEquals":
                out.append(self._query(
                    f"SELECT DISTINCT ?this ?value WHERE {{ ?this {path} ?value . ?this {_sparql_term(obj)} ?_w "
                    f"FILTER(!{_le('?value', '?_w')}) }}", prop, name, path, target=check))
            elif name == "uniqueLang":
                if _bool(obj):
                    out.append(self._query(
                        f"SELECT DISTINCT ?this WHERE {{ {self._same_lang('?this', path, '?value', '?_b')} }}",
                        prop, name, path, target=check))
            elif name == "qualifiedValueShape":
                self._check_qualified(prop)
                for bound in ("qualifiedMinCount", "qualifiedMaxCount"):
                    value = self.sg.one(prop.node, SH + bound)
                    if value is None:
                        continue
                    pre = None
                    e = self._nested_expr(obj, "?o")
                    n = _int(value)
                    if e is not None and implied and bound == "qualifiedMinCount" and n == 1:
                        # Every focus node has a value (the target is the subjects of the path),
                        # so one without a conforming value has a non-conforming one: start
                        # from those witnesses instead of from the whole target.
                        ok_w = self._nested_expr(obj, "?_w")
                        parts = (f"{{ ?this {path} ?o FILTER(!({e})) "
                                 f"FILTER NOT EXISTS {{ ?this {path} ?_w FILTER({ok_w}) }} }}")
                    elif e is not None and implied and bound == "qualifiedMaxCount":
                        parts = self.more_than("?this", path, n, obj)  # witnesses: needs no target
                    else:
                        parts = _union(self._qualified_fail(prop, obj, "?this", path, target.pattern, (bound,)))
                    if e is not None and n == 1:
                        if bound == "qualifiedMinCount":
                            pre = _Precheck("subset", target.pattern, f"{{ ?this {path} ?o FILTER({e}) }}")
                        else:
                            pre = _Precheck("functional", f"{{ ?s {path} ?o FILTER({e}) }}")
                    out.append(self._query(f"SELECT DISTINCT ?this WHERE {parts}", prop, bound, path, precheck=pre))
            elif name == "sparql":
                raise UnsupportedShapeError(f"sh:sparql on property shape {_show(prop.node)} ($PATH)")
            else:
                e = self.constraint_expr(name, obj, prop, "?value")
                if e is not None:
                    body = f"?this {path} ?value FILTER(!({e}))"
                else:
                    v, vdom = self.value_domain(path)
                    bad = self.fail_constraint(name, obj, prop, v, vdom)
                    body = f"{bad} ?this {path} {v} . BIND({v} AS ?value)"
                out.append(self._query(f"SELECT DISTINCT ?this ?value WHERE {{ {body} }}", prop, name, path, target=check))
        return out

    def _sparql_query(self, shape: _Shape, constraint: Any, target: _Target) -> CompiledQuery:
        deactivated = self.sg.one(constraint, SH + "deactivated")
        select = self.sg.one(constraint, SH + "select")
        if select is None:
            raise UnsupportedShapeError(f"sh:sparql of {_show(shape.node)} has no sh:select (ASK is not supported)")
        body = select.value
        if deactivated is not None and _bool(deactivated):
            return CompiledQuery("", "", "", "", "", None)
        for forbidden in ("$PATH", "$currentShape", "$shapesGraph", "?PATH", "?currentShape", "?shapesGraph"):
            if forbidden in body:
                raise UnsupportedShapeError(f"{forbidden} in the sh:sparql of {_show(shape.node)}")
        if re.search(r"\bPREFIX\b|\bBASE\b", body, re.IGNORECASE):
            raise UnsupportedShapeError(f"PREFIX inside the sh:sparql of {_show(shape.node)} (use sh:prefixes)")
        if len(re.findall(r"\bSELECT\b", body, re.IGNORECASE)) != 1:
            raise UnsupportedShapeError(f"a subquery in the sh:sparql of {_show(shape.node)}")
        if not re.search(r"\bSELECT\s+(DISTINCT\s+)?[$?]this\b", body, re.IGNORECASE):
            raise UnsupportedShapeError(f"the sh:sparql of {_show(shape.node)} must project $this")
        self.prefixes.update(self.sg.prefixes(constraint))
        body = body.replace("$this", "?this")
        m = re.search(r"\bWHERE\s*\{", body, re.IGNORECASE)
        if m is None:
            raise UnsupportedShapeError(f"no WHERE {{ in the sh:sparql of {_show(shape.node)}")
        message = _pick_message(self.sg.objects(constraint, SH + "message")) or shape.message
        return CompiledQuery(
            sparql=target.pattern,
            source_shape=self.shape_name(shape),
            component=SH + "SPARQLConstraintComponent",
            severity=shape.severity,
            message=message or "SPARQL constraint violated",
            path=None,
            sparql_body=(body[: m.end()], body[m.end():]),
            sparql_message=message,
        )

    def shape_name(self, shape: _Shape) -> str:
        if isinstance(shape.node, ox.NamedNode):
            return shape.node.value
        parent = shape.parent
        if parent is None or not isinstance(parent.node, ox.NamedNode) or shape.path is None:
            raise UnsupportedShapeError(f"a targeted blank-node shape {shape.node} (name the shape)")
        return f"{parent.node.value} {self.path(shape.path)}"

    def _query(self, sparql: str, shape: _Shape, name: str, path: str | None,
               value_is_focus: bool = False, target: _Target | None = None,
               precheck: _Precheck | None = None) -> CompiledQuery:
        sparql = _canonical_variables(sparql)
        if len(sparql) > _MAX_QUERY:
            raise UnsupportedShapeError(f"{_show(shape.node)} sh:{name} compiles to too large a query")
        comp = name[0].upper() + name[1:]
        return CompiledQuery(
            sparql=sparql,
            source_shape=self.shape_name(shape),
            component=SH + comp + "ConstraintComponent",
            severity=shape.severity,
            message=shape.message or _default_message(name, path),
            path=None if path is None or shape.path is None else self.display_path(shape.path),
            value_is_focus=value_is_focus,
            target=target,
            precheck=None if precheck is None else _Precheck(
                precheck.kind, _canonical_variables(precheck.a), _canonical_variables(precheck.b)),
        )


_FRESH = re.compile(r"\?_[a-z]+[0-9]+\b")


def _canonical_variables(sparql: str) -> str:
    """Number the generated variables in order of appearance, so that the same check compiled
    for two shapes is the same text (and runs once)."""
    names: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        return names.setdefault(m.group(0), f"?_k{len(names)}")

    return _FRESH.sub(rename, sparql)


def _replace(q: CompiledQuery, **changes: Any) -> CompiledQuery:
    from dataclasses import replace

    return replace(q, **changes)


def _only(shape: _Shape, name: str, obj: Any) -> _Shape:
    """A copy of a property shape that holds one constraint."""
    return _Shape(shape.node, shape.path, [(name, obj)], shape.severity, shape.message, shape.deactivated)


def _union(parts: list[str]) -> str:
    parts = [p for p in parts if p != _NOTHING]
    if not parts:
        return _NOTHING
    if len(parts) == 1:
        return parts[0]
    return "{ " + " UNION ".join(parts) + " }"


def _default_message(name: str, path: str | None) -> str:
    where = f" on {path}" if path else ""
    return f"sh:{name} constraint violated{where}"


def _and(conds: list[str]) -> str:
    conds = [c for c in conds if c != "true"]
    if not conds:
        return "true"
    return "(" + " && ".join(f"({c})" for c in conds) + ")"


def _le(a: str, b: str) -> str:
    return f"COALESCE({a} <= {b}, false)"


def _int(term: Any) -> int:
    try:
        return int(term.value)
    except (AttributeError, ValueError):
        raise UnsupportedShapeError(f"expected an integer, got {_show(term)}") from None


def _bool(term: Any) -> bool:
    return isinstance(term, ox.Literal) and term.value in ("true", "1")


def _string(text: str) -> str:
    return str(ox.Literal(text))


_NUMERIC = {XSD + t for t in (
    "integer decimal float double nonPositiveInteger negativeInteger long int short byte "
    "nonNegativeInteger unsignedLong unsignedInt unsignedShort unsignedByte positiveInteger"
).split()}
_CASTABLE = {XSD + "boolean", XSD + "date", XSD + "dateTime", XSD + "time"}


def _datatype_ok(dt: Any, v: str) -> str:
    """pyshacl's sh:datatype: the datatype IRI, and a valid lexical form where rdflib checks it."""
    if not isinstance(dt, ox.NamedNode):
        raise UnsupportedShapeError(f"sh:datatype {dt}")
    iri = dt.value
    if iri == RDF + "langString":
        return f'(isLiteral({v}) && LANG({v}) != "")'
    base = f"(isLiteral({v}) && DATATYPE({v}) = <{iri}>)"
    if iri in _NUMERIC:
        return f"({base} && isNumeric({v}))"
    if iri in _CASTABLE:
        return f"({base} && COALESCE(STRLEN(STR(<{iri}>({v}))) >= 0, false))"
    return base


def _python_regex_to_rust(pattern: str) -> str:
    """A Python ``re`` pattern (what pyshacl runs) for the Rust regex engine behind REGEX().

    Python's ``$`` also matches before a final newline; Rust's only at the very end.
    Lookaround and backreferences have no Rust equivalent and are refused.
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not in_class and nxt.isdigit() and nxt != "0":
                raise UnsupportedShapeError(f"backreference in sh:pattern {pattern!r}")
            if nxt in "Z":
                raise UnsupportedShapeError(f"\\Z in sh:pattern {pattern!r}")
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
        elif c == "$":
            out.append("\\n?$")
            i += 1
            continue
        elif c == "(" and pattern[i + 1 : i + 3] in ("?=", "?!", "?<"):
            if pattern[i + 1 : i + 4] not in ("?<P",):
                raise UnsupportedShapeError(f"lookaround in sh:pattern {pattern!r}")
        out.append(c)
        i += 1
    return "".join(out)


###########################################################################################
# Running
###########################################################################################


def _prologue(prefixes: dict[str, str]) -> str:
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(prefixes.items()))


_MESSAGE_VAR = re.compile(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}")


class _Runner:
    """Runs compiled queries on one store, with the caches they share.

    Cheap counts answer most cardinality checks without the query that finds the offenders:
    ``maxCount 1`` on a predicate holds everywhere when the predicate has as many distinct
    subjects as triples, and ``minCount 1`` holds on a target when adding the target to the
    subjects of the predicate does not add a node. (pyoxigraph counts distinct terms much
    faster than it joins.) The offenders are searched for only when a count says there are some.
    """

    def __init__(self, store: ox.Store, prologue: str) -> None:
        import threading

        self.store = store
        self.prologue = prologue
        self.members: dict[str, set[Any]] = {}
        self.rows: dict[str, list[Any]] = {}
        self.stats: dict[str, tuple[int, int]] = {}
        self.lock = threading.Lock()
        self.key_locks: dict[str, Any] = {}
        self.named_graphs = next(iter(store.named_graphs()), None) is not None

    def once(self, cache: dict[str, Any], key: str, compute: Any) -> Any:
        """``cache[key]``, computed once even when threads ask together."""
        if key in cache:
            return cache[key]
        import threading

        with self.lock:
            lock = self.key_locks.setdefault(f"{id(cache)}:{key}", threading.Lock())
        with lock:
            if key not in cache:
                cache[key] = compute()
            return cache[key]

    def query(self, sparql: str, what: str) -> Any:
        try:
            return self.store.query(self.prologue + sparql, use_default_graph_as_union=True)
        except (SyntaxError, OSError, RuntimeError, ValueError) as e:
            raise EmdkgError(f"fast SHACL: the query for {what} failed: {e}") from None

    def count(self, pattern: str, var: str = "?this") -> int:
        """COUNT(DISTINCT var) over a pattern, cached."""
        def compute() -> int:
            row = next(iter(self.query(f"SELECT (COUNT(DISTINCT {var}) AS ?n) WHERE {pattern}", "a count")))
            return int(row["n"].value)

        return self.once(self.stats, f"{var} {pattern}", compute)

    def count_rows(self, pattern: str) -> int:
        """The number of distinct (?s, ?o) solutions of a pattern, cached."""
        def compute() -> int:
            body = f"{{ SELECT DISTINCT ?s ?o WHERE {pattern} }}" if self.named_graphs else pattern
            row = next(iter(self.query(f"SELECT (COUNT(*) AS ?n) WHERE {body}", "a count")))
            return int(row["n"].value)

        return self.once(self.stats, f"rows {pattern}", compute)

    def passes_precheck(self, q: CompiledQuery) -> bool:
        pre = q.precheck
        if pre is None:
            return False
        if pre.kind == "functional":
            return self.count_rows(pre.a) == self.count(pre.a, "?s")
        if pre.kind == "subset":
            return self.count(f"{{ {pre.a} UNION {pre.b} }}") == self.count(pre.b)
        return False

    def target_members(self, target: _Target) -> set[Any]:
        return self.once(self.members, target.key, lambda: {
            row[0] for row in self.query(f"SELECT ?this WHERE {target.pattern}", "a target")})

    def in_target(self, target: _Target, candidates: set[Any]) -> set[Any]:
        if not candidates:
            return set()
        if target.key in self.members or target.exists is None or len(candidates) > _MEMBERSHIP_CHECKS:
            return candidates & self.target_members(target)
        values = " ".join(str(c) for c in candidates if not isinstance(c, ox.BlankNode))
        keep = {c for c in candidates if isinstance(c, ox.BlankNode)} & self.target_members(target) if any(
            isinstance(c, ox.BlankNode) for c in candidates) else set()
        if values:
            rows = self.query(f"SELECT ?this WHERE {{ VALUES ?this {{ {values} }} FILTER EXISTS {{ {target.exists} }} }}",
                              "a target check")
            keep |= {row[0] for row in rows}
        return keep

    def execute(self, q: CompiledQuery) -> Iterator[FastResult]:
        what = f"{q.source_shape} ({_local(q.component)})"
        if q.sparql_body is not None:
            yield from self._sparql_constraint(q)
            return
        if self.passes_precheck(q):
            return
        if q.or_plan is not None and q.target is not None:
            for focus in sorted(self.run_or(q.or_plan, q.target, what), key=str):
                yield FastResult(focus, None, focus, q.source_shape, q.component, q.severity, q.message)
            return
        rows = self.once(self.rows, q.sparql, lambda: list(self.query(q.sparql, what)))
        if q.target is not None and rows:
            keep = self.in_target(q.target, {row["this"] for row in rows})
            rows = [row for row in rows if row["this"] in keep]
        for row in rows:
            focus = row["this"]
            if focus is None:
                continue
            if q.value_is_focus:
                value = focus
            else:
                try:
                    value = row["value"]
                except (KeyError, IndexError):
                    value = None
            yield FastResult(focus, q.path, value, q.source_shape, q.component, q.severity, q.message)

    def run_or(self, plan: tuple[_OrBranch, ...], target: _Target, what: str) -> set[Any]:
        """A top-level sh:or, in steps: the focus nodes that fail every branch.

        Branches of the form ``[ sh:path p ; <a check on values> ]`` first list their bad
        values (a cheap query over the distinct values of p); the branch with the fewest goes
        first, and its failing nodes are the subjects of those values (then the target is
        checked). Otherwise the first branch is evaluated from its witnesses when it can be,
        else over the whole target. Each next branch is evaluated only over the nodes that
        failed so far, listed in the query (VALUES) while they are not too many.
        """
        bad: dict[int, list[Any]] = {}
        for i, branch in enumerate(plan):
            if branch.bad_values is not None:
                bad[i] = [row[0] for row in self.query(branch.bad_values[1], what)]
        order = sorted(range(len(plan)), key=lambda i: (i not in bad, len(bad.get(i, ())), plan[i].free is None))
        candidates: set[Any] | None = None  # None: the whole target
        for step, i in enumerate(order):
            branch = plan[i]
            if candidates is not None and not candidates:
                break
            if step == 0 and i in bad:
                # the nodes failing the branch: the subjects of its bad values
                values = bad[i]
                if not values:
                    return set()
                if len(values) <= _INLINE_FOCUS and not any(isinstance(v, ox.BlankNode) for v in values):
                    path = branch.bad_values[0]  # type: ignore[index]
                    rows = self.query("SELECT DISTINCT ?this WHERE { VALUES ?_v { "
                                      + " ".join(str(v) for v in values) + f" }} ?this {path} ?_v }}", what)
                    candidates = self.in_target(target, {row[0] for row in rows})
                    continue
            if step == 0 and branch.free is not None:
                rows = self.query(f"SELECT DISTINCT ?this WHERE {branch.free}", what)
                candidates = self.in_target(target, {row[0] for row in rows})
                continue
            inline = candidates is not None and len(candidates) <= _INLINE_FOCUS and not any(
                isinstance(c, ox.BlankNode) for c in candidates)
            if inline:
                assert candidates is not None
                domain = "{ VALUES ?this { " + " ".join(str(c) for c in candidates) + " } }"
            else:
                domain = target.pattern
            rows = self.query(f"SELECT DISTINCT ?this WHERE {branch.template.replace(_DOMAIN, domain)}", what)
            found = {row[0] for row in rows}
            candidates = found if candidates is None else candidates & found
        return candidates or set()

    def _sparql_constraint(self, q: CompiledQuery) -> Iterator[FastResult]:
        assert q.sparql_body is not None
        head, tail = q.sparql_body
        what = f"{q.source_shape} (sh:sparql)"
        members = self.target_members(_Target(q.sparql, None, q.sparql))
        if not members:
            return
        if len(members) <= _INLINE_FOCUS and not any(isinstance(m, ox.BlankNode) for m in members):
            inject = "VALUES ?this { " + " ".join(str(m) for m in members) + " }"
        else:
            inject = q.sparql
        solutions = self.query(f"{head} {inject} {tail}", what)
        names = [v.value for v in solutions.variables]
        for row in solutions:
            focus = row["this"]
            if focus is None:
                continue
            value = row["value"] if "value" in names and row["value"] is not None else focus
            path = row["path"] if "path" in names else None
            message = q.message
            if q.sparql_message:
                message = _MESSAGE_VAR.sub(
                    lambda m: (
                        _message_text(row[m.group(1)])
                        if m.group(1) in names and row[m.group(1)] is not None
                        else m.group(0)
                    ),
                    q.sparql_message,
                )
            yield FastResult(focus, f"<{path.value}>" if isinstance(path, ox.NamedNode) else None, value,
                             q.source_shape, q.component, q.severity, message)


def _message_text(term: Any) -> str:
    return term.value if isinstance(term, (ox.Literal, ox.NamedNode)) else str(term)


def compile_shapes(
    shapes: str | os.PathLike[str] | None = None, *, data: bytes | None = None
) -> ShapesProgram:
    """Compile a shapes graph (a Turtle file, or ``data`` bytes) into SPARQL queries."""
    sg = _ShapesGraph(shapes, data)
    compiler = _Compiler(sg)
    nodes: set[Any] = set()
    for t in (SH + "NodeShape", SH + "PropertyShape"):
        nodes.update(sg.subjects(RDF_TYPE, ox.NamedNode(t)))
    for p in ("targetClass", "targetSubjectsOf", "targetObjectsOf", "targetNode", "target"):
        nodes.update(sg.subjects(SH + p))
    for node in nodes:
        types = {o.value for o in sg.objects(node, RDF_TYPE) if isinstance(o, ox.NamedNode)}
        if types & {RDFS + "Class", OWL + "Class"}:
            raise UnsupportedShapeError(f"implicit class target on {_show(node)}")
        sg.shape(node)  # every declared shape is checked for unsupported features
    queries: list[CompiledQuery] = []
    for node in sorted(nodes, key=str):
        queries.extend(compiler.compile_targeted(sg.shape(node)))
    return ShapesProgram([q for q in queries if q.sparql], _prologue(compiler.prefixes))


_PROGRAMS: dict[tuple[str, int, int], ShapesProgram] = {}


def validate_fast(data_store: Any, shapes_graph_path: str | os.PathLike[str]) -> list[FastResult]:
    """Validate the data graph in ``data_store`` (a pyoxigraph ``Store`` or an
    :class:`~emdkg.store.OxigraphStore`) against the shapes in ``shapes_graph_path``.

    The store must hold the data graph pyshacl would validate (for our shapes: the files plus
    the ontology slice, see :func:`ontology_slice`); the default graph is the union of all
    graphs. Returns the results sorted by focus node, shape and component; ``[]`` means the
    data conforms.
    """
    path = Path(shapes_graph_path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    program = _PROGRAMS.get(key)
    if program is None:
        program = _PROGRAMS[key] = compile_shapes(path)
    return program.run(data_store)


def report_fast(
    paths: Sequence[str | os.PathLike[str]] | None = None,
    *,
    shapes: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> Any:
    """:func:`emdkg.validate.validate`, with this engine: the same data graph (the files plus
    the ontology slice), the same :class:`~emdkg.validate.ValidationReport` and
    :class:`~emdkg.validate.Violation` rows, field for field (tests/test_shacl_fast.py checks
    it), in a fraction of the time. What ``emdkg validate --engine fast`` would call.

    >>> report_fast().summary()
    'conforms'
    """
    from emdkg.resources import shapes_dir
    from emdkg.store import load_files
    from emdkg.validate import ValidationReport, Violation, default_paths, ontology_context_files

    files = default_paths() if paths is None else [Path(p) for p in paths]
    shapes_path = Path(shapes) if shapes is not None else shapes_dir() / "emdkg.shacl.ttl"
    store = load_files(files)
    native = getattr(store, "native", store)
    context = ontology_context_files()
    if context:
        native.extend(ox.Quad(t.subject, t.predicate, t.object) for t in ontology_slice(context))
    if not shapes_path.is_file():
        load_files([shapes_path])  # the loader's own error: no such file, a directory
    stat = shapes_path.stat()
    key = (str(shapes_path.resolve()), stat.st_mtime_ns, stat.st_size)
    program = _PROGRAMS.get(key)
    if program is None:
        try:
            program = _PROGRAMS[key] = compile_shapes(shapes_path)
        except SyntaxError as e:
            raise EmdkgError(f"{shapes_path}: the shapes are not valid Turtle: {e.msg or e}") from None
    results = program.run(native, workers=workers)
    found = {_violation(native, r, Violation) for r in results}
    violations = sorted(found, key=Violation._sort_key)
    conforms = not any(v.severity == "Violation" for v in violations)
    size = len(set(q.triple for q in native)) if _has_named_graphs(native) else len(native)
    return ValidationReport(conforms=conforms, violations=violations, files=files, triples=size)


def _has_named_graphs(store: ox.Store) -> bool:
    return next(iter(store.named_graphs()), None) is not None


_IRI_IN_TEXT = re.compile(r"<([^<>\s]*)>")


def _violation(store: ox.Store, r: FastResult, cls: Any) -> Any:
    from emdkg.validate import curie

    value = r.value
    if r.path is None and value is not None and value == r.focus:
        value = None  # a node-level result: the value is the focus node itself
    if r.source_shape.startswith(("http://", "https://", "urn:")) and " " not in r.source_shape:
        shape = curie(r.source_shape)
    else:  # a blank-node property shape ("<node shape> <path>"): shown as [its path]
        shape = "[" + _IRI_IN_TEXT.sub(lambda m: curie(m.group(1)), r.path or "") + "]"
    return cls(
        severity=r.severity.rsplit("#", 1)[-1],
        focus=f"_:{r.focus.value}" if isinstance(r.focus, ox.BlankNode) else r.focus.value,
        focus_label=_focus_label(store, r.focus),
        path=None if r.path is None else _IRI_IN_TEXT.sub(lambda m: curie(m.group(1)), r.path),
        value=None if value is None else _term_text(value),
        message=" ".join(r.message.split()),
        source_shape=shape,
        component=curie(r.component),
    )


def _focus_label(store: ox.Store, node: Any) -> str:
    labels = [q.object for q in store.quads_for_pattern(node, ox.NamedNode(RDFS + "label"), None)
              if isinstance(q.object, ox.Literal)]
    english = sorted({lit.value for lit in labels if (lit.language or "").lower().split("-")[0] == "en"})
    if english:
        return english[0]
    untagged = sorted({lit.value for lit in labels if not lit.language})
    if untagged:
        return untagged[0]
    return _term_text(node)


_TURTLE_SHORTHAND = {
    "integer": r"[+-]?[0-9]+",
    "decimal": r"[+-]?[0-9]*\.[0-9]+",
    "double": r"[+-]?([0-9]+\.[0-9]*|\.?[0-9]+)[eE][+-]?[0-9]+",
    "boolean": r"true|false",
}


def _term_text(term: Any) -> str:
    """A term as emdkg.validate prints it: a CURIE, ``_:id``, or a literal as written in Turtle."""
    from emdkg.validate import curie

    if isinstance(term, ox.NamedNode):
        return curie(term.value)
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.Literal):
        lexical = term.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        if term.language:
            return f'"{lexical}"@{term.language}'
        datatype = term.datatype.value
        if datatype == XSD + "string":
            return f'"{lexical}"'
        if datatype == XSD + "decimal" and re.fullmatch(r"[+-]?[0-9]+", lexical):
            lexical += ".0"
        shorthand = _TURTLE_SHORTHAND.get(datatype.removeprefix(XSD))
        if datatype.startswith(XSD) and shorthand and re.fullmatch(shorthand, lexical):
            return lexical
        return f'"{lexical}"^^{curie(datatype)}'
    return str(term)


###########################################################################################
# Helpers: the ontology slice, and pyshacl's results as comparable keys
###########################################################################################


def ontology_slice(files: Iterable[str | os.PathLike[str]] | None = None) -> list[ox.Triple]:
    """The ontology triples the shapes read (:data:`SLICE_PREDICATES`) from the bundled
    ontology (``emdkg.ttl`` and ``imports/*.ttl``) or from ``files``."""
    if files is None:
        from emdkg.resources import ontology_dir

        base = ontology_dir()
        files = [base / "emdkg.ttl", *sorted((base / "imports").glob("*.ttl"))]
    store = ox.Store()
    for f in files:
        store.bulk_load(path=str(f), format=ox.RdfFormat.TURTLE)
    out: list[ox.Triple] = []
    for p in SLICE_PREDICATES:
        out.extend(q.triple for q in store.quads_for_pattern(None, ox.NamedNode(p), None))
    return out


def pyshacl_keys(results_graph: Any, shapes_graph: Any) -> set[tuple[str, str, str]]:
    """pyshacl's results as (focus, source shape, component) keys comparable with
    :func:`result_key` (top-level results only; a blank-node source shape is named by the node
    shape that holds it and its path). Both graphs are rdflib graphs; ``shapes_graph`` must be
    the one pyshacl read (blank node ids differ between parses)."""
    from rdflib import BNode, Literal, URIRef
    from rdflib.namespace import RDF as R
    from rdflib.namespace import SH as S

    def path_text(node: Any) -> str:
        if isinstance(node, URIRef):
            return f"<{node}>"
        if (node, R.first, None) in shapes_graph:
            return "(" + "/".join(path_text(p) for p in shapes_graph.items(node)) + ")"
        for key, fmt in (("inversePath", "^({})"), ("zeroOrMorePath", "({})*"),
                         ("oneOrMorePath", "({})+"), ("zeroOrOnePath", "({})?")):
            inner = shapes_graph.value(node, S[key])
            if inner is not None:
                return fmt.format(path_text(inner))
        alt = shapes_graph.value(node, S.alternativePath)
        if alt is not None:
            return "(" + "|".join(path_text(p) for p in shapes_graph.items(alt)) + ")"
        raise ValueError(f"unsupported path {node}")

    keys: set[tuple[str, str, str]] = set()
    for report in results_graph.subjects(R.type, S.ValidationReport):
        for result in results_graph.objects(report, S.result):
            focus = results_graph.value(result, S.focusNode)
            shape = results_graph.value(result, S.sourceShape)
            comp = results_graph.value(result, S.sourceConstraintComponent)
            if isinstance(shape, BNode):
                parents = list(shapes_graph.subjects(S.property, shape))
                if len(parents) != 1 or not isinstance(parents[0], URIRef):
                    raise ValueError(f"cannot name blank shape {shape}")
                name = f"{parents[0]} {path_text(shapes_graph.value(shape, S.path))}"
            else:
                name = str(shape)
            if isinstance(focus, URIRef):
                f = str(focus)
            elif isinstance(focus, BNode):
                f = "_:"
            else:
                f = ox_literal_text(focus) if isinstance(focus, Literal) else str(focus)
            keys.add((f, name, str(comp)))
    return keys


def ox_literal_text(lit: Any) -> str:
    """An rdflib Literal in pyoxigraph's N-Triples spelling (for result keys)."""
    if lit.language:
        return str(ox.Literal(str(lit), language=lit.language))
    if lit.datatype is not None:
        return str(ox.Literal(str(lit), datatype=ox.NamedNode(str(lit.datatype))))
    return str(ox.Literal(str(lit)))
