"""emdkg: a knowledge graph of extramedullary disease in hematologic malignancies.

Importing the package is cheap; the heavy parts load when used.

>>> import emdkg
>>> emdkg.__version__
'0.1.0'
>>> kg = emdkg.load()
>>> [r.site for r in kg.sites("multiple myeloma", "relapse")]
['breast', 'central nervous system', 'kidney', 'liver', 'lymph node', 'pericardium', 'pleura']

The API (:mod:`emdkg.api`): :func:`load` (or ``connect(url)`` for a SPARQL endpoint) gives a
:class:`KnowledgeGraph` with ``sites()``,
``query()``, ``sparql()``, ``resolve()``, ``graph()`` and ``queries()``; rows are
:class:`SiteRow` and :class:`Row`; names resolve to :class:`Term`. ``KnowledgeGraph(store)``
wraps any :class:`~emdkg.store.Store`, embedded or remote.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from emdkg.errors import (
    EmdkgError,
    InputError,
    QueryError,
    RemoteError,
    UnknownTermError,
)

if TYPE_CHECKING:
    from emdkg.api import KnowledgeGraph, Row, SiteRow
    from emdkg.terms import Term

# The single source of the version: hatchling reads it from here at build time.
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "load",
    "connect",
    "KnowledgeGraph",
    "SiteRow",
    "Row",
    "Term",
    "EmdkgError",
    "InputError",
    "QueryError",
    "RemoteError",
    "UnknownTermError",
]

# Names served lazily from their modules, so that `import emdkg` imports neither the store
# nor rdflib nor networkx.
_LAZY = {
    "connect": "emdkg.api",
    "KnowledgeGraph": "emdkg.api",
    "SiteRow": "emdkg.api",
    "Row": "emdkg.api",
    "Term": "emdkg.terms",
}


def load(
    paths: Iterable[str | os.PathLike[str]] | None = None,
    *,
    backend: str = "oxigraph",
    include_bundled: bool = True,
) -> KnowledgeGraph:
    """A :class:`KnowledgeGraph` of the bundled knowledge graph (unless ``include_bundled=False``)
    and the RDF files ``paths``, in a fresh store of ``backend`` (``oxigraph`` or ``rdflib``).

    >>> kg = load(include_bundled=False)
    >>> kg.backend, len(kg)
    ('oxigraph', 0)
    """
    from emdkg.api import load as _load

    return _load(paths, backend=backend, include_bundled=include_bundled)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
