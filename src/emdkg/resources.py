"""Where the bundled ontology, shapes and queries are: in a checkout or in an installed wheel.

A wheel carries them inside the package (``emdkg/data/ontology`` etc., mapped there by the
build backend); a git checkout or editable install has them at the top of the repository.
The location is found from this module's own file rather than ``importlib.resources``: a wheel
is always installed unpacked, and ``importlib.resources`` costs ~30 ms of start-up.

>>> (ontology_dir() / "README.md").is_file()
True
>>> all(p.suffix == ".ttl" for p in bundled_rdf_files())
True
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from emdkg.errors import EmdkgError

__all__ = [
    "data_root",
    "checkout_root",
    "ontology_dir",
    "shapes_dir",
    "queries_dir",
    "bundled_rdf_files",
    "seeds_dir",
]

_PACKAGE = Path(__file__).resolve().parent


@cache
def checkout_root() -> Path | None:
    """The repository root when running from a checkout (or an editable install), else None."""
    root = _PACKAGE.parent.parent  # <root>/src/emdkg
    if (root / "pyproject.toml").is_file() and (root / "ontology").is_dir():
        return root
    return None


@cache
def data_root() -> Path:
    """The folder holding ``ontology/``, ``shapes/`` and ``queries/``."""
    installed = _PACKAGE / "data"
    if (installed / "ontology").is_dir():
        return installed
    root = checkout_root()
    if root is not None:
        return root
    raise EmdkgError(
        f"the bundled ontology is missing: neither {installed / 'ontology'} nor a checkout's "
        "ontology/ exists (reinstall emdkg)"
    )


def ontology_dir() -> Path:
    """The ontology folder: ``emdkg.ttl``, ``imports/``, ``kb/``."""
    return data_root() / "ontology"


def shapes_dir() -> Path:
    """The SHACL shapes folder."""
    return data_root() / "shapes"


def queries_dir() -> Path:
    """The named SPARQL queries folder."""
    return data_root() / "queries"


def bundled_rdf_files(ontology: Path | None = None) -> list[Path]:
    """The RDF files of the bundled knowledge graph, in a fixed order.

    ``emdkg.ttl`` first, then ``imports/*.ttl``, then ``kb/*.ttl``, each group sorted by name.
    ``ontology`` defaults to :func:`ontology_dir`.

    >>> [p.name for p in bundled_rdf_files()][:1] in ([], ["emdkg.ttl"])
    True
    """
    base = ontology_dir() if ontology is None else ontology
    header = base / "emdkg.ttl"
    files = [header] if header.is_file() else []
    for folder in ("imports", "kb"):
        files.extend(sorted(p for p in (base / folder).glob("*.ttl") if p.is_file()))
    return files


def seeds_dir() -> Path | None:
    """The source documents folder: ``$EMDKG_SEEDS``, else ``../shared/seeds`` beside the checkout.

    None when neither exists (an installed wheel has no checkout beside it).
    """
    configured = os.environ.get("EMDKG_SEEDS")
    if configured:
        path = Path(configured)
        return path if path.is_dir() else None
    root = checkout_root()
    if root is None:
        return None
    seeds = root.parent / "shared" / "seeds"
    return seeds if seeds.is_dir() else None
