"""``emdkg export``: every format is the same graph, the bytes are deterministic, writes are atomic."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from emdkg import release
from emdkg.errors import EmdkgError
from emdkg.release import FILES, ReleaseGraph

ALL_FILES = [name for names in FILES.values() for name in names]


def canonical(quads) -> ox.Dataset:
    dataset = ox.Dataset(ox.Quad(q.subject, q.predicate, q.object) for q in quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("release")
    release.export(folder)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- every file holds the same graph --------------------------------------------------------


def test_all_files_written(exported: Path) -> None:
    assert sorted(p.name for p in exported.iterdir()) == sorted(ALL_FILES)


def test_ntriples_is_canonical_and_sorted(exported: Path, kb_release: ReleaseGraph) -> None:
    lines = (exported / "emdkg.nt").read_bytes().decode().splitlines()
    assert lines == sorted(lines) and len(lines) == len(set(lines)) == len(kb_release) > 4000
    bnodes = {w for line in lines for w in line.split() if w.startswith("_:")}
    assert bnodes and all(b.startswith("_:c14n") for b in bnodes)  # RDFC-1.0 labels
    assert canonical(ox.parse(path=exported / "emdkg.nt")) == canonical(kb_release.triples)


@pytest.mark.parametrize(
    "name, fmt",
    [("emdkg.ttl", ox.RdfFormat.TURTLE), ("emdkg.owl", ox.RdfFormat.RDF_XML)],
)
def test_turtle_and_rdfxml_hold_the_same_graph(exported: Path, name: str, fmt: ox.RdfFormat) -> None:
    reference = canonical(ox.parse(path=exported / "emdkg.nt"))
    assert canonical(ox.parse(path=exported / name, format=fmt)) == reference


def test_turtle_is_for_people(exported: Path) -> None:
    text = (exported / "emdkg.ttl").read_text()
    assert "@prefix emdkg: <https://w3id.org/emdkg/> ." in text
    assert "emdkg:MultipleMyeloma a owl:Class ;" in text
    assert "owl:members ( " in text  # lists as ( ... )
    assert "rdfs:subClassOf emdkg:BiologicDrug , [" in text  # restrictions nested
    assert text.index("owl:Ontology") < text.index("emdkg:MultipleMyeloma a")  # header first


def test_jsonld_refers_to_its_published_context(exported: Path) -> None:
    document = json.loads((exported / "emdkg.jsonld").read_text())
    context = json.loads((exported / "emdkg.context.jsonld").read_text())
    assert document["@context"] == "emdkg.context.jsonld"
    assert context["@context"]["emdkg"] == "https://w3id.org/emdkg/"
    ids = [node["@id"] for node in document["@graph"]]
    assert len(ids) == len(set(ids))
    # With the context put in place, it is the same graph.
    document["@context"] = context["@context"]
    parsed = ox.parse(json.dumps(document).encode(), format=ox.RdfFormat.JSON_LD)
    assert canonical(parsed) == canonical(ox.parse(path=exported / "emdkg.nt"))


def test_jsonld_context_resolves_beside_the_document(exported: Path) -> None:
    import rdflib

    graph = rdflib.Graph()
    graph.parse(exported / "emdkg.jsonld", format="json-ld")  # fetches ./emdkg.context.jsonld
    assert len(graph) == len((exported / "emdkg.nt").read_bytes().splitlines())


def test_owl_file_is_read_by_owlready2(exported: Path) -> None:
    import owlready2

    world = owlready2.World()
    ontology = world.get_ontology((exported / "emdkg.owl").as_uri()).load()
    assert ontology.base_iri.startswith("https://w3id.org/emdkg/emdkg.owl")
    mm = world.search_one(iri="https://w3id.org/emdkg/MultipleMyeloma")
    assert isinstance(mm, owlready2.ThingClass)
    assert [c.iri for c in mm.is_a] == ["https://w3id.org/emdkg/PlasmaCellNeoplasm"]
    assert "multiple myeloma" in [str(label) for label in mm.label]
    bite = world.search_one(iri="https://w3id.org/emdkg/BispecificTCellEngager")
    assert any(isinstance(c, owlready2.Restriction) for c in bite.is_a)  # blank node axioms
    assert len(list(world.classes())) > 100


def test_sssom_table(exported: Path, kb_release: ReleaseGraph) -> None:
    text = (exported / "emdkg.sssom.tsv").read_text()
    meta = [line[2:] for line in text.splitlines() if line.startswith("#")]
    table = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    header, rows = table[0], table[1:]
    assert header[:5] == ["subject_id", "subject_label", "predicate_id", "object_id", "mapping_justification"]
    assert "curie_map:" in meta
    assert any(m.startswith("mapping_set_id: https://w3id.org/emdkg/releases/") for m in meta)
    assert "license: https://creativecommons.org/licenses/by/4.0/" in meta
    declared = {m.strip().split(":")[0] for m in meta if m.startswith("  ")}
    mappings = [
        t for t in kb_release.triples
        if t.predicate.value in release.MAPPING_PREDICATES and isinstance(t.object, ox.NamedNode)
    ]
    assert len(rows) == len(mappings) > 50
    assert rows == sorted(rows)
    assert {r[4] for r in rows} == {"semapv:ManualMappingCuration"}
    assert {r[2] for r in rows} == {"skos:exactMatch", "skos:closeMatch"}
    for row in rows:
        assert len(row) == len(header)
        for curie in (row[0], row[2], row[3], row[4]):
            assert curie.split(":")[0] in declared, curie
    mm = [r for r in rows if r[0] == "emdkg:MultipleMyeloma"]
    assert {r[3] for r in mm} == {"MONDO:0009693", "NCIT:C3242", "DOID:9538"}
    assert {r[1] for r in mm} == {"multiple myeloma"}


# --- deterministic ---------------------------------------------------------------------------


def test_two_exports_in_fresh_processes_are_identical(tmp_path: Path, exported: Path) -> None:
    """Different hash seeds, so any iteration over a set or dict of terms would show."""
    for seed, folder in (("1", tmp_path / "a"), ("2", tmp_path / "b")):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "emdkg", "export", "--output", str(folder)],
            capture_output=True, text=True, env=env, timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b") == snapshot(exported)


def test_same_graph_in_any_order_gives_the_same_bytes(kb_release: ReleaseGraph) -> None:
    # Re-parse (new random blank node ids) and shuffle: the canonical labels and order hold.
    triples = list(ox.parse(release.ntriples(kb_release), format=ox.RdfFormat.N_TRIPLES))
    random.Random(7).shuffle(triples)
    again = ReleaseGraph.from_quads(triples)
    for write in (release.ntriples, release.turtle, release.rdfxml, release.sssom, release.jsonld):
        assert write(again) == write(kb_release)


def test_blank_node_edge_cases_round_trip() -> None:
    nt = b"""\
_:a <http://e.org/p> _:b .
_:b <http://e.org/p> _:a .
_:c <http://e.org/p> _:c .
<http://e.org/s> <http://e.org/list> _:l1 .
_:l1 <http://www.w3.org/1999/02/22-rdf-syntax-ns#first> "x" .
_:l1 <http://www.w3.org/1999/02/22-rdf-syntax-ns#rest> _:l2 .
_:l2 <http://www.w3.org/1999/02/22-rdf-syntax-ns#first> _:d .
_:l2 <http://www.w3.org/1999/02/22-rdf-syntax-ns#rest> <http://www.w3.org/1999/02/22-rdf-syntax-ns#nil> .
_:d <http://e.org/q> "tab\\t quote\\" newline\\n"@en-GB .
<http://e.org/s> <http://e.org/shared> _:e .
<http://e.org/t> <http://e.org/shared> _:e .
<http://e.org/s> <http://e.org/empty> _:f .
<http://e.org/1> <http://e.org/weird%20local> "1.50"^^<http://www.w3.org/2001/XMLSchema#decimal> .
"""
    graph = ReleaseGraph.from_ntriples(nt)
    reference = canonical(ox.parse(nt, format=ox.RdfFormat.N_TRIPLES))
    assert canonical(ox.parse(release.turtle(graph), format=ox.RdfFormat.TURTLE)) == reference
    assert canonical(ox.parse(release.rdfxml(graph), format=ox.RdfFormat.RDF_XML)) == reference
    document, context = release.jsonld(graph)
    data = json.loads(document)
    data["@context"] = json.loads(context)["@context"]
    assert canonical(ox.parse(json.dumps(data).encode(), format=ox.RdfFormat.JSON_LD)) == reference


# --- atomic ----------------------------------------------------------------------------------


def _previous_release(folder: Path, extra: Path) -> dict[str, bytes]:
    """An export that differs from the plain one (an extra file), to tell old from new."""
    extra.write_text('<https://w3id.org/emdkg/kb/x> <http://www.w3.org/2000/01/rdf-schema#label> "old"@en .\n')
    release.export(folder, data=[extra])
    return snapshot(folder)


def test_failed_serializer_leaves_previous_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _previous_release(tmp_path / "out", tmp_path / "extra.nt")

    def broken(graph: ReleaseGraph) -> bytes:
        raise RuntimeError("injected failure in the RDF/XML writer")

    monkeypatch.setitem(release.WRITERS, "owl", lambda g: {"emdkg.owl": broken(g)})
    with pytest.raises(RuntimeError, match="injected"):
        release.export(tmp_path / "out")  # ttl, nt, jsonld were made before owl failed
    assert snapshot(tmp_path / "out") == before


def test_failed_write_leaves_previous_files_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _previous_release(tmp_path / "out", tmp_path / "extra.nt")
    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the first file is written and synced; the second fails
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(release.os, "fsync", failing_fsync)
    with pytest.raises(EmdkgError, match="No space left on device"):
        release.export(tmp_path / "out")
    assert snapshot(tmp_path / "out") == before  # no .partial file left either


_SELF_KILL = """
import os, signal, sys
from emdkg import release
real, calls = os.fsync, []
def fsync(fd):
    calls.append(fd)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # killed after two files, mid-export
    real(fd)
release.os.fsync = fsync
release.export(sys.argv[1])
"""


def test_killed_export_leaves_previous_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _previous_release(out, tmp_path / "extra.nt")
    done = subprocess.run([sys.executable, "-c", _SELF_KILL, str(out)], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL
    partial = [p.name for p in out.iterdir() if p.name.endswith(".partial")]
    assert partial  # the killed run left its temporary files...
    assert {n: b for n, b in snapshot(out).items() if not n.endswith(".partial")} == before  # ...only
    release.export(out)  # the next export cleans them up
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]
    assert snapshot(out) != before


def test_sigkill_at_any_moment_never_leaves_a_half_written_file(tmp_path: Path) -> None:
    """Kill ``emdkg export`` from outside while it writes: every file is old or new, whole."""
    new = tmp_path / "new"
    release.export(new)
    fresh = snapshot(new)
    out = tmp_path / "out"
    old = _previous_release(out, tmp_path / "extra.nt")
    process = subprocess.Popen([sys.executable, "-m", "emdkg", "export", "--output", str(out)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if any(p.name.endswith(".partial") for p in out.iterdir()):
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for name, data in snapshot(out).items():
        if not name.endswith(".partial"):
            assert data in (old[name], fresh[name]), name


def test_output_that_is_a_file_is_one_line_error(tmp_path: Path, cli) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = cli("export", "--format", "nt", "--output", str(target))
    assert result.exit_code == 2
    assert len(result.stderr_lines) == 1 and result.stderr.startswith("emdkg: error:")


def test_cli_export_one_format(tmp_path: Path, cli) -> None:
    result = cli("export", "--format", "sssom", "--format", "nt", "--output", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emdkg.nt", "emdkg.sssom.tsv"]
    assert f"wrote {tmp_path / 'emdkg.nt'}" in result.stdout


def test_export_with_data_file(tmp_path: Path, cli) -> None:
    extra = tmp_path / "extra.ttl"
    extra.write_text('<https://w3id.org/emdkg/kb/x> <http://www.w3.org/2000/01/rdf-schema#label> "extra"@en .\n')
    result = cli("export", "--format", "nt", "--output", str(tmp_path / "out"), "--data", str(extra))
    assert result.exit_code == 0, result.stderr
    assert b'<https://w3id.org/emdkg/kb/x> <http://www.w3.org/2000/01/rdf-schema#label> "extra"@en .\n' in (
        tmp_path / "out" / "emdkg.nt"
    ).read_bytes()


@pytest.mark.slow
def test_export_inferred(tmp_path: Path, cli) -> None:
    from emdkg.reason import java_executable

    try:
        java_executable()
    except EmdkgError as e:
        pytest.skip(f"no Java for the reasoner: {e}")
    result = cli("export", "--format", "nt", "--inferred", "--output", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    inferred = (tmp_path / "emdkg-inferred.nt").read_bytes()
    lines = inferred.decode().splitlines()
    assert lines and lines == sorted(lines)
    triples = list(ox.parse(inferred, format=ox.RdfFormat.N_TRIPLES))
    asserted = set(ox.parse(path=tmp_path / "emdkg.nt"))
    assert not set(triples) & asserted  # only what is not asserted


def test_inferred_without_reasoner_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> None:
    monkeypatch.setitem(sys.modules, "emdkg.reason", None)  # as if the module were missing
    result = cli("export", "--format", "nt", "--inferred", "--output", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr_lines == ["emdkg: error: reasoning not available in this build (emdkg.reason is missing)"]
    assert not list(tmp_path.iterdir())


def test_export_is_fast_enough(tmp_path: Path) -> None:
    started = time.perf_counter()
    release.export(tmp_path)
    assert time.perf_counter() - started < 10  # ~0.5 s on the 2-core CI machine


def test_release_folder_can_be_copied_and_reexported(tmp_path: Path, exported: Path) -> None:
    # Re-exporting from the N-Triples release (no bundled files) gives the same release.
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    graph = release.release_graph([copy / "emdkg.nt"], include_bundled=False)
    assert release.ntriples(graph) == (exported / "emdkg.nt").read_bytes()
    assert release.turtle(graph) == (exported / "emdkg.ttl").read_bytes()
