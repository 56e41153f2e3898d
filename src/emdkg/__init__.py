"""emdkg: a knowledge graph of extramedullary disease in hematologic malignancies.

Importing the package is cheap; the heavy parts load when used.

>>> import emdkg
>>> emdkg.__version__
'0.1.0'
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from emdkg.errors import (
    EmdkgError,
    InputError,
    QueryError,
    RemoteError,
    UnknownTermError,
)

if TYPE_CHECKING:
    from emdkg.store import Store

# The single source of the version: hatchling reads it from here at build time.
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "load",
    "EmdkgError",
    "InputError",
    "QueryError",
    "RemoteError",
    "UnknownTermError",
]


def load(
    paths: Iterable[str | os.PathLike[str]] | None = None,
    *,
    backend: str = "oxigraph",
    include_bundled: bool = True,
) -> Store:
    """A store holding the bundled knowledge graph (unless ``include_bundled=False``) and ``paths``.

    >>> store = load(include_bundled=False)
    >>> store.backend, len(store)
    ('oxigraph', 0)
    """
    from emdkg.resources import bundled_rdf_files
    from emdkg.store import load_files

    files = bundled_rdf_files() if include_bundled else []
    return load_files([*files, *(paths or ())], backend=backend)
