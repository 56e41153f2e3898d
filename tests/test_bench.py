"""The benchmark: the generator (real terms, determinism, known violations) and a tiny run of
``emdkg bench`` whose output has the expected structure. No timing is asserted anywhere."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest

from emdkg.bench.generate import (
    VIOLATION_KINDS,
    expected_keys,
    generate,
    generate_file,
    load_vocabulary,
    parse_size,
    resolve_shapes,
    sidecar_path,
)
from emdkg.bench.run import format_report, summarise

EMDKG = "https://w3id.org/emdkg/"
SYN = EMDKG + "kb/syn-"


def test_sizes() -> None:
    assert [parse_size(s) for s in ("10k", "100K", "1m", "2500")] == [10_000, 100_000, 1_000_000, 2500]
    with pytest.raises(ValueError):
        parse_size("ten")


def test_generation_is_deterministic_and_sized() -> None:
    a, b, c = io.StringIO(), io.StringIO(), io.StringIO()
    ra = generate(5000, a, seed=4, violations=10)
    generate(5000, b, seed=4, violations=10)
    generate(5000, c, seed=5, violations=10)
    assert a.getvalue() == b.getvalue()
    assert a.getvalue() != c.getvalue()
    assert 5000 <= ra.triples < 5600
    assert a.getvalue().count("\n") == ra.triples
    triples = list(ox.parse(a.getvalue().encode(), format=ox.RdfFormat.N_TRIPLES))
    assert len(set(triples)) == len(triples), "no duplicate triples"


def test_generated_data_uses_only_real_ontology_terms() -> None:
    out = io.StringIO()
    generate(20_000, out, seed=1)
    ontology = ox.Store()
    from emdkg.resources import ontology_dir

    for path in [ontology_dir() / "emdkg.ttl", *sorted((ontology_dir() / "imports").glob("*.ttl"))]:
        ontology.load(path=str(path), format=ox.RdfFormat.TURTLE)
    defined = {q.subject.value for q in ontology if isinstance(q.subject, ox.NamedNode)}
    used = set()
    for t in ox.parse(out.getvalue().encode(), format=ox.RdfFormat.N_TRIPLES):
        for term in (t.predicate, t.object):
            if isinstance(term, ox.NamedNode) and not term.value.startswith(SYN):
                used.add(term.value)
    outside = {iri for iri in used if iri.startswith(EMDKG) and iri not in defined}
    assert not outside, sorted(outside)
    vocab = load_vocabulary()
    kinds = {t.object.value for t in ox.parse(out.getvalue().encode(), format=ox.RdfFormat.N_TRIPLES)
             if t.predicate.value.endswith("#type")}
    for cls in ("SiteInvolvementFinding", "TherapyFinding", "IncidenceFinding", "PrognosisFinding",
                "DefinitionFinding", "FlaggedClaim", "ProgrammeOffering", "SourceDocument", "Hospital"):
        assert EMDKG + cls in kinds, cls
    assert len(vocab.diseases) > 5 and len(vocab.therapies) > 5 and vocab.evidence_codes


def test_every_kind_of_violation_resolves_to_a_shape() -> None:
    names = resolve_shapes()
    assert set(names) == {k.name for k in VIOLATION_KINDS}


def test_sidecar_records_each_injected_violation(tmp_path: Path) -> None:
    path = tmp_path / "kb.nt"
    report = generate_file(3000, path, seed=2, violations=len(VIOLATION_KINDS))
    data = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    assert data["triples"] == report.triples == path.read_text(encoding="utf-8").count("\n")
    assert {v["kind"] for v in data["violations"]} == {k.name for k in VIOLATION_KINDS}
    for v in data["violations"]:
        assert v["focus"].startswith(SYN)
        assert v["component"].startswith("http://www.w3.org/ns/shacl#")
        assert v["shape"].startswith("https://w3id.org/emdkg/shapes#")
    assert len(expected_keys(data)) == len(VIOLATION_KINDS)


def test_generate_command(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "g.nt"
    result = cli("bench", "generate", "--triples", "2k", "--output", str(out), "--seed", "3", "--violations", "4")
    assert result.exit_code == 0, result.stderr
    assert out.is_file() and sidecar_path(out).is_file()
    assert re.search(r"wrote [0-9,]+ triples", result.stderr)
    assert len(json.loads(sidecar_path(out).read_text())["violations"]) == 4
    bad = cli("bench", "generate", "--triples", "lots", "--output", str(out))
    assert bad.exit_code == 2


def test_summary() -> None:
    assert summarise([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}


@pytest.mark.slow
def test_bench_run_structure(cli_process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`emdkg bench` at a tiny size, as CI runs it (there: --sizes 10k --repeat 1)."""
    out = tmp_path / "bench.json"
    result = cli_process(
        "bench", "--sizes", "2k", "--repeat", "1", "--violations", str(len(VIOLATION_KINDS)),
         "--baselines", "rdflib,pyshacl", "--startup-runs", "2", "--workdir", str(tmp_path / "w"),
         "--output", str(out),
        timeout=600,
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    entry = report["sizes"]["2k"]
    assert entry["triples"] >= 2000
    ours = entry["ours"]
    assert {"median", "min", "max", "n"} <= set(ours["load"])
    assert set(ours["queries"]) >= {"sites", "incidence", "therapies", "evidence"}
    assert all(q["rows"] >= 0 for q in ours["queries"].values())
    assert ours["rss_mb"] > 0
    assert entry["ours-validate"]["match_expected"] is True
    assert entry["pyshacl"]["match_expected"] is True
    assert entry["validators_agree"] is True
    assert set(entry["rdflib"]["queries"]) == set(ours["queries"])
    assert "traversals" in entry["ours-graph"]
    assert {"load", "queries"} <= set(entry["ratios"]["rdflib"])
    assert report["startup"]["n"] == 2
    assert any(t["target"].startswith("start-up") for t in report["targets"])
    table = format_report(report)
    assert "load: emdkg (pyoxigraph)" in table and "SHACL vs pyshacl" in table
    assert "load: emdkg (pyoxigraph)" in result.stdout
