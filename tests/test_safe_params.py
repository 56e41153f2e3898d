"""User text never becomes query text.

Hostile strings (quotes, braces, ``} UNION {``, newlines, IRIs with ``>``, ``#`` comments,
unicode) are passed as every parameter of every named query, through the API and through the
command line. A store that records what it is asked shows that the engine always receives the
query file's text byte for byte, with the parameters as bound IRIs of known terms of the
parameter's kind; the answer is rows or a clean "unknown name" error, never anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emdkg.errors import UnknownTermError
from emdkg.queries import get, names, run
from emdkg.resources import bundled_rdf_files, queries_dir
from emdkg.store import OxigraphStore, Rows, Store, load_files
from emdkg.terms import TermIndex, index_for
from emdkg.values import IRI

FRAGMENTS = [
    '"', "'", '"""', "'''", "{", "}", "} UNION {", "} UNION { ?s ?p ?o }", " UNION ", "\n", "\r\n", "\t",
    ">", "<", "<>", "<https://w3id.org/emdkg/MultipleMyeloma>", "https://w3id.org/emdkg/Skin>", "#",
    "# comment\n", "?s", "$p", "\\", "\\u0022", "\\n", ";", ".", ",", "(", ")", "*",
    "SELECT * WHERE { ?s ?p ?o }", "FILTER(true)", "OPTIONAL", "DROP ALL", "\x00", "\u200b",
    "é", "多发性骨髓瘤", "💥", "\U0010ffff", "multiple myeloma", "MM", "relapse", "emdkg:", "kb:",
    "MONDO:", "doi:", "pmid:", "10.1038/", "http://", "urn:x", "^^", "@en", "_:b0",
]

hostile = st.one_of(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), min_size=1, max_size=6).map("".join),
    st.text(max_size=40),
)

PARAMS = [(name, p.name) for name in names() for p in get(name).params]


class RecordingStore:
    """A real store that records every request it receives, then answers it."""

    def __init__(self, store: Store) -> None:
        self.inner = store
        self.backend = store.backend
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def select(self, query: str, bindings: Any = None) -> Rows:
        self.calls.append((query, dict(bindings or {})))
        return self.inner.select(query, bindings)


@pytest.fixture(scope="module")
def store() -> Store:
    return load_files(bundled_rdf_files())


@pytest.fixture(scope="module")
def index(store: Store) -> TermIndex:
    return index_for(store)


def file_text(name: str) -> str:
    return (queries_dir() / f"{name}.rq").read_bytes().decode("utf-8")


def check_calls(calls: list[tuple[str, dict[str, Any]]], name: str, index: TermIndex) -> None:
    query = get(name)
    kinds = {p.variable: p.kind for p in query.params}
    for text, bindings in calls:
        assert text == file_text(name), "the engine gets the file's text, unchanged"
        assert set(bindings) == set(kinds), "exactly the parameters' variables are bound"
        for variable, value in bindings.items():
            assert type(value) is IRI, "a parameter is always bound as an IRI, never a literal"
            default = query.param(variable[: -len("_param")]).default_iri()
            assert value == default or index.has_kind(value, kinds[variable]), value


@pytest.mark.parametrize("name,param", PARAMS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile)
def test_hostile_parameter_values(store: Store, index: TermIndex, name: str, param: str, text: str) -> None:
    recorder = RecordingStore(store)
    values = dict(get(name).example_params())
    values[param] = text
    try:
        rows = run(recorder, name, index, **values)
    except UnknownTermError as e:
        assert e.name == text.strip() or e.name == repr(text)
        assert "\n" not in str(e) and len(e.suggestions) <= 3
        assert recorder.calls == [], "nothing reaches the engine for an unknown name"
        return
    assert rows.variables == get(name).columns
    assert len(recorder.calls) == 1
    check_calls(recorder.calls, name, index)


def test_a_classic_injection_is_an_unknown_name(store: Store, index: TermIndex) -> None:
    recorder = RecordingStore(store)
    attack = 'multiple myeloma" } UNION { ?f ?p ?o } #'
    with pytest.raises(UnknownTermError, match="unknown disease"):
        run(recorder, "sites", index, disease=attack)
    with pytest.raises(UnknownTermError):
        run(recorder, "sites", index, disease="<https://w3id.org/emdkg/MultipleMyeloma> } UNION { ?s ?p ?o")
    assert recorder.calls == []
    rows = run(recorder, "sites", index, disease="  MULTIPLE myeloma ", phase="relapse")
    assert len(rows) == 7
    check_calls(recorder.calls, "sites", index)


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def engine_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record what the embedded engine is asked, in-process (the real select still answers)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    original = OxigraphStore.select

    def recording(self: OxigraphStore, query: str, bindings: Any = None) -> Rows:
        calls.append((query, dict(bindings or {})))
        return original(self, query, bindings)

    monkeypatch.setattr(OxigraphStore, "select", recording)
    yield calls


def check_cli(result: Any, calls: list[tuple[str, dict[str, Any]]], name: str, index: TermIndex) -> None:
    named = [(q, b) for q, b in calls if q == file_text(name) or "_param" in q]
    if result.exit_code == 0:
        assert len(named) == 1
        check_calls(named, name, index)
    else:
        assert result.exit_code == 2, result
        assert result.stdout == "" and len(result.stderr_lines) == 1, result.stderr
        assert result.stderr_lines[0].startswith("emdkg: error: unknown "), result.stderr
        assert "Traceback" not in result.stderr
        assert named == [], "nothing reaches the engine for an unknown name"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(disease=hostile, phase=hostile)
def test_hostile_sites_command(
    cli: Callable, engine_calls: list, index: TermIndex, disease: str, phase: str
) -> None:
    engine_calls.clear()
    if disease.startswith("-") or phase.startswith("-"):
        disease, phase = "x" + disease, "x" + phase  # an option, not a value, to click
    result = cli("sites", "--disease", disease, "--phase", phase, "--format", "json")
    check_cli(result, engine_calls, "sites", index)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=st.sampled_from(PARAMS), value=hostile)
def test_hostile_query_command(
    cli: Callable, engine_calls: list, index: TermIndex, pair: tuple[str, str], value: str
) -> None:
    engine_calls.clear()
    name, param = pair
    args = ["query", name]
    for key, example in get(name).example_params().items():
        if key != param:
            args += ["--param", f"{key}={example}"]
    args += ["--param", f"{param}={value}", "--format", "json"]
    result = cli(*args)
    check_cli(result, engine_calls, name, index)
