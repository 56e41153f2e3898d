"""The named competency queries: ``queries/<name>.rq``, run with parameters bound as RDF terms.

Each file is plain SPARQL that starts with a ``#+`` header (SPARQL comments, so the file runs
as it is)::

    #+ summary: one line: the question the query answers
    #+ description: what it returns and which facts it reads; continuation lines are
    #+   indented under the key
    #+ params:
    #+   - disease (disease, required): what the parameter means
    #+   - phase (phase, default emdkg:DiseasePhase): an optional parameter and its default
    #+ example: emdkg query sites --param disease="multiple myeloma" --param phase=relapse
    #+ columns: site, iri, sources (list), quote

A parameter line gives the parameter's name, its *kind* (what :mod:`emdkg.terms` accepts for
it: ``disease``, ``site``, ``phase``, ``treatment_phase``, ``therapy``, ``regimen``,
``publication`` or ``entity``), and ``required`` or ``default <CURIE or <IRI>>``; a query with
no parameters says ``#+ params: (none)``. Parameter ``NAME`` is the SPARQL variable
``?NAME_param``, which the SELECT projects (pyoxigraph substitutes only projected variables).
Columns marked ``(list)`` are ``GROUP_CONCAT(...; SEPARATOR="|")`` values; rows carry them as
sorted tuples.

:func:`run` resolves every parameter to an IRI (label, synonym, CURIE or IRI, checked against
the kind), fills in the defaults, and hands the *unchanged file text* to the store with the
IRIs as bindings: user text never becomes query text.

>>> from emdkg.store import load_files
>>> from emdkg.resources import bundled_rdf_files
>>> store = load_files(bundled_rdf_files())
>>> rows = run(store, "incidence", disease="MM")
>>> [(str(r["phase"]), r["min_percent"], r["max_percent"]) for r in rows]
[('at diagnosis', Decimal('0.5'), Decimal('4.8')), ('relapsed/refractory', Decimal('3.4'), Decimal('14'))]
>>> rows[0]["sources"]
('doi:10.1038/s41408-022-00643-3', 'pmid:35314675')
>>> run(store, "incidence", disease="MM", stage="relapse")
Traceback (most recent call last):
...
emdkg.errors.QueryError: unknown parameter 'stage' for query 'incidence' (parameters: disease, phase)
>>> run(store, "incidense")
Traceback (most recent call last):
...
emdkg.errors.QueryError: unknown query 'incidense': did you mean 'incidence'? (named queries: citations, evidence, incidence, ...)
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emdkg.errors import EmdkgError, QueryError, UnknownTermError
from emdkg.store import Rows, Store
from emdkg.terms import ALL_KINDS, Term, TermIndex, expand_curie, index_for
from emdkg.values import IRI, split_sorted

__all__ = ["Param", "NamedQuery", "registry", "names", "get", "run", "bindings_for", "shape_rows"]

LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class Param:
    """A parameter of a named query."""

    name: str
    kind: str
    required: bool
    default: str | None  #: the default as written in the header (a CURIE or an IRI)
    description: str

    @property
    def variable(self) -> str:
        """The SPARQL variable the value is bound to (``?<name>_param``)."""
        return f"{self.name}_param"

    def default_iri(self) -> IRI | None:
        """The default as an IRI, or None for a required parameter."""
        if self.default is None:
            return None
        if self.default.startswith("<") and self.default.endswith(">"):
            return IRI(self.default[1:-1])
        expanded = expand_curie(self.default)
        if expanded is None:
            raise EmdkgError(f"parameter {self.name!r}: cannot expand the default {self.default!r}")
        return IRI(expanded)


@dataclass(frozen=True)
class NamedQuery:
    """A named query: its header and its SPARQL text (the whole file, header included)."""

    name: str
    summary: str
    description: str
    params: tuple[Param, ...]
    example: str
    columns: tuple[str, ...]
    list_columns: frozenset[str]
    text: str = field(repr=False)
    path: Path | None = None

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise self.unknown_param(name)

    def unknown_param(self, name: str) -> QueryError:
        if not self.params:
            return QueryError(f"unknown parameter {name!r}: query {self.name!r} takes no parameters")
        allowed = ", ".join(p.name for p in self.params)
        return QueryError(f"unknown parameter {name!r} for query {self.name!r} (parameters: {allowed})")

    def example_params(self) -> dict[str, str]:
        """The ``--param key=value`` pairs of the header's example command."""
        out: dict[str, str] = {}
        words = shlex.split(self.example)
        for i, word in enumerate(words):
            value = None
            if word == "--param" and i + 1 < len(words):
                value = words[i + 1]
            elif word.startswith("--param="):
                value = word[len("--param="):]
            if value is not None:
                key, _, val = value.partition("=")
                out[key] = val
        return out


_KEY_RE = re.compile(r"#\+ ([a-z]+):\s?(.*)")
_PARAM_RE = re.compile(
    r"-\s+([a-z][a-z0-9_]*)\s+\(\s*([a-z_]+)\s*,\s*(required|default\s+(\S+))\s*\)\s*:\s*(.*)"
)
_KEYS = ("summary", "description", "params", "example", "columns")


def parse(text: str, name: str, path: Path | None = None) -> NamedQuery:
    """A :class:`NamedQuery` from the text of a ``.rq`` file; header errors name the line."""
    where = str(path or name)
    fields: dict[str, str] = {}
    params: list[dict[str, Any]] = []
    key: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("#+"):
            if fields:  # the header is the first block of #+ lines
                break
            continue

        def fail(reason: str, number: int = number) -> EmdkgError:
            return EmdkgError(f"{where}:{number}: {reason}")

        match = _KEY_RE.fullmatch(line.rstrip())
        if match:
            key, value = match.groups()
            if key not in _KEYS:
                raise fail(f"unknown header key {key!r} (one of: {', '.join(_KEYS)})")
            if key in fields:
                raise fail(f"header key {key!r} given twice")
            fields[key] = value.strip()
            continue
        body = line[2:]
        if not body.startswith("  ") or key is None:
            raise fail("a header line is '#+ key: value' or an indented continuation '#+   ...'")
        body = body.strip()
        if key == "params":
            if body.startswith("- "):
                param = _PARAM_RE.fullmatch(body)
                if param is None:
                    raise fail("a parameter is '- name (kind, required): meaning' or "
                               "'- name (kind, default CURIE): meaning'")
                pname, kind, status, default, description = param.groups()
                if kind not in ALL_KINDS:
                    raise fail(f"unknown kind {kind!r} (one of: {', '.join(ALL_KINDS)})")
                params.append({"name": pname, "kind": kind, "required": status == "required",
                               "default": default, "description": description})
            elif params:
                params[-1]["description"] += " " + body
            else:
                raise fail("expected '- name (kind, ...): meaning'")
        else:
            fields[key] += " " + body
    missing = [k for k in _KEYS if k not in fields]
    if missing:
        raise EmdkgError(f"{where}: the header lacks {', '.join(missing)}")
    if fields["params"] not in ("", "(none)"):
        raise EmdkgError(f"{where}: write the parameters on the lines after '#+ params:'")
    columns: list[str] = []
    lists: set[str] = set()
    for column in fields["columns"].split(","):
        column = column.strip()
        if column.endswith("(list)"):
            column = column[: -len("(list)")].strip()
            lists.add(column)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", column):
            raise EmdkgError(f"{where}: bad column name {column!r}")
        columns.append(column)
    query = NamedQuery(
        name=name,
        summary=fields["summary"],
        description=fields["description"],
        params=tuple(Param(**p) for p in params),
        example=fields["example"],
        columns=tuple(columns),
        list_columns=frozenset(lists),
        text=text,
        path=path,
    )
    for param in query.params:
        if not re.search(rf"\?{param.variable}\b", text):
            raise EmdkgError(f"{where}: parameter {param.name!r} is not used as ?{param.variable}")
        param.default_iri()  # a default we cannot expand fails now, not at run time
    return query


def load(path: Path) -> NamedQuery:
    """Read one ``.rq`` file (its bytes, decoded as UTF-8: the text the engine receives)."""
    return parse(path.read_bytes().decode("utf-8"), path.stem, path)


_REGISTRIES: dict[Path | None, dict[str, NamedQuery]] = {}


def registry(directory: Path | None = None) -> dict[str, NamedQuery]:
    """Every named query of ``directory`` (default: the bundled queries folder), by name.

    Only the folder's own ``*.rq`` files count (``qc/`` holds quality-control queries).
    """
    if directory is None:
        if None not in _REGISTRIES:  # the bundled folder, remembered: run() asks every time
            from emdkg.resources import queries_dir

            _REGISTRIES[None] = registry(queries_dir())
        return _REGISTRIES[None]
    directory = Path(directory)
    if directory not in _REGISTRIES:
        _REGISTRIES[directory] = {p.stem: load(p) for p in sorted(directory.glob("*.rq")) if p.is_file()}
    return _REGISTRIES[directory]


def names() -> list[str]:
    """The names of the bundled named queries, sorted."""
    return sorted(registry())


def get(name: str) -> NamedQuery:
    """The named query ``name``; an unknown name is an error that lists the names."""
    queries = registry()
    if name in queries:
        return queries[name]
    close = difflib.get_close_matches(name, list(queries), n=3, cutoff=0.6)
    hint = "did you mean " + ", ".join(repr(c) for c in close) + "? " if close else ""
    raise QueryError(f"unknown query {name!r}: {hint}(named queries: {', '.join(sorted(queries))})")


def bindings_for(
    store: Store, query: NamedQuery, params: Mapping[str, Any], index: TermIndex | None = None
) -> dict[str, IRI]:
    """The SPARQL bindings for ``params``: each value resolved to an IRI of the parameter's kind.

    Values are texts (label, synonym, CURIE, IRI), :class:`~emdkg.values.IRI` values or
    :class:`~emdkg.terms.Term` objects; ``None`` means "not given". Missing optional
    parameters get the header's default.
    """
    for key in params:
        if not any(p.name == key for p in query.params):
            raise query.unknown_param(key)
    bindings: dict[str, IRI] = {}
    for param in query.params:
        value = params.get(param.name)
        if value is None:
            if param.required:
                raise QueryError(f"query {query.name!r} needs the parameter {param.name!r}")
            default = param.default_iri()
            assert default is not None
            bindings[param.variable] = default
            continue
        if index is None:
            index = index_for(store)
        text = value.iri if isinstance(value, Term) else value
        if not isinstance(text, str):
            raise QueryError(f"parameter {param.name!r}: expected a name or an IRI, not {type(value).__name__}")
        try:
            term = index.resolve(text, param.kind)
        except UnknownTermError as e:
            if param.name == param.kind:
                raise
            raise UnknownTermError(f"{param.name} ({param.kind.replace('_', ' ')})", e.name, e.suggestions) from None
        bindings[param.variable] = term.iri
    return bindings


def shape_rows(query: NamedQuery, rows: Rows) -> Rows:
    """The header's columns of ``rows``, in order; list columns as sorted tuples."""
    missing = [c for c in query.columns if c not in rows.variables]
    if missing:
        raise QueryError(f"named query {query.name!r} does not project its column(s) {', '.join(missing)}")
    lists = query.list_columns
    return Rows(
        query.columns,
        (
            {
                column: tuple(item for item in split_sorted(row[column], LIST_SEPARATOR) if item)
                if column in lists
                else row[column]
                for column in query.columns
            }
            for row in rows
        ),
    )


def run(store: Store, name: str, index: TermIndex | None = None, /, **params: Any) -> Rows:
    """Run the named query ``name`` on ``store`` with ``params`` (see :func:`bindings_for`).

    Returns :class:`~emdkg.store.Rows` with the header's columns. ``index`` (positional) is the
    store's :class:`~emdkg.terms.TermIndex` when the caller already has it.
    """
    query = get(name)
    bindings = bindings_for(store, query, params, index)
    return shape_rows(query, store.select(query.text, bindings))
