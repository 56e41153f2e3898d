"""The named queries answer the competency questions from the real knowledge base.

Every test runs the bundled queries on the bundled knowledge base through the API
(:class:`emdkg.api.KnowledgeGraph`) or the registry (:mod:`emdkg.queries`); nothing is mocked.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

import emdkg
from emdkg.api import KnowledgeGraph, Row, SiteRow
from emdkg.errors import EmdkgError, QueryError, UnknownTermError
from emdkg.queries import NamedQuery, get, names, parse, registry, run
from emdkg.resources import queries_dir

E = "https://w3id.org/emdkg/"
KB = E + "kb/"
BLADE_DOI = "doi:10.1038/s41408-022-00643-3"

NAMES = [
    "sites", "incidence", "therapies", "evidence", "prognosis", "treatment-phases",
    "regimen-components", "programmes", "source-errors", "citations",
]


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    return emdkg.load()


def site_names(rows: list[SiteRow]) -> set[str]:
    return {row.site for row in rows}


# --- the registry and the headers -----------------------------------------------------------


def test_every_named_query_is_there() -> None:
    assert set(NAMES) <= set(names())
    assert "qc" not in names() and all(not n.startswith("qc") for n in names())


@pytest.mark.parametrize("name", NAMES)
def test_header_is_complete(name: str) -> None:
    query = get(name)
    assert query.summary.endswith("?"), "the summary is the competency question"
    assert len(query.description) > 80
    assert query.example.startswith(f"emdkg query {name}")
    assert query.columns and len(set(query.columns)) == len(query.columns)
    for param in query.params:
        assert param.required != (param.default is not None)
        assert re.search(rf"SELECT\s[^{{]*\?{param.variable}\b", query.text), "a bound variable is projected"
    assert query.text == (queries_dir() / f"{name}.rq").read_bytes().decode("utf-8")


@pytest.mark.parametrize("name", [n for n in NAMES if n != "source-errors"])
def test_only_source_errors_reads_flagged_claims(name: str) -> None:
    sparql = "\n".join(line for line in get(name).text.splitlines() if not line.startswith("#"))
    assert "FlaggedClaim" not in sparql and "claimedTherapy" not in sparql


def test_no_bound_tricks_on_parameters() -> None:
    """Optional parameters get their defaults from the header: no BOUND(?x_param) and no
    EXISTS, on which pyoxigraph substitution and rdflib initBindings disagree."""
    for name in NAMES:
        sparql = "\n".join(line for line in get(name).text.splitlines() if not line.startswith("#"))
        assert not re.search(r"BOUND\s*\(\s*\?\w+_param", sparql, re.IGNORECASE), name
        assert "EXISTS" not in sparql.upper(), name


def test_header_errors_name_the_line(tmp_path: Path) -> None:
    bad = "#+ summary: x?\n#+ description: y\n#+ params:\n#+   - disease (illness, required): z\n"
    with pytest.raises(EmdkgError, match=r"bad.rq:4: unknown kind 'illness'"):
        parse(bad, "bad", tmp_path / "bad.rq")
    with pytest.raises(EmdkgError, match="lacks example, columns"):
        parse("#+ summary: x?\n#+ description: y\n#+ params: (none)\nSELECT * {}", "q")
    unused = ("#+ summary: x?\n#+ description: y\n#+ params:\n#+   - disease (disease, required): z\n"
              "#+ example: emdkg query q\n#+ columns: a\nSELECT ?a WHERE { ?a ?b ?c }\n")
    with pytest.raises(EmdkgError, match=r"'disease' is not used as \?disease_param"):
        parse(unused, "q")


def test_registry_reads_a_folder(tmp_path: Path) -> None:
    (tmp_path / "count.rq").write_text(
        "#+ summary: How many triples?\n#+ description: all of them\n#+ params: (none)\n"
        "#+ example: emdkg query count\n#+ columns: n\nSELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }\n"
    )
    (tmp_path / "qc").mkdir()
    (tmp_path / "qc" / "ignored.rq").write_text("SELECT * {}")
    queries = registry(tmp_path)
    assert list(queries) == ["count"] and isinstance(queries["count"], NamedQuery)
    assert queries["count"].params == () and queries["count"].example_params() == {}


# --- errors ------------------------------------------------------------------------------------


def test_unknown_query_lists_the_names(kg: KnowledgeGraph) -> None:
    with pytest.raises(QueryError) as caught:
        kg.query("site")
    message = str(caught.value)
    assert message.startswith("unknown query 'site': did you mean 'sites'")
    assert all(name in message for name in NAMES)


def test_unknown_parameter_names_the_allowed_ones(kg: KnowledgeGraph) -> None:
    with pytest.raises(QueryError, match=r"unknown parameter 'diseas' for query 'sites' \(parameters: disease, phase\)"):
        kg.query("sites", diseas="MM")
    with pytest.raises(QueryError, match="query 'source-errors' takes no parameters"):
        kg.query("source-errors", disease="MM")
    with pytest.raises(QueryError, match="query 'sites' needs the parameter 'disease'"):
        kg.query("sites", phase="relapse")


def test_unknown_names_suggest(kg: KnowledgeGraph) -> None:
    with pytest.raises(UnknownTermError) as caught:
        kg.sites("multiple myelom", "relapse")
    assert caught.value.suggestions[0] == "multiple myeloma"
    with pytest.raises(UnknownTermError, match="unknown phase 'relaps'"):
        kg.sites("MM", "relaps")
    with pytest.raises(UnknownTermError, match="unknown disease 'liver'"):
        kg.sites("liver")  # a site is not a disease


# --- sites -------------------------------------------------------------------------------------


def test_sites_at_relapse_of_myeloma(kg: KnowledgeGraph) -> None:
    rows = kg.sites("multiple myeloma", "relapse")
    assert [r.site for r in rows] == [
        "breast", "central nervous system", "kidney", "liver", "lymph node", "pericardium", "pleura",
    ]
    for row in rows:
        assert row.phase == "relapse" and row.phase_iri == E + "Relapse"
        assert row.manifestation == "extramedullary disease"
        assert BLADE_DOI in row.sources and "pmid:35314675" in row.sources
        assert "at relapse, typical sites involved include liver" in (row.quote or "")
        assert row.evidence == "high-grade evidence"
        assert row.iri.startswith(E)


def test_sites_at_diagnosis_of_myeloma(kg: KnowledgeGraph) -> None:
    assert site_names(kg.sites("multiple myeloma", "at diagnosis")) == {"skin", "soft tissue"}
    assert site_names(kg.sites("MM", "newly diagnosed")) == {"skin", "soft tissue"}


def test_sites_accept_synonyms_curies_and_iris(kg: KnowledgeGraph) -> None:
    expected = kg.sites("multiple myeloma", "relapse")
    for disease, phase in [
        ("MM", "relapsed"),
        ("MONDO:0009693", "NCIT:C38155"),
        ("多发性骨髓瘤", "复发"),
        (E + "MultipleMyeloma", f"<{E}Relapse>"),
        ("emdkg:MultipleMyeloma", "EMDKG:relapse"),
        ("  Multiple   MYELOMA ", "Relapse"),
    ]:
        assert kg.sites(disease, phase) == expected, (disease, phase)


def test_disease_includes_subclasses(kg: KnowledgeGraph) -> None:
    myeloma = kg.sites("multiple myeloma")
    neoplasm = kg.sites("plasma cell neoplasm")
    assert {(r.iri, r.phase_iri) for r in myeloma} <= {(r.iri, r.phase_iri) for r in neoplasm}
    assert site_names(kg.sites("plasma cell neoplasm", "relapse")) >= site_names(
        kg.sites("multiple myeloma", "relapse")
    )


def test_phase_includes_subphases_and_default_is_any_phase(kg: KnowledgeGraph) -> None:
    all_rows = kg.sites("acute lymphoblastic leukemia")
    by_phase = {(r.site, r.phase) for r in all_rows}
    assert ("central nervous system", None) in by_phase, "findings with no phase are included"
    assert ("central nervous system", "extramedullary relapse") in by_phase
    relapse = {(r.site, r.phase) for r in kg.sites("acute lymphoblastic leukemia", "relapse")}
    assert relapse == {(s, p) for s, p in by_phase if p is not None}, "subphases of relapse included"
    assert kg.sites("ALL", "disease phase") == all_rows, "the default is emdkg:DiseasePhase"


# --- incidence, prognosis, therapies -------------------------------------------------------------


def test_incidence_of_myeloma(kg: KnowledgeGraph) -> None:
    rows = kg.query("incidence", disease="multiple myeloma")
    ranges = {(r.phase, r.min_percent, r.max_percent) for r in rows}
    assert ("at diagnosis", Decimal("0.5"), Decimal("4.8")) in ranges
    assert ("relapsed/refractory", Decimal("3.4"), Decimal("14")) in ranges
    newly = next(r for r in rows if r.phase == "at diagnosis")
    assert "newly diagnosed" in newly.population and BLADE_DOI in newly.sources
    assert isinstance(newly, Row) and newly["quote"].startswith("In patients with newly diagnosed MM")
    relapse_only = kg.query("incidence", disease="MM", phase="relapse")
    assert [(r.min_percent, r.max_percent) for r in relapse_only] == [(Decimal("3.4"), Decimal("14"))]


def test_prognosis_of_myeloma(kg: KnowledgeGraph) -> None:
    rows = kg.query("prognosis", disease="multiple myeloma")
    assert any(r.direction == "worse" and r.site == "central nervous system" for r in rows)
    assert any(r.comparator_group == "patients with MM without soft-tissue plasmacytomas" for r in rows)
    assert all(r.sources for r in rows)


def test_therapies_never_list_a_flagged_therapy(kg: KnowledgeGraph) -> None:
    for disease in ("acute lymphoblastic leukemia", "B-ALL", "disease"):
        rows = kg.query("therapies", disease=disease)
        therapies = {r.therapy for r in rows}
        assert "erythromycin" not in therapies and "bevacizumab" not in therapies, disease
    all_rows = kg.query("therapies", disease="acute lymphoblastic leukemia")
    blinatumomab = [r for r in all_rows if r.therapy == "blinatumomab"]
    assert blinatumomab and {r.therapy_type for r in blinatumomab} == {"bispecific T-cell engager"}
    assert any(r.treatment_phase == "salvage therapy" and "doi:10.1038/s41409-019-0708-9" in r.sources
               for r in blinatumomab)
    rr = kg.query("therapies", disease="ALL", phase="relapsed/refractory")
    assert {r.phase for r in rr} == {"relapsed/refractory"} and "blinatumomab" in {r.therapy for r in rr}


def test_treatment_phases_of_all(kg: KnowledgeGraph) -> None:
    rows = kg.query("treatment-phases", disease="acute lymphoblastic leukemia")
    induction = {r.therapy for r in rows if r.treatment_phase == "induction therapy"}
    assert {"VDCP", "asparaginase"} <= induction and "erythromycin" not in induction
    assert {r.treatment_phase for r in rows} >= {
        "induction therapy", "consolidation therapy", "maintenance therapy",
        "central nervous system prophylaxis and treatment", "testicular sanctuary therapy",
    }


def test_regimen_components(kg: KnowledgeGraph) -> None:
    vdcp = kg.query("regimen-components", regimen="VDCP")
    assert [r.component for r in vdcp] == ["cyclophosphamide", "daunorubicin", "prednisone", "vincristine"]
    daunorubicin = next(r for r in vdcp if r.component == "daunorubicin")
    assert daunorubicin.mechanism_class == "anthracycline"
    assert daunorubicin.sources == (KB + "emdkg-curation-2026",), "the correction's source"
    assert all(r.sources == () for r in vdcp if r.component != "daunorubicin")
    every = kg.query("regimen-components")
    assert {r.regimen for r in every} >= {"VDCP", "combination with novel agents"}
    with pytest.raises(UnknownTermError, match="unknown regimen 'bortezomib'"):
        kg.query("regimen-components", regimen="bortezomib")


def test_programmes_for_all(kg: KnowledgeGraph) -> None:
    rows = kg.query("programmes", disease="acute lymphoblastic leukemia")
    assert len(rows) == 30
    assert [r.position for r in rows] == list(range(1, 31))
    assert rows[0].hospital == "University Hospital Ulm" and rows[0].city == "Ulm"
    assert rows[0].duration_days == 57 and rows[0].setting == "inpatient"
    assert {r.price for r in rows} == {"on request"}
    assert all(isinstance(r.duration_days, int) for r in rows)
    assert kg.query("programmes", disease="multiple myeloma") == []


# --- source errors, evidence, citations -----------------------------------------------------------


def test_source_errors_list_the_three_flagged_claims(kg: KnowledgeGraph) -> None:
    rows = kg.query("source-errors")
    claims = {r.claim_iri for r in rows}
    assert claims >= {
        KB + "claim-all-overview-web-vdcp-erythromycin",
        KB + "claim-all-overview-web-bevacizumab-bite",
        KB + "claim-ravinet-2014-pcl-threshold",
    }
    erythromycin = [r for r in rows if r.claimed == "erythromycin"]
    assert len(erythromycin) == 1 and erythromycin[0].correct == "daunorubicin"
    assert "erythromycin" in erythromycin[0].source_said
    assert erythromycin[0].error_type == "wrong drug name"
    bevacizumab = [r for r in rows if r.claimed == "bevacizumab"]
    assert {r.correct for r in bevacizumab} == {"blinatumomab"}
    assert any(r.correction_source.startswith("Kantarjian et al. 2017") for r in bevacizumab)
    threshold = next(r for r in rows if r.claim_iri == KB + "claim-ravinet-2014-pcl-threshold")
    assert threshold.error_type == "superseded definition"
    assert "5% or more circulating plasma cells" in threshold.correction_quote
    assert threshold.correction_source.startswith("Fernández de Larrea et al. 2021")
    assert all(r.what_is_wrong and r.correction and r.correction_quote for r in rows)


def test_evidence_about_an_entity(kg: KnowledgeGraph) -> None:
    rows = kg.query("evidence", entity="blinatumomab")
    assert rows and all(r.quote for r in rows)
    assert any(r.doi == "10.1038/s41409-019-0708-9" and r.kind == "therapy finding" for r in rows)
    assert all(r.finding_iri.startswith(KB) for r in rows)
    assert not any("claim" in r.finding_iri for r in rows), "flagged claims are not evidence"
    bevacizumab = kg.query("evidence", entity="bevacizumab")
    assert [r.finding_iri for r in bevacizumab] == [KB + "ribatti-2011-bevacizumab-anti-vegf"]
    assert {"defines", "about therapy"} <= set(bevacizumab[0].roles)
    by_language = {r.lang for r in kg.query("evidence", entity="MM") if r.finding_iri == KB + "blade-2022-site-relapse-liver"}
    assert by_language == {"en", "zh"}, "one row per quote"
    codes = {r.evidence_code for r in kg.query("evidence", entity="10.1038/s41408-022-00643-3")}
    assert codes == {"ECO:0000304"}


def test_citations_of_yoon_2020(kg: KnowledgeGraph) -> None:
    rows = kg.query("citations", publication="Yoon 2020")
    cites = [r for r in rows if r.direction == "cites"]
    assert len(cites) == 15
    assert all(r.doi and r.title and r.year for r in cites)
    assert "10.1056/NEJMoa1609783" in {r.doi for r in cites}
    assert kg.query("citations", publication="doi:10.1038/s41409-019-0708-9") == rows
    cited_by = kg.query("citations", publication="Kantarjian 2017")
    assert [(r.direction, r.publication_iri) for r in cited_by] == [("cited by", KB + "yoon-2020")]


# --- rows ------------------------------------------------------------------------------------------


def test_rows_are_plain_and_frozen(kg: KnowledgeGraph) -> None:
    row = kg.sites("MM", "relapse")[0]
    with pytest.raises(AttributeError):
        row.site = "elsewhere"  # type: ignore[misc]
    plain = row.as_dict(plain=True)
    assert plain["sources"] == list(row.sources) and type(plain["site"]) is str
    generic = kg.query("programmes", disease="ALL")[0]
    with pytest.raises(AttributeError):
        generic.hospital = "x"
    assert generic.as_dict()["duration_days"] == 57 and list(generic) == list(get("programmes").columns)
    import json

    json.dumps([r.as_dict(plain=True) for r in kg.query("incidence", disease="MM")])


def test_queries_lists_names_and_questions(kg: KnowledgeGraph) -> None:
    listed = kg.queries()
    assert set(NAMES) <= set(listed) and listed["sites"] == get("sites").summary


def test_run_on_a_bare_store() -> None:
    from emdkg.resources import bundled_rdf_files
    from emdkg.store import load_files

    store = load_files(bundled_rdf_files())
    rows = run(store, "sites", disease="MM", phase="relapse")
    assert rows.variables == get("sites").columns and len(rows) == 7


def test_readme_python_api_example_is_real(repo_root: Path) -> None:
    """The README's Python API example, run as a doctest: its output is what the API prints."""
    import doctest

    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    block = section.split("```pycon", 1)[1].split("```", 1)[0]
    test = doctest.DocTestParser().get_doctest(block, {}, "README Python API", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 5


def test_readme_quick_start_shows_the_real_sites(repo_root: Path, kg: KnowledgeGraph) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("## ", 1)[0]
    table = quick.split("┏", 1)[1].split("```", 1)[0]
    shown = [line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│") and line.split("│")[1].strip()]
    assert shown == [r.site for r in kg.sites("multiple myeloma", "relapse")]
