"""Triple stores behind one small interface, and the loader that fills them from files.

Two in-process backends give *identical rows* for the same query over the same files:

* :class:`OxigraphStore` (the default): pyoxigraph, fast, imports in a few milliseconds.
* :class:`RdflibStore`: rdflib, slow but the library pyshacl and friends speak; rdflib is
  imported only when this backend is chosen (it costs ~85 ms of start-up).

Rows are ``list[dict[str, object]]`` (a :class:`Rows`, which also knows its column names).
Each row has a key for *every* projected variable, in projection order; an unbound variable is
``None``. Values are the engine-neutral types of :mod:`emdkg.values`.

Queries are portable between the backends when they follow four rules:

1. **Bind, never paste.** Parameters go in ``bindings``; they reach the engine as RDF terms
   (SPARQL substitution in pyoxigraph, ``initBindings`` in rdflib), never as query text.
2. **A bound variable of a SELECT must be projected** (pyoxigraph's substitution rule; the
   rdflib backend enforces the same rule so a query that runs on one runs on the other).
   ``None`` bindings are dropped: the variable stays free.
3. **Order with ORDER BY**, and do not rely on the order inside ``GROUP_CONCAT`` (engines
   differ; use :func:`emdkg.values.split_sorted`), on ``SELECT *`` column order, on blank node
   ids, or on the digits of inexact decimal division (``1/3``): round in the query.
4. **Aggregate only bound values**: ``SUM(?x)``/``AVG(?x)`` over a group where ``?x`` is
   sometimes unbound is unbound in pyoxigraph (the spec: an error poisons the aggregate) but
   skips the gaps in rdflib. Write ``SUM(COALESCE(?x, 0))`` or filter with ``BOUND(?x)``.
   The same goes for ``GROUP_CONCAT(DISTINCT ?x)``: rdflib raises "Variable x is not bound"
   when ?x is unbound in a row, and a group with no value at all gives ``""`` in rdflib but
   unbound in pyoxigraph. Write ``GROUP_CONCAT(DISTINCT COALESCE(?x, ""))`` and drop the
   empty items after splitting.

The default graph of every query is the union of all graphs, so a finding is found whether its
file was loaded as triples or as quads into a named graph.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d, "kb.ttl")
...     _ = path.write_text('<https://e.org/mm> <https://e.org/site> <https://e.org/skin> .')
...     store = load_files([path])
>>> len(store)
1
>>> store.select("SELECT ?site WHERE { ?d <https://e.org/site> ?site }",
...              {"d": IRI("https://e.org/mm")})
Traceback (most recent call last):
...
emdkg.errors.QueryError: bound variable ?d is not in the SELECT projection (project it: SELECT ?d ...)
>>> store.select("SELECT ?d ?site WHERE { ?d <https://e.org/site> ?site }",
...              {"d": IRI("https://e.org/mm")})
[{'d': IRI('https://e.org/mm'), 'site': IRI('https://e.org/skin')}]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pyoxigraph as ox

from emdkg.errors import EmdkgError, InputError, QueryError
from emdkg.values import (
    IRI,
    BNode,
    LangString,
    Value,
    literal_value,
    split_sorted,
    term_spec,
)

if TYPE_CHECKING:
    from emdkg.rdflib_store import RdflibStore

__all__ = [
    "IRI",
    "BNode",
    "LangString",
    "Value",
    "split_sorted",
    "Rows",
    "Bindings",
    "Store",
    "OxigraphStore",
    "RdflibStore",
    "BACKENDS",
    "FORMATS",
    "format_for_path",
    "new_store",
    "load_files",
]

#: Bindings for a query: variable name (with or without ``?``) -> value. ``None`` is skipped.
Bindings = Mapping[str, "Value | None"]

#: The backends :func:`load_files` knows.
BACKENDS = ("oxigraph", "rdflib")

#: Format name -> (pyoxigraph format, rdflib format name, holds named graphs?)
FORMATS: dict[str, tuple[ox.RdfFormat, str, bool]] = {
    "turtle": (ox.RdfFormat.TURTLE, "turtle", False),
    "ntriples": (ox.RdfFormat.N_TRIPLES, "nt", False),
    "nquads": (ox.RdfFormat.N_QUADS, "nquads", True),
    "trig": (ox.RdfFormat.TRIG, "trig", True),
    "rdfxml": (ox.RdfFormat.RDF_XML, "xml", False),
    "jsonld": (ox.RdfFormat.JSON_LD, "json-ld", True),
}

_EXTENSIONS = {
    ".ttl": "turtle",
    ".nt": "ntriples",
    ".nq": "nquads",
    ".trig": "trig",
    ".rdf": "rdfxml",
    ".owl": "rdfxml",
    ".jsonld": "jsonld",
}
_ALIASES = {
    "ttl": "turtle",
    "nt": "ntriples",
    "nq": "nquads",
    "xml": "rdfxml",
    "rdf": "rdfxml",
    "owl": "rdfxml",
    "json-ld": "jsonld",
}


def format_name(name: str) -> str:
    """The canonical format name for a name or alias (``"ttl"`` -> ``"turtle"``).

    >>> format_name("ttl"), format_name("nq")
    ('turtle', 'nquads')
    """
    canonical = _ALIASES.get(name.lower(), name.lower())
    if canonical not in FORMATS:
        raise EmdkgError(f"unknown RDF format {name!r} (one of: {', '.join(FORMATS)})")
    return canonical


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The format of an RDF file, from its extension.

    >>> format_for_path("ontology/kb/blade-2022.ttl"), format_for_path("emdkg.owl")
    ('turtle', 'rdfxml')
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise InputError(
            f"unsupported file type {suffix or '(no extension)'!r}; "
            f"expected one of {' '.join(sorted(_EXTENSIONS))}",
            path=path,
            hint="name the file after its format (.ttl for Turtle)",
        )
    return _EXTENSIONS[suffix]


class Rows(list[dict[str, Any]]):
    """Query result rows; a ``list`` that also knows its column names (``variables``).

    >>> rows = Rows(["d", "n"], [{"d": IRI("x"), "n": 2}])
    >>> rows == [{"d": "x", "n": 2}], rows.variables
    (True, ('d', 'n'))
    """

    def __init__(self, variables: Iterable[str], rows: Iterable[dict[str, Any]] = ()) -> None:
        super().__init__(rows)
        self.variables: tuple[str, ...] = tuple(variables)


@runtime_checkable
class Store(Protocol):
    """What every store offers; results use the neutral values of :mod:`emdkg.values`."""

    backend: str

    def select(self, query: str, bindings: Bindings | None = None) -> Rows:
        """Run a SELECT query; one dict per solution, every projected variable a key."""
        ...

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        """Run an ASK query."""
        ...

    def construct(
        self, query: str, bindings: Bindings | None = None, *, format: str = "ntriples"
    ) -> bytes:
        """Run a CONSTRUCT or DESCRIBE query; the graph serialized in ``format``.

        The bytes differ between backends (term order, escaping, blank node ids); the graphs
        they encode are the same.
        """
        ...

    def serialize(self, format: str = "nquads", *, prefixes: Mapping[str, str] | None = None) -> bytes:
        """The whole store in ``format``; a triple format merges all graphs."""
        ...

    def __len__(self) -> int:
        """The number of quads (a triple in two graphs counts twice)."""
        ...

    def load_bytes(self, data: bytes, format: str, *, base_iri: str | None = None) -> None:
        """Parse RDF ``data`` in ``format`` (a :data:`FORMATS` name) into the store.

        All or nothing: on an :class:`~emdkg.errors.InputError` (with line and column when the
        parser gives them) the store is unchanged. Triple formats load into the default graph.
        """
        ...


def _variable_names(bindings: Bindings | None) -> dict[str, Value]:
    if not bindings:
        return {}
    return {name.lstrip("?$"): value for name, value in bindings.items() if value is not None}


def unprojected_error(name: str) -> QueryError:
    """The error both backends raise for a bound variable a SELECT does not project."""
    return QueryError(
        f"bound variable ?{name} is not in the SELECT projection (project it: SELECT ?{name} ...)"
    )


def _ox_term(value: Value) -> ox.NamedNode | ox.Literal:
    kind, text, extra = term_spec(value)
    if kind == "iri":
        return ox.NamedNode(text)
    if kind == "lang":
        return ox.Literal(text, language=extra)
    return ox.Literal(text, datatype=ox.NamedNode(extra))


def _ox_value(term: Any) -> object:
    kind = type(term)
    if kind is ox.NamedNode:
        return IRI(term.value)
    if kind is ox.Literal:
        lang = term.language
        if lang:
            return LangString(term.value, lang)
        return literal_value(term.value, term.datatype.value)
    if kind is ox.BlankNode:
        return BNode(term.value)
    if kind is ox.Triple:  # RDF-star quoted triple
        return (_ox_value(term.subject), _ox_value(term.predicate), _ox_value(term.object))
    raise TypeError(f"unexpected term {term!r}")


_OX_LOCATION = re.compile(
    r"^(?:Parser error )?(?:at|between) line \d+ (?:column \d+(?: and line \d+ column \d+)?"
    r"|between columns \d+ and \d+|column \d+): "
)


class OxigraphStore:
    """An in-memory pyoxigraph store (the default backend).

    >>> s = OxigraphStore()
    >>> s.load_bytes(b'<https://e.org/a> <https://e.org/p> "1.50"^^<http://www.w3.org/2001/XMLSchema#decimal> .', "turtle")
    >>> s.select("SELECT ?v WHERE { ?a ?p ?v }")
    [{'v': Decimal('1.5')}]
    >>> s.ask("ASK { ?a ?p ?v }")
    True
    """

    backend = "oxigraph"

    def __init__(self) -> None:
        self._store = ox.Store()

    @property
    def native(self) -> ox.Store:
        """The underlying ``pyoxigraph.Store``, for what this interface does not cover."""
        return self._store

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        return f"<OxigraphStore with {len(self)} quads>"

    def load_bytes(self, data: bytes, format: str, *, base_iri: str | None = None) -> None:
        """Parse RDF into the store (see :class:`Store`); pyoxigraph loads transactionally."""
        rdf_format = FORMATS[format_name(format)][0]
        try:
            self._store.load(data, format=rdf_format, base_iri=base_iri)
        except SyntaxError as e:
            reason = _OX_LOCATION.sub("", e.msg or str(e))
            raise InputError(reason, line=e.lineno, column=e.offset) from None
        except (ValueError, OSError) as e:
            raise InputError(str(e)) from None
        except MemoryError as e:  # pyoxigraph's bound on one token (16 MiB)
            raise InputError(f"a literal or IRI too long to parse ({e})") from None

    def _query(self, query: str, bindings: Bindings | None) -> Any:
        variables = _variable_names(bindings)
        substitutions = {ox.Variable(name): _ox_term(value) for name, value in variables.items()}
        try:
            return self._store.query(
                query, substitutions=substitutions or None, use_default_graph_as_union=True
            )
        except SyntaxError as e:
            raise QueryError(f"SPARQL syntax error: {e.msg or e}") from None
        except RuntimeError as e:
            match = re.search(r"does not contains? variable \?(\S+) in its SELECT projection", str(e))
            if match:
                raise unprojected_error(match.group(1)) from None
            raise QueryError(str(e)) from None
        except (ValueError, OSError) as e:
            raise QueryError(str(e)) from None

    def select(self, query: str, bindings: Bindings | None = None) -> Rows:
        """Run a SELECT query (see :class:`Store`)."""
        result = self._query(query, bindings)
        if not isinstance(result, ox.QuerySolutions):
            raise QueryError("select() needs a SELECT query")
        names = [v.value for v in result.variables]
        rows = Rows(names)
        try:
            for solution in result:
                rows.append(
                    {
                        name: None if (term := solution[i]) is None else _ox_value(term)
                        for i, name in enumerate(names)
                    }
                )
        except (OSError, RuntimeError, ValueError) as e:  # evaluation errors surface lazily
            raise QueryError(str(e)) from None
        return rows

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        """Run an ASK query (see :class:`Store`)."""
        result = self._query(query, bindings)
        if not isinstance(result, ox.QueryBoolean):
            raise QueryError("ask() needs an ASK query")
        return bool(result)

    def construct(
        self, query: str, bindings: Bindings | None = None, *, format: str = "ntriples"
    ) -> bytes:
        """Run a CONSTRUCT or DESCRIBE query (see :class:`Store`)."""
        result = self._query(query, bindings)
        if not isinstance(result, ox.QueryTriples):
            raise QueryError("construct() needs a CONSTRUCT or DESCRIBE query")
        rdf_format = FORMATS[format_name(format)][0]
        try:
            return result.serialize(format=rdf_format)
        except (OSError, RuntimeError, ValueError) as e:
            raise QueryError(str(e)) from None

    def serialize(self, format: str = "nquads", *, prefixes: Mapping[str, str] | None = None) -> bytes:
        """The whole store in ``format`` (see :class:`Store`)."""
        rdf_format, _, has_graphs = FORMATS[format_name(format)]
        if has_graphs:
            return self._store.dump(format=rdf_format, prefixes=dict(prefixes or {}))
        triples = dict.fromkeys(quad.triple for quad in self._store)  # one copy per triple
        return ox.serialize(triples, format=rdf_format, prefixes=dict(prefixes or {}))


def new_store(backend: str = "oxigraph") -> Store:
    """An empty store of the named backend.

    >>> new_store().backend
    'oxigraph'
    """
    if backend == "oxigraph":
        return OxigraphStore()
    if backend == "rdflib":
        from emdkg.rdflib_store import RdflibStore

        return RdflibStore()
    raise EmdkgError(f"unknown backend {backend!r} (one of: {', '.join(BACKENDS)})")


_TEXT_FORMATS = {"turtle", "ntriples", "nquads", "trig", "jsonld"}

#: How each format is named in messages.
FORMAT_TITLES = {
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "nquads": "N-Quads",
    "trig": "TriG",
    "rdfxml": "RDF/XML",
    "jsonld": "JSON-LD",
}

#: The longest literal a file may hold, in characters. A label, a definition or a quoted
#: sentence is a few hundred; a literal of megabytes is a mistake (an unclosed quote that
#: swallowed the rest of a file, a pasted document) that would slow every query and page.
MAX_LITERAL_CHARS = 1_000_000


def _read(path: Path) -> bytes:
    try:
        if path.exists() and not path.is_file():  # a pipe or a device: reading could block forever
            raise InputError(
                "not a regular file (a pipe, socket or device)", path=path, hint="give an RDF file"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path=path, hint="check the path") from None
    except PermissionError:
        raise InputError(
            "permission denied", path=path, hint="make the file readable (chmod u+r) or run as its owner"
        ) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=path, hint="check the file") from None
    if not data.strip():
        raise InputError(
            "empty file" if not data else "empty file (only white space)",
            path=path,
            hint="add the RDF content, or leave the file out",
        )
    return data


def _check_utf8(data: bytes, path: Path) -> None:
    # One clear message for binary files, the same on both backends (rdflib would otherwise
    # raise a bare UnicodeDecodeError).
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise InputError(
            f"not UTF-8 text (byte 0x{data[e.start]:02x}: a binary file?)",
            path=path,
            line=line,
            column=column,
            hint="save it as UTF-8 text",
        ) from None
    if data.startswith(b"\xef\xbb\xbf"):
        # The parsers read a byte order mark as a (bad) first character; say what it is.
        raise InputError(
            "starts with a byte order mark (BOM)",
            path=path,
            line=1,
            column=1,
            hint="save it as UTF-8 without BOM",
        )


_CONFLICT_MARKER = re.compile(rb"^(?:<{7}|={7}|>{7})(?: |\r?$)", re.MULTILINE)


def _check_conflict_markers(data: bytes, path: Path) -> None:
    """A file left with git merge-conflict markers gets a message saying so, not a parse error."""
    match = _CONFLICT_MARKER.search(data)
    if match is not None:
        raise InputError(
            "unresolved merge conflict (a <<<<<<< / ======= / >>>>>>> line)",
            path=path,
            line=data.count(b"\n", 0, match.start()) + 1,
            column=1,
            hint="resolve the conflict and remove the markers",
        )


def _check_literal_sizes(data: bytes, fmt: str, path: Path, base_iri: str) -> None:
    """Refuse a literal longer than :data:`MAX_LITERAL_CHARS` (only files that big are read twice)."""
    if len(data) <= MAX_LITERAL_CHARS:
        return  # no literal can be longer than its file
    try:
        for quad in ox.parse(data, format=FORMATS[fmt][0], base_iri=base_iri):
            obj = quad.object
            if isinstance(obj, ox.Literal) and len(obj.value) > MAX_LITERAL_CHARS:
                subject = getattr(quad.subject, "value", str(quad.subject))
                raise InputError(
                    f"a literal of {len(obj.value):,} characters (on <{subject}> "
                    f"<{quad.predicate.value}>) is longer than the limit of {MAX_LITERAL_CHARS:,}",
                    path=path,
                    hint="shorten it (a label, definition or quote is never this long) "
                    "or look for an unclosed quote",
                )
    except (SyntaxError, ValueError, OSError):
        return  # the real load reports the syntax error, with its line and column
    except MemoryError as e:  # pyoxigraph's bound on one token (16 MiB)
        raise InputError(
            f"a literal or IRI too long to parse ({e})",
            path=path,
            hint="shorten it (a label, definition or quote is never this long) or look for an unclosed quote",
        ) from None


def _syntax_hint(fmt: str, path: Path) -> str:
    title = FORMAT_TITLES[fmt]
    suffix = path.suffix.lower()
    return f"fix the {title} there (the file is read as {title} because its name ends in {suffix})"


def load_files(
    paths: Iterable[str | os.PathLike[str]], backend: str = "oxigraph"
) -> Store:
    """Parse RDF files into a fresh store: every file, or an :class:`InputError` and no store.

    The format comes from the extension (.ttl .nt .nq .trig .rdf .owl .jsonld). Relative IRIs
    resolve against the file's own ``file:`` URI. Errors name the file, and the line and
    column when the parser reports them.

    >>> load_files(["no/such/file.ttl"])
    Traceback (most recent call last):
    ...
    emdkg.errors.InputError: no/such/file.ttl: no such file
    """
    store = new_store(backend)
    for raw in paths:
        path = Path(raw)
        if path.is_dir():  # before the extension check, whose message would mislead
            raise InputError(
                "is a directory, not an RDF file", path=path, hint="give the RDF files in it (DIR/*.ttl)"
            )
        fmt = format_for_path(path)
        data = _read(path)
        _check_utf8(data, path)  # every format we read is UTF-8 (RDF/XML included)
        if fmt in _TEXT_FORMATS:
            _check_conflict_markers(data, path)
        base_iri = path.resolve().as_uri()
        _check_literal_sizes(data, fmt, path, base_iri)
        try:
            store.load_bytes(data, fmt, base_iri=base_iri)
        except InputError as e:
            raise e.with_path(path, hint=_syntax_hint(fmt, path)) from None
    return store


def __getattr__(name: str) -> Any:
    # RdflibStore lives in its own module so that importing this one does not import rdflib.
    if name == "RdflibStore":
        from emdkg.rdflib_store import RdflibStore

        return RdflibStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

