"""One compliance suite for every store: each named query, with its header's example
parameters, gives the same rows on every backend as on the embedded default (pyoxigraph).

Adding a backend: append its name to :data:`BACKENDS` and provide a fixture named
``store_<name>`` (any scope; session is best) that returns a :class:`~emdkg.store.Store` holding
the bundled knowledge graph, or calls ``pytest.skip`` when the backend cannot run here (no
server installed). For a remote store, for example::

    BACKENDS.append("remote")          # in the module that defines the fixture, or here

    @pytest.fixture(scope="session")
    def store_remote(oxigraph_server, kb_release):
        return remote_store_for_files(oxigraph_server, ...)

Names are resolved on each backend by that backend's own term index, so the index query is
checked too.
"""

from __future__ import annotations

from typing import Any

import pytest

from emdkg.queries import get, names, run
from emdkg.resources import bundled_rdf_files
from emdkg.store import Rows, Store, load_files
from emdkg.terms import INDEX_QUERY, TermIndex, index_for

#: The backends every named query runs on. The first is the reference. ``oxigraph_server`` is
#: the release put into a live Oxigraph server by ``emdkg load`` and queried over HTTP
#: (fixture in tests/servers.py).
BACKENDS: list[Any] = ["oxigraph", "rdflib", pytest.param("oxigraph_server", marks=pytest.mark.server)]


@pytest.fixture(scope="session")
def store_oxigraph() -> Store:
    return load_files(bundled_rdf_files(), backend="oxigraph")


@pytest.fixture(scope="session")
def store_rdflib() -> Store:
    return load_files(bundled_rdf_files(), backend="rdflib")


def normalised(rows: Rows) -> list[list[tuple[str, str, str | None, object]]]:
    """Rows with each value's type and language tag made visible (``IRI("x") == "x"`` hides it)."""
    out = []
    for row in rows:
        cells = []
        for key, value in row.items():
            cells.append((key, type(value).__name__, getattr(value, "lang", None), value))
        out.append(cells)
    return out


@pytest.fixture(scope="session")
def reference(store_oxigraph: Store) -> dict[str, Rows]:
    """Every named query run on the reference backend with its example parameters."""
    return {name: run(store_oxigraph, name, **get(name).example_params()) for name in names()}


def _store(request: pytest.FixtureRequest, backend: str) -> Store:
    return request.getfixturevalue(f"store_{backend}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", names())
def test_named_query_gives_the_same_rows(
    request: pytest.FixtureRequest, name: str, backend: str, reference: dict[str, Rows]
) -> None:
    store = _store(request, backend)
    expected = reference[name]
    assert expected, f"the example of {name!r} should return rows"
    rows = run(store, name, **get(name).example_params())
    assert rows.variables == get(name).columns
    assert normalised(rows) == normalised(expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_term_index_is_the_same(request: pytest.FixtureRequest, backend: str, store_oxigraph: Store) -> None:
    store = _store(request, backend)
    mine, theirs = index_for(store), index_for(store_oxigraph)
    assert isinstance(mine, TermIndex) and len(mine) == len(theirs)
    for text, kind in [("MM", "disease"), ("relapsed", "phase"), ("Yoon 2020", "publication"),
                       ("UBERON:0002097", "site"), ("VDCP", "regimen")]:
        assert mine.resolve(text, kind) == theirs.resolve(text, kind)
    rows = store.select(INDEX_QUERY)
    assert len(rows) == len(store_oxigraph.select(INDEX_QUERY))


@pytest.mark.parametrize("backend", BACKENDS)
def test_api_sites_on_every_backend(request: pytest.FixtureRequest, backend: str) -> None:
    from emdkg.api import KnowledgeGraph

    kg = KnowledgeGraph(_store(request, backend))
    assert [r.site for r in kg.sites("multiple myeloma", "relapse")] == [
        "breast", "central nervous system", "kidney", "liver", "lymph node", "pericardium", "pleura",
    ]
