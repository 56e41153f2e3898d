"""The rdflib backend of :mod:`emdkg.store` (imported only when chosen: rdflib is slow to import).

>>> s = RdflibStore()
>>> s.load_bytes(b'<https://e.org/a> <https://e.org/p> "1.50"^^<http://www.w3.org/2001/XMLSchema#decimal> .', "turtle")
>>> s.select("SELECT ?v WHERE { ?a ?p ?v }")
[{'v': Decimal('1.5')}]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from xml.sax import SAXParseException

from rdflib import BNode as RdfBNode
from rdflib import Dataset, Graph, Literal, URIRef, Variable
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.query import Result

from emdkg.errors import InputError, QueryError
from emdkg.store import FORMATS, Bindings, Rows, _variable_names, format_name, unprojected_error
from emdkg.values import (
    IRI,
    XSD,
    BNode,
    LangString,
    Value,
    canonical_lexical,
    literal_value,
    term_spec,
)

__all__ = ["RdflibStore"]

# rdflib logs a full traceback at WARNING for every ill-typed literal ("abc"^^xsd:integer);
# we turn those into their lexical form ourselves, so the noise tells the user nothing.
logging.getLogger("rdflib.term").setLevel(logging.ERROR)


_XSD_STRING = URIRef(XSD + "string")


def _rdflib_term(value: Value) -> URIRef | Literal:
    kind, text, extra = term_spec(value)
    if kind == "iri":
        return URIRef(text)
    if kind == "lang":
        return Literal(text, lang=extra)
    if extra == XSD + "string":
        return Literal(text)  # stored strings are plain literals, see _normal()
    return Literal(text, datatype=URIRef(extra))  # type: ignore[arg-type]


def _normal(term: Any) -> Any:
    """A literal stored so that terms match the same way as in pyoxigraph.

    RDF 1.1 makes ``"x"`` and ``"x"^^xsd:string`` one term and language tags case-insensitive,
    and pyoxigraph stores numbers by value (``"12.50"`` is ``"12.5"``); rdflib keeps whatever
    spelling it parsed, so a bound value would miss some stored ones.
    """
    if not isinstance(term, Literal):
        return term
    datatype = term.datatype
    if datatype is not None:
        if datatype == _XSD_STRING:
            return Literal(str(term))
        lexical = str(term)
        canonical = canonical_lexical(lexical, str(datatype))
        return term if canonical == lexical else Literal(canonical, datatype=datatype)
    if term.language and term.language != term.language.lower():
        return Literal(str(term), lang=term.language.lower())
    return term


def _value(term: Any) -> object:
    if isinstance(term, URIRef):
        return IRI(term)
    if isinstance(term, Literal):
        if term.language:
            return LangString(str(term), term.language)
        datatype = term.datatype
        return literal_value(str(term), None if datatype is None else str(datatype))
    if isinstance(term, RdfBNode):
        return BNode(term)
    raise TypeError(f"unexpected term {term!r}")


def _location(error: Exception) -> tuple[str, int | None, int | None]:
    """(reason, line, column) of an rdflib parse error, as far as the parser tells."""
    if isinstance(error, BadSyntax):
        text, index = error._str, error._i
        newline = b"\n" if isinstance(text, bytes) else "\n"
        column = index - text.rfind(newline, 0, index) if index is not None else None
        return error._why, error.lines + 1, column
    if isinstance(error, SAXParseException):
        return error.getMessage(), error.getLineNumber(), error.getColumnNumber() + 1
    if isinstance(error, json.JSONDecodeError):
        return error.msg, error.lineno, error.colno
    message = str(error) or type(error).__name__
    if not isinstance(error, (ValueError, SyntaxError)) and type(error).__module__ == "builtins":
        message = f"{type(error).__name__}: {message}"  # e.g. IndexError on a truncated file
    return message, None, None


class RdflibStore:
    """An in-memory rdflib ``Dataset`` whose default graph, for queries, is the union of all.

    >>> s = RdflibStore()
    >>> s.load_bytes(b'<https://e.org/a> <https://e.org/p> "x"@en .', "turtle")
    >>> s.select("SELECT ?o WHERE { ?s ?p ?o }")
    [{'o': LangString('x', lang='en')}]
    """

    backend = "rdflib"

    def __init__(self) -> None:
        self._dataset = Dataset(default_union=True)

    @property
    def native(self) -> Dataset:
        """The underlying ``rdflib.Dataset``, for what this interface does not cover."""
        return self._dataset

    def __len__(self) -> int:
        return sum(len(graph) for graph in self._dataset.graphs())

    def __repr__(self) -> str:
        return f"<RdflibStore with {len(self)} quads>"

    def load_bytes(self, data: bytes, format: str, *, base_iri: str | None = None) -> None:
        """Parse RDF into the store, all or nothing (see :class:`emdkg.store.Store`)."""
        _, rdflib_format, has_graphs = FORMATS[format_name(format)]
        # Parse aside, then copy: a failed parse leaves the store as it was, and the copy
        # normalises literals the way pyoxigraph does.
        scratch = Dataset()
        # Triples go to the default graph, as in pyoxigraph (rdflib's Dataset.parse would
        # otherwise make a named graph per file).
        target = scratch if has_graphs else scratch.default_graph
        try:
            target.parse(data=data, format=rdflib_format, publicID=base_iri)
        except Exception as e:  # rdflib's parsers raise anything, even IndexError
            reason, line, column = _location(e)
            raise InputError(reason, line=line, column=column) from None
        for graph in scratch.graphs():
            into = self._dataset.graph(graph.identifier)
            for s, p, o in graph:
                into.add((s, p, _normal(o)))

    def _query(self, query: str, bindings: Bindings | None) -> Result:
        variables = _variable_names(bindings)
        init = {Variable(name): _rdflib_term(value) for name, value in variables.items()}
        try:
            result = self._dataset.query(query, initBindings=init)
        except Exception as e:  # pyparsing and evaluation errors have no common base
            raise QueryError(f"SPARQL error: {e}") from None
        if result.type == "SELECT":
            # pyoxigraph refuses a substitution of a variable the SELECT does not project;
            # refuse it here too, so that a query that runs on one backend runs on both.
            projected = {str(v) for v in result.vars or ()}
            for name in variables:
                if name not in projected:
                    raise unprojected_error(name)
        return result

    def select(self, query: str, bindings: Bindings | None = None) -> Rows:
        """Run a SELECT query (see :class:`emdkg.store.Store`)."""
        result = self._query(query, bindings)
        if result.type != "SELECT":
            raise QueryError("select() needs a SELECT query")
        names = [str(v) for v in result.vars or ()]
        rows = Rows(names)
        try:
            for solution in result:
                rows.append(
                    {
                        name: None if (term := solution[i]) is None else _value(term)
                        for i, name in enumerate(names)
                    }
                )
        except Exception as e:
            raise QueryError(f"SPARQL error: {e}") from None
        return rows

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        """Run an ASK query (see :class:`emdkg.store.Store`)."""
        result = self._query(query, bindings)
        if result.type != "ASK":
            raise QueryError("ask() needs an ASK query")
        return bool(result.askAnswer)

    def construct(
        self, query: str, bindings: Bindings | None = None, *, format: str = "ntriples"
    ) -> bytes:
        """Run a CONSTRUCT or DESCRIBE query (see :class:`emdkg.store.Store`)."""
        result = self._query(query, bindings)
        if result.type not in ("CONSTRUCT", "DESCRIBE"):
            raise QueryError("construct() needs a CONSTRUCT or DESCRIBE query")
        graph = result.graph
        assert graph is not None
        return graph.serialize(format=FORMATS[format_name(format)][1], encoding="utf-8")

    def serialize(self, format: str = "nquads", *, prefixes: Mapping[str, str] | None = None) -> bytes:
        """The whole store in ``format`` (see :class:`emdkg.store.Store`)."""
        _, rdflib_format, has_graphs = FORMATS[format_name(format)]
        if has_graphs:
            target: Graph = self._dataset
        else:
            target = Graph()
            for triple in self._dataset.triples((None, None, None)):  # the union
                target.add(triple)
        for prefix, namespace in (prefixes or {}).items():
            target.bind(prefix, namespace, override=True)
        return target.serialize(format=rdflib_format, encoding="utf-8")
