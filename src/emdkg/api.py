"""The Python API: a :class:`KnowledgeGraph` over any store, with typed rows.

>>> import emdkg
>>> kg = emdkg.load()
>>> [r.site for r in kg.sites("multiple myeloma", "relapse")]
['breast', 'central nervous system', 'kidney', 'liver', 'lymph node', 'pericardium', 'pleura']
>>> row = kg.sites("MONDO:0009693", "at diagnosis")[0]
>>> row.site, row.phase, row.evidence, row.sources
('skin', 'at diagnosis', 'high-grade evidence', ('doi:10.1038/s41408-022-00643-3', 'pmid:35314675'))
>>> [(r.min_percent, r.max_percent, r.population) for r in kg.query("incidence", disease="MM")]
[(Decimal('0.5'), Decimal('4.8'), 'patients with newly diagnosed MM'), (Decimal('3.4'), Decimal('14'), 'patients with relapsed/refractory MM')]
>>> kg.resolve("ALL").label
'acute lymphoblastic leukemia'
>>> kg.sites("myelom")
Traceback (most recent call last):
...
emdkg.errors.UnknownTermError: unknown disease 'myelom': did you mean 'multiple myeloma'?

Rows are frozen and easy to hand on: ``row.as_dict()`` is a plain ``dict`` (``plain=True`` makes
every value JSON-ready), and a list of rows goes straight into ``pandas.DataFrame(rows)``.

A :class:`KnowledgeGraph` works over any :class:`~emdkg.store.Store`: ``KnowledgeGraph(store)``
wraps an embedded store, an rdflib store or a remote one alike. It also forwards the store's
own methods (``select``, ``ask``, ``construct``, ``serialize``, ``load_bytes``, ``len``), so it
can be passed wherever a store is expected.
"""

from __future__ import annotations

import datetime
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from emdkg.errors import QueryError
from emdkg.store import Bindings, Rows, Store, load_files
from emdkg.values import IRI, LangString

if TYPE_CHECKING:
    from emdkg.graph import Graph
    from emdkg.terms import Term, TermIndex

__all__ = ["KnowledgeGraph", "SiteRow", "Row", "load", "connect", "query_form"]


def _value(value: Any) -> Any:
    """A row value for the API: language-tagged labels become plain ``str``."""
    if isinstance(value, LangString):
        return str(value)
    return value


def _plain(value: Any) -> Any:
    """A value as JSON data: lists for tuples, numbers for decimals, ISO text for dates."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)  # drops the IRI / LangString subclass
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class SiteRow:
    """One row of :meth:`KnowledgeGraph.sites`: a site, the phase of the finding, and its evidence.

    ``phase`` and ``phase_iri`` are None when the source states no phase; ``sources`` are DOIs
    (``doi:10.x/...``), PMIDs (``pmid:123``) or the IRI of a publication that has neither.
    """

    site: str
    iri: IRI
    phase: str | None
    phase_iri: IRI | None
    manifestation: str | None
    sources: tuple[str, ...]
    quote: str | None
    evidence: str | None

    def as_dict(self, *, plain: bool = False) -> dict[str, Any]:
        """The row as a ``dict``; with ``plain=True``, JSON-ready (lists, plain strings)."""
        data = asdict(self)
        return {k: _plain(v) for k, v in data.items()} if plain else data


class Row(Mapping[str, Any]):
    """A row of a named query or SPARQL result: a read-only mapping, columns also as attributes.

    >>> row = Row({"site": "liver", "sources": ("doi:10.1/x",)})
    >>> row["site"], row.site, list(row)
    ('liver', 'liver', ['site', 'sources'])
    >>> row.as_dict(plain=True)
    {'site': 'liver', 'sources': ['doi:10.1/x']}
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", {k: _value(v) for k, v in data.items()})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"row has no column {name!r} (columns: {', '.join(self._data)})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("rows are read-only")

    def __repr__(self) -> str:
        return f"Row({self._data!r})"

    def as_dict(self, *, plain: bool = False) -> dict[str, Any]:
        """The row as a ``dict``; with ``plain=True``, JSON-ready (lists, numbers, strings)."""
        if plain:
            return {k: _plain(v) for k, v in self._data.items()}
        return dict(self._data)


_PROLOGUE = re.compile(
    r"(?:\s+|#[^\n]*(?:\n|$)|(?i:PREFIX)\s+[^\s:]*:\s*<[^>]*>|(?i:BASE)\s+<[^>]*>)"
)
_FORM = re.compile(r"[A-Za-z]+")


def query_form(text: str) -> str:
    """The form of a SPARQL request: SELECT, ASK, CONSTRUCT, DESCRIBE, or the update keyword.

    >>> query_form("# what\\nPREFIX e: <https://e.org/#x>\\n  select * { ?s ?p ?o }")
    'SELECT'
    """
    position = 0
    while True:
        match = _PROLOGUE.match(text, position)
        if not match or match.end() == position:
            break
        position = match.end()
    word = _FORM.match(text, position)
    return word.group(0).upper() if word else ""


class KnowledgeGraph:
    """The knowledge graph behind one store: named queries, SPARQL, term lookup, graph views."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._terms: TermIndex | None = None
        self._graph: Graph | None = None

    def __repr__(self) -> str:
        return f"<KnowledgeGraph over {self.store!r}>"

    @property
    def backend(self) -> str:
        """The store's backend name (``oxigraph``, ``rdflib``, ...)."""
        return self.store.backend

    @property
    def terms(self) -> TermIndex:
        """The store's term index (labels, synonyms, identifiers, kinds); built on first use."""
        if self._terms is None:
            from emdkg.terms import index_for

            self._terms = index_for(self.store)
        return self._terms

    # -- answers -----------------------------------------------------------------------------

    def sites(self, disease: str, phase: str | None = None) -> list[SiteRow]:
        """The sites outside the marrow where ``disease`` (or a subtype) is found, in ``phase``.

        ``phase`` None means any phase, including findings that state none. Names, synonyms,
        CURIEs and IRIs are accepted for both.
        """
        from emdkg.queries import run

        rows = run(self.store, "sites", self.terms, disease=disease, phase=phase)
        return [SiteRow(**{k: _value(v) for k, v in row.items()}) for row in rows]

    def query(self, name: str, /, **params: Any) -> list[Row]:
        """The rows of the named query ``name`` (see :meth:`queries`) with ``params``."""
        from emdkg.queries import run

        return [Row(row) for row in run(self.store, name, self.terms, **params)]

    def queries(self) -> dict[str, str]:
        """The named queries: name -> the question it answers."""
        from emdkg.queries import registry

        return {name: query.summary for name, query in sorted(registry().items())}

    def sparql(self, text: str, bindings: Bindings | None = None) -> list[dict[str, Any]]:
        """Run a SPARQL query: SELECT gives its rows; ASK one row ``{"result": True/False}``;
        CONSTRUCT and DESCRIBE one row per triple (``subject``, ``predicate``, ``object``).

        Values are those of :mod:`emdkg.values` (IRIs as :class:`~emdkg.values.IRI`).
        ``bindings`` binds variables to values (never pasted into the text).

        >>> kg = load()
        >>> kg.sparql("ASK { ?s a <https://w3id.org/emdkg/FlaggedClaim> }")
        [{'result': True}]
        """
        form = query_form(text)
        if form == "SELECT":
            return self.store.select(text, bindings)
        if form == "ASK":
            return Rows(["result"], [{"result": self.store.ask(text, bindings)}])
        if form in ("CONSTRUCT", "DESCRIBE"):
            import pyoxigraph as ox

            from emdkg.store import _ox_value

            data = self.store.construct(text, bindings, format="ntriples")
            triples = sorted(
                ((_ox_value(t.subject), _ox_value(t.predicate), _ox_value(t.object))
                 for t in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)),
                key=lambda t: tuple(str(x) for x in t),
            )
            return Rows(
                ["subject", "predicate", "object"],
                [{"subject": s, "predicate": p, "object": o} for s, p, o in triples],
            )
        if not form:
            raise QueryError("not a SPARQL query (expected SELECT, ASK, CONSTRUCT or DESCRIBE)")
        raise QueryError(f"only SELECT, ASK, CONSTRUCT and DESCRIBE queries are run here, not {form}")

    def resolve(self, text: str, kind: str | None = None) -> Term:
        """The term ``text`` names (label, synonym, CURIE or IRI), optionally of a ``kind``.

        >>> load().resolve("MONDO:0009693")
        Term(iri=IRI('https://w3id.org/emdkg/MultipleMyeloma'), label='multiple myeloma', kind='disease', curie='emdkg:MultipleMyeloma')
        """
        return self.terms.resolve(text, kind)

    def graph(self) -> Graph:
        """The networkx view of the graph and its traversals (:mod:`emdkg.graph`); built once."""
        if self._graph is None:
            from emdkg.graph import Graph

            self._graph = Graph.from_store(self.store, self.terms)
        return self._graph

    # -- the Store interface, forwarded ------------------------------------------------------

    def select(self, query: str, bindings: Bindings | None = None) -> Rows:
        return self.store.select(query, bindings)

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        return self.store.ask(query, bindings)

    def construct(self, query: str, bindings: Bindings | None = None, *, format: str = "ntriples") -> bytes:
        return self.store.construct(query, bindings, format=format)

    def serialize(self, format: str = "nquads", *, prefixes: Mapping[str, str] | None = None) -> bytes:
        return self.store.serialize(format, prefixes=prefixes)

    def load_bytes(self, data: bytes, format: str, *, base_iri: str | None = None) -> None:
        """Load more RDF into the store; the term index and graph view are rebuilt on next use."""
        self.store.load_bytes(data, format, base_iri=base_iri)
        self._terms = None
        self._graph = None
        _drop_index(self.store)

    def __len__(self) -> int:
        return len(self.store)


def _drop_index(store: Any) -> None:
    from emdkg import terms

    try:
        terms._INDEXES.pop(store, None)
    except TypeError:
        pass


def load(
    paths: Iterable[str | os.PathLike[str]] | None = None,
    *,
    backend: str = "oxigraph",
    include_bundled: bool = True,
) -> KnowledgeGraph:
    """A :class:`KnowledgeGraph` over a fresh store: the bundled knowledge graph (unless
    ``include_bundled=False``) plus the RDF files ``paths``.

    >>> kg = load(include_bundled=False)
    >>> kg.backend, len(kg)
    ('oxigraph', 0)
    """
    from emdkg.resources import bundled_rdf_files

    files = bundled_rdf_files() if include_bundled else []
    return KnowledgeGraph(load_files([*files, *(paths or ())], backend=backend))


def connect(
    url: str,
    *,
    timeout: float = 30.0,
    user: str | None = None,
    password: str | None = None,
    auth: str = "auto",
) -> KnowledgeGraph:
    """A :class:`KnowledgeGraph` over a SPARQL 1.1 Protocol query endpoint (a
    :class:`~emdkg.remote_store.RemoteStore`): the same calls, run by the server.

    ``url`` is the query endpoint (Oxigraph server ``http://HOST:7878/query``, Virtuoso
    ``http://HOST:8890/sparql``); it may carry ``?default-graph-uri=<the graph emdkg load
    filled>``. ``timeout`` bounds each request in seconds; a timeout or an unreachable server
    is a :class:`~emdkg.errors.RemoteError`.
    """
    from emdkg.remote_store import RemoteStore

    return KnowledgeGraph(RemoteStore(url, timeout=timeout, user=user, password=password, auth=auth))
