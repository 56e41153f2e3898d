"""Names to IRIs: labels, synonyms, other languages, CURIEs, DOIs/PMIDs, IRIs, kinds."""

from __future__ import annotations

from typing import Any

import pytest

from emdkg.errors import EmdkgError, UnknownTermError
from emdkg.resources import bundled_rdf_files
from emdkg.store import Store, load_files
from emdkg.terms import INDEX_QUERY, Term, TermIndex, curie, expand_curie, index_for

E = "https://w3id.org/emdkg/"
KB = E + "kb/"
OBO = "http://purl.obolibrary.org/obo/"


class CountingStore:
    """A real store that counts the queries it is asked."""

    def __init__(self, store: Store) -> None:
        self.inner = store
        self.backend = store.backend
        self.queries: list[str] = []

    def select(self, query: str, bindings: Any = None) -> Any:
        self.queries.append(query)
        return self.inner.select(query, bindings)


@pytest.fixture(scope="module")
def store() -> Store:
    return load_files(bundled_rdf_files())


@pytest.fixture(scope="module")
def index(store: Store) -> TermIndex:
    return index_for(store)


@pytest.mark.parametrize(
    "text,kind,iri",
    [
        # English labels, any case and spacing
        ("multiple myeloma", "disease", E + "MultipleMyeloma"),
        ("Multiple  Myeloma", "disease", E + "MultipleMyeloma"),
        ("PLASMA CELL NEOPLASM", "disease", E + "PlasmaCellNeoplasm"),
        ("relapse", "phase", E + "Relapse"),
        ("liver", "site", E + "Liver"),
        ("blinatumomab", "therapy", E + "blinatumomab"),
        ("induction therapy", "treatment_phase", E + "InductionTherapy"),
        ("extramedullary disease", "manifestation", E + "ExtramedullaryDisease"),
        # exact and related synonyms
        ("MM", "disease", E + "MultipleMyeloma"),
        ("ALL", "disease", E + "AcuteLymphoblasticLeukemia"),
        ("Ph+ ALL", "disease", E + "PhiladelphiaPositiveBCellALL"),
        ("newly diagnosed", "phase", E + "AtDiagnosis"),
        ("CNS", "site", E + "CentralNervousSystem"),
        ("Ara-C", "therapy", E + "cytarabine"),
        ("extramedullary acute myeloid leukemia", "disease", E + "MyeloidSarcoma"),  # related
        # other languages
        ("多发性骨髓瘤", "disease", E + "MultipleMyeloma"),
        ("复发", "phase", E + "Relapse"),
        # CURIEs, through oboInOwl:hasDbXref / skos:exactMatch, any case
        ("MONDO:0009693", "disease", E + "MultipleMyeloma"),
        ("mondo:0009693", "disease", E + "MultipleMyeloma"),
        ("NCIT:C3242", "disease", E + "MultipleMyeloma"),
        ("DOID:9538", "disease", E + "MultipleMyeloma"),
        ("UBERON:0002107", "site", E + "Liver"),
        ("CHEBI:41977", "therapy", E + "daunorubicin"),
        ("DRUGBANK:DB09052", "therapy", E + "blinatumomab"),
        ("MAXO:0000647", "therapy", E + "chemotherapy"),
        ("ECO:0000304", None, OBO + "ECO_0000304"),
        ("MESH:D016428", None, "http://id.nlm.nih.gov/mesh/D016428"),
        ("emdkg:MultipleMyeloma", "disease", E + "MultipleMyeloma"),
        ("kb:yoon-2020", "publication", KB + "yoon-2020"),
        # publications by DOI, PMID, first author and year
        ("doi:10.1038/s41409-019-0708-9", "publication", KB + "yoon-2020"),
        ("DOI:10.1038/S41409-019-0708-9", "publication", KB + "yoon-2020"),
        ("10.1038/s41408-022-00643-3", "publication", KB + "blade-2022"),
        ("pmid:35314675", "publication", KB + "blade-2022"),
        ("Yoon 2020", "publication", KB + "yoon-2020"),
        ("Yoon et al. 2020", "publication", KB + "yoon-2020"),
        ("Yoon 2018", "publication", KB + "yoon-2018"),
        # IRIs, bare or in angle brackets, and the external IRIs of mappings
        (E + "Skin", "site", E + "Skin"),
        (f"<{E}Skin>", "site", E + "Skin"),
        (f"  < {E}Skin >  ", "site", E + "Skin"),
        (OBO + "MONDO_0009693", "disease", E + "MultipleMyeloma"),
        ("https://go.drugbank.com/drugs/DB00188", "therapy", E + "bortezomib"),
    ],
)
def test_resolves(index: TermIndex, text: str, kind: str | None, iri: str) -> None:
    term = index.resolve(text, kind)
    assert isinstance(term, Term) and term.iri == iri
    if kind is not None:
        assert term.kind == kind


def test_term_carries_label_kind_and_curie(index: TermIndex) -> None:
    assert index.resolve("MONDO:0009693") == Term(E + "MultipleMyeloma", "multiple myeloma", "disease", "emdkg:MultipleMyeloma")
    assert index.resolve("Yoon 2020").kind == "publication"
    assert str(index.resolve("relapse")) == "relapse"


def test_kind_restricts(index: TermIndex) -> None:
    with pytest.raises(UnknownTermError, match="unknown disease 'skin'"):
        index.resolve("skin", "disease")
    with pytest.raises(UnknownTermError, match="unknown phase 'induction therapy'"):
        index.resolve("induction therapy", "phase")
    with pytest.raises(UnknownTermError, match="unknown therapy 'proteasome inhibitor'"):
        index.resolve("proteasome inhibitor", "therapy")  # a class, not a therapy given
    with pytest.raises(UnknownTermError, match="unknown publication"):
        index.resolve("MONDO:0009693", "publication")
    assert index.resolve("disease phase", "phase").iri == E + "DiseasePhase", "the root is of its kind"
    assert index.resolve("relapsed/refractory", "phase").iri == E + "RelapsedRefractory", "subclasses too"
    with pytest.raises(EmdkgError, match="unknown kind of term 'illness'"):
        index.resolve("MM", "illness")


def test_individual_wins_over_class_of_the_same_name(index: TermIndex) -> None:
    assert index.resolve("intrathecal chemotherapy").iri == E + "intrathecal-chemotherapy"
    assert index.resolve("cranial irradiation").iri == E + "cranial-irradiation"
    # an English label beats a synonym: the procedure, not the class that has it as a synonym
    assert index.resolve("allogeneic stem cell transplantation").iri == E + "allogeneic-hsct"


def test_unknown_names_get_close_suggestions(index: TermIndex) -> None:
    with pytest.raises(UnknownTermError) as caught:
        index.resolve("blinatumomb", "therapy")
    assert caught.value.suggestions == ["blinatumomab"]
    assert str(caught.value) == "unknown therapy 'blinatumomb': did you mean 'blinatumomab'?"
    with pytest.raises(UnknownTermError) as caught:
        index.resolve("leukaemia", "disease")
    assert 0 < len(caught.value.suggestions) <= 3
    assert index.suggest("myelo", "disease")[0] == "multiple myeloma"
    with pytest.raises(UnknownTermError) as caught:
        index.resolve("zzzzzz qqqq", "disease")
    assert caught.value.suggestions == []


def test_unknown_identifiers(index: TermIndex) -> None:
    for text in ["MONDO:9999999", "doi:10.9999/none", "pmid:1", f"<{E}NoSuchThing>", E + "NoSuchThing",
                 "", "   ", "<>"]:
        with pytest.raises(UnknownTermError):
            index.resolve(text, "entity")


def test_index_is_one_query_and_cached_per_store(store: Store) -> None:
    counting = CountingStore(store)
    first = index_for(counting)
    assert counting.queries == [INDEX_QUERY]
    assert index_for(counting) is first and counting.queries == [INDEX_QUERY]
    first.resolve("MM", "disease")
    first.resolve("Yoon 2020", "publication")
    assert len(counting.queries) == 1, "resolving never queries the store"
    assert index_for(counting, refresh=True) is not first and len(counting.queries) == 2
    assert index_for(CountingStore(store)) is not first, "one index per store object"


def test_index_sees_added_data() -> None:
    store = load_files(bundled_rdf_files())
    store.load_bytes(
        b'<https://w3id.org/emdkg/Smoldering> <http://www.w3.org/2000/01/rdf-schema#subClassOf> '
        b'<https://w3id.org/emdkg/MultipleMyeloma> ; <http://www.w3.org/2000/01/rdf-schema#label> "smoldering myeloma"@en .',
        "turtle",
    )
    assert index_for(store, refresh=True).resolve("smoldering myeloma", "disease").iri == E + "Smoldering"


def test_curie_helpers() -> None:
    assert curie(E + "Relapse") == "emdkg:Relapse"
    assert curie(OBO + "UBERON_0002107") == "UBERON:0002107"
    assert curie("https://example.org/x") == "https://example.org/x"
    assert expand_curie("kb:yoon-2020") == KB + "yoon-2020"
    assert expand_curie("NCIT:C3242") == OBO + "NCIT_C3242"
    assert expand_curie("https://example.org") is None and expand_curie("nocolon") is None
