"""The query commands: sites, query, sparql, path, neighbours (in-process and as a process)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

E = "https://w3id.org/emdkg/"
KB = E + "kb/"
RELAPSE_SITES = ["breast", "central nervous system", "kidney", "liver", "lymph node", "pericardium", "pleura"]

# A finding of our own: spleen at relapse of myeloma, with the provenance the query requires.
EXTRA_TTL = """\
@prefix emdkg: <https://w3id.org/emdkg/> .
@prefix kb: <https://w3id.org/emdkg/kb/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix bibo: <http://purl.org/ontology/bibo/> .
kb:test-spleen a emdkg:SiteInvolvementFinding ;
    emdkg:disease emdkg:MultipleMyeloma ; emdkg:site emdkg:Spleen ; emdkg:diseasePhase emdkg:Relapse ;
    emdkg:source kb:test-paper ; emdkg:quote "The spleen, too."@en ; emdkg:evidenceGrade emdkg:LowGrade .
kb:test-paper a emdkg:JournalArticle ; rdfs:label "A test paper"@en ; bibo:doi "10.5555/test" .
"""
# The same finding with just enough of the ontology to answer on its own (--no-bundled).
MINIMAL_TTL = EXTRA_TTL + """\
emdkg:MultipleMyeloma rdfs:label "multiple myeloma"@en ; rdfs:subClassOf emdkg:Disease .
emdkg:Relapse rdfs:label "relapse"@en ; rdfs:subClassOf emdkg:DiseasePhase .
emdkg:Spleen rdfs:label "spleen"@en .
emdkg:LowGrade rdfs:label "low-grade evidence"@en .
"""


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert len(result.stderr_lines) == 1, result.stderr
    line = result.stderr_lines[0]
    assert line.startswith("emdkg: error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in line, line


# --- sites -------------------------------------------------------------------------------------


def test_sites_table(cli: Callable) -> None:
    result = cli("sites", "--disease", "multiple myeloma", "--phase", "relapse")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["site", "phase", "manifestation", "evidence", "sources"]
    assert [line[:22].strip() for line in lines[2:]] == RELAPSE_SITES
    assert "doi:10.1038/s41408-022-00643-3|pmid:35314675" in lines[2]


def test_sites_json(cli: Callable) -> None:
    result = cli("sites", "--disease", "MM", "--phase", "relapse", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["site"] for r in rows] == RELAPSE_SITES
    assert list(rows[0]) == ["site", "iri", "phase", "phase_iri", "manifestation", "sources", "quote", "evidence"]
    assert rows[0]["iri"] == E + "Breast" and rows[0]["sources"] == ["doi:10.1038/s41408-022-00643-3", "pmid:35314675"]
    assert all(key == key.lower() for row in rows for key in row)


@pytest.mark.parametrize("fmt,delimiter", [("csv", ","), ("tsv", "\t")])
def test_sites_csv_and_tsv(cli: Callable, fmt: str, delimiter: str) -> None:
    result = cli("sites", "--disease", "MM", "--phase", "at diagnosis", "--format", fmt)
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter=delimiter))
    assert [r["site"] for r in rows] == ["skin", "soft tissue"]
    assert rows[0]["sources"] == "doi:10.1038/s41408-022-00643-3|pmid:35314675"


def test_sites_backends_agree(cli: Callable) -> None:
    outputs = [cli("sites", "--disease", "ALL", "--format", "json", "--backend", b).stdout for b in ("oxigraph", "rdflib")]
    assert outputs[0] == outputs[1] and json.loads(outputs[0])


def test_data_adds_to_the_bundled_graph(cli: Callable, tmp_path: Path) -> None:
    extra = tmp_path / "extra.ttl"
    extra.write_text(EXTRA_TTL)
    rows = json.loads(cli("sites", "--disease", "MM", "--phase", "relapse", "--data", str(extra), "--format", "json").stdout)
    assert [r["site"] for r in rows] == sorted(RELAPSE_SITES + ["spleen"])
    spleen = next(r for r in rows if r["site"] == "spleen")
    assert spleen["sources"] == ["doi:10.5555/test"] and spleen["evidence"] == "low-grade evidence"


def test_no_bundled_queries_only_the_data(cli: Callable, tmp_path: Path) -> None:
    minimal = tmp_path / "minimal.ttl"
    minimal.write_text(MINIMAL_TTL)
    result = cli("sites", "--disease", "multiple myeloma", "--data", str(minimal), "--no-bundled", "--format", "json")
    assert [r["site"] for r in json.loads(result.stdout)] == ["spleen"]
    one_line_error(cli("sites", "--disease", "MM", "--no-bundled"), "--no-bundled needs at least one --data file")


# --- errors --------------------------------------------------------------------------------------


def test_errors_are_one_line(cli: Callable, tmp_path: Path) -> None:
    one_line_error(cli("sites", "--disease", "multiple myelom"), "unknown disease 'multiple myelom'",
                   "did you mean 'multiple myeloma'")
    one_line_error(cli("sites", "--disease", "MM", "--phase", "relaps"), "unknown phase 'relaps'", "'relapse'")
    one_line_error(cli("sites"), "Missing option '--disease'")
    one_line_error(cli("sites", "--disease", "MM", "--backend", "jena"), "--backend")
    one_line_error(cli("sites", "--disease", "MM", "--data", str(tmp_path / "nope.ttl")), "nope.ttl", "no such file")
    one_line_error(cli("query", "sitez"), "unknown query 'sitez'", "did you mean 'sites'", "programmes")
    one_line_error(cli("query", "sites", "--param", "diseas=MM"), "unknown parameter 'diseas'",
                   "(parameters: disease, phase)")
    one_line_error(cli("query", "sites", "--param", "MM"), "--param", "expected KEY=VALUE")
    one_line_error(cli("query", "sites", "--param", "disease=MM", "--param", "disease=ALL"), "given twice")
    one_line_error(cli("query", "sites"), "needs the parameter 'disease'")
    one_line_error(cli("query"), "missing the query NAME")
    one_line_error(cli("query", "citations", "--param", "publication=Yoon 2021"), "unknown publication 'Yoon 2021'")
    one_line_error(cli("sparql"), "give the query as an argument or with --file")
    one_line_error(cli("sparql", "SELECT * WHERE {"), "SPARQL syntax error")
    one_line_error(cli("sparql", "INSERT DATA { <a:b> <a:c> <a:d> }"), "not INSERT")
    one_line_error(cli("sparql", "--file", str(tmp_path / "none.rq")), "none.rq", "no such file")
    one_line_error(cli("path", "blinatumomab", "nothing-like-this"), "unknown entity 'nothing-like-this'")
    one_line_error(cli("neighbours", "blinatumomb"), "unknown entity 'blinatumomb'", "'blinatumomab'")


# --- query ---------------------------------------------------------------------------------------


def test_query_list(cli: Callable) -> None:
    result = cli("query", "--list")
    assert result.exit_code == 0
    for name in ["sites", "incidence", "therapies", "evidence", "prognosis", "treatment-phases",
                 "regimen-components", "programmes", "source-errors", "citations"]:
        assert f"\n{name} " in result.stdout
    listed = json.loads(cli("query", "--list", "--format", "json").stdout)
    sites = next(q for q in listed if q["name"] == "sites")
    assert sites["params"] == "disease, phase=emdkg:DiseasePhase" and sites["summary"].endswith("?")


def test_query_with_params(cli: Callable) -> None:
    rows = json.loads(cli("query", "incidence", "--param", "disease=multiple myeloma", "--format", "json").stdout)
    assert [(r["min_percent"], r["max_percent"]) for r in rows] == [(0.5, 4.8), (3.4, 14)]
    programmes = cli("query", "programmes", "--param", "disease=ALL", "--format", "csv").stdout.splitlines()
    assert len(programmes) == 31 and programmes[0].startswith("hospital,hospital_iri,city,duration_days")
    errors = json.loads(cli("query", "source-errors", "--format", "json").stdout)
    assert {r["claimed"] for r in errors} >= {"erythromycin", "bevacizumab"}


def test_query_example_commands_run(cli: Callable) -> None:
    import shlex

    from emdkg.queries import get, names

    for name in names():
        args = shlex.split(get(name).example)
        assert args[:3] == ["emdkg", "query", name]
        result = cli(*args[1:], "--format", "json")
        assert result.exit_code == 0, (name, result.stderr)
        assert json.loads(result.stdout), name


# --- sparql, path, neighbours ---------------------------------------------------------------------


def test_sparql(cli: Callable, tmp_path: Path) -> None:
    select = "PREFIX emdkg: <https://w3id.org/emdkg/> SELECT ?f WHERE { ?f a emdkg:FlaggedClaim } ORDER BY ?f"
    rows = json.loads(cli("sparql", select, "--format", "json").stdout)
    assert len(rows) == 3 and all(r["f"].startswith(KB) for r in rows)
    assert json.loads(cli("sparql", "ASK { ?s ?p ?o }", "--format", "json").stdout) == [{"result": True}]
    construct = f"CONSTRUCT {{ <{E}VDCP> ?p ?o }} WHERE {{ <{E}VDCP> ?p ?o FILTER(isIRI(?o)) }}"
    triples = json.loads(cli("sparql", construct, "--format", "json").stdout)
    assert {"subject", "predicate", "object"} == set(triples[0]) and len(triples) >= 6
    query_file = tmp_path / "q.rq"
    query_file.write_text("# count\nSELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }\n")
    n = json.loads(cli("sparql", "--file", str(query_file), "--format", "json").stdout)[0]["n"]
    assert n > 4000
    assert cli("sparql", "--file", str(query_file), "--no-bundled", "--data", str(query_file)).exit_code == 2


def test_path(cli: Callable) -> None:
    result = cli("path", "blinatumomab", "Yoon 2020", "--format", "json")
    steps = json.loads(result.stdout)
    assert [s["link"] for s in steps] == ["<-[about therapy]-", "-[has source]->"]
    assert steps[0]["from_iri"] == E + "blinatumomab" and steps[-1]["to_iri"] == KB + "yoon-2020"
    assert steps[0]["direction"] == "backward" and steps[1]["direction"] == "forward"
    table = cli("path", "blinatumomab", "Yoon 2020").stdout
    assert table.splitlines()[0].split() == ["step", "from", "link", "to"]


def test_neighbours(cli: Callable) -> None:
    rows = json.loads(cli("neighbours", "VDCP", "--format", "json").stdout)
    components = [r["term"] for r in rows if r["link"] == "has component"]
    assert components == ["cyclophosphamide", "daunorubicin", "prednisone", "vincristine"]
    assert {r["direction"] for r in rows} == {"in", "out"}
    assert all(r["direction"] == "out" for r in rows[: len(components)])


# --- as a process ---------------------------------------------------------------------------------


def test_sites_as_a_process(cli_process: Callable) -> None:
    result = cli_process("sites", "--disease", "multiple myeloma", "--phase", "relapse", "--format", "json")
    assert result.exit_code == 0 and [r["site"] for r in json.loads(result.stdout)] == RELAPSE_SITES
    error = cli_process("sites", "--disease", "myelomaa")
    assert error.exit_code == 2 and error.stderr.splitlines() == [
        "emdkg: error: unknown disease 'myelomaa': did you mean 'multiple myeloma', 'myeloid sarcoma'?"
    ]


def test_sites_imports_no_heavy_module() -> None:
    code = textwrap.dedent("""
        import sys
        from emdkg.cli import run
        code = run(["sites", "--disease", "multiple myeloma", "--phase", "relapse"])
        heavy = sorted(m for m in ("rdflib", "networkx", "pyshacl", "owlready2", "rich", "httpx") if m in sys.modules)
        print(code, heavy, file=sys.stderr)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "0 []"
