"""Synthetic knowledge bases at scale, with a known set of injected violations.

:func:`generate` writes N-Triples that use the *real* ontology — its diseases, sites, phases,
treatment phases, manifestations, clinical features, risk factors, therapy individuals, ECO
evidence codes and MeSH study designs, read from the bundled ``ontology/emdkg.ttl`` and
``ontology/imports/`` — and that conform to the real shapes (``shapes/emdkg.shacl.ttl``) when
validated the way ``emdkg validate`` does it (the file plus the ontology slice). The data is
shaped like the curated knowledge base at literature scale:

* publications (review articles, systematic reviews, journal articles of several study designs,
  correspondence, web pages, curation records) with DOIs and some PubMed IDs, each with a source
  document, and ``cito:cites`` links to earlier publications;
* statements of every kind, sourced, quoted, with an ECO code, study design and grade that
  match the publication: site involvement (the most common), therapy, epidemiology, study,
  prognosis, clinical feature, treatment phase, definition, mechanism, incidence and regimen
  composition findings, flagged claims corrected by earlier findings;
* programme offerings of hospitals, listed on web pages (about 3% of the statements: listings
  are a few pages, not a literature).

``violations=K`` injects K defects, cycling through :data:`VIOLATION_KINDS` (one of each kind
once K >= len(VIOLATION_KINDS)). Each defect is designed to give exactly one validation result,
recorded in the sidecar JSON (``<output>.violations.json``) as focus node, shape and constraint
component (for a blank-node property shape: the node shape that holds it, plus its path).

Deterministic: the same ``triples``, ``seed`` and ``violations`` give the same bytes.

>>> import io
>>> out = io.StringIO()
>>> report = generate(2000, out, seed=1, violations=3)
>>> 2000 <= report.triples < 2400, len(report.violations)
(True, 3)
>>> out.getvalue().count("\\n") == report.triples
True
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "Vocabulary",
    "GenerateReport",
    "ExpectedViolation",
    "ViolationKind",
    "VIOLATION_KINDS",
    "load_vocabulary",
    "generate",
    "generate_file",
    "sidecar_path",
    "expected_keys",
    "resolve_shapes",
    "generator_version",
    "parse_size",
]

EMDKG = "https://w3id.org/emdkg/"
KB = EMDKG + "kb/"
ESH = "https://w3id.org/emdkg/shapes#"
SH = "http://www.w3.org/ns/shacl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
OBO = "http://purl.obolibrary.org/obo/"
MESH = "http://id.nlm.nih.gov/mesh/"
BIBO = "http://purl.org/ontology/bibo/"
CITO = "http://purl.org/spar/cito/"
DCTERMS = "http://purl.org/dc/terms/"

#: Prefix of every synthetic individual, so a generated KB never collides with the curated one.
SYN = KB + "syn-"


def _i(iri: str) -> str:
    return f"<{iri}>"


def _e(local: str) -> str:
    return f"<{EMDKG}{local}>"


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def _s(text: str, lang: str | None = None) -> str:
    body = text.translate(_ESCAPES)
    return f'"{body}"@{lang}' if lang else f'"{body}"'


def _typed(lexical: str, datatype: str) -> str:
    return f'"{lexical}"^^<{XSD}{datatype}>'


# Predicates, pre-formatted.
TYPE = _i(RDF + "type")
LABEL = _i(RDFS + "label")
NAMED_INDIVIDUAL = _i(OWL + "NamedIndividual")
P = {
    name: _e(name)
    for name in (
        "source quote extractedFrom evidenceCode studyDesign evidenceGrade disease site "
        "diseasePhase treatmentPhase manifestation therapy outcome population minPercent "
        "maxPercent valueQualifier riskFactor ratePer100000 minAgeYears maxAgeYears "
        "prognosisDirection subjectGroup comparatorGroup clinicalFeature defines definitionText "
        "mechanism errorType whatIsWrong correctedBy claimedTherapy correctTherapy offeredBy "
        "durationDays careSetting priceOnRequest listingPosition documentOf fileName "
        "retrievedFrom journal year firstAuthor authorList publicationType articleLanguage "
        "bindsTarget city country"
    ).split()
}
DOI = _i(BIBO + "doi")
PMID = _i(BIBO + "pmid")
VOLUME = _i(BIBO + "volume")
PAGES = _i(BIBO + "pages")
TITLE = _i(DCTERMS + "title")
CITES = _i(CITO + "cites")


def parse_size(text: str) -> int:
    """``"10k"`` -> 10000, ``"1m"`` -> 1000000, ``"2500"`` -> 2500.

    >>> parse_size("10k"), parse_size("1M"), parse_size("250"), parse_size("1.5m")
    (10000, 1000000, 250, 1500000)
    """
    t = text.strip().lower().replace("_", "")
    factor = 1
    if t.endswith("k"):
        factor, t = 1000, t[:-1]
    elif t.endswith("m"):
        factor, t = 1_000_000, t[:-1]
    try:
        value = float(t) * factor
    except ValueError:
        raise ValueError(f"not a size: {text!r} (write 10000, 10k or 1m)") from None
    if value < 1 or value != int(value):
        raise ValueError(f"not a size: {text!r}")
    return int(value)


def format_size(n: int) -> str:
    """The short form of a size: 10000 -> ``"10k"``, 1000000 -> ``"1m"``.

    >>> format_size(10000), format_size(1000000), format_size(2500)
    ('10k', '1m', '2500')
    """
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


###########################################################################################
# The vocabulary: read from the real ontology
###########################################################################################


@dataclass(frozen=True)
class Vocabulary:
    """The ontology terms the generator draws from (IRIs), and their English labels."""

    diseases: tuple[str, ...]
    sites: tuple[str, ...]
    phases: tuple[str, ...]
    treatment_phases: tuple[str, ...]
    manifestations: tuple[str, ...]
    clinical_features: tuple[str, ...]
    risk_factors: tuple[str, ...]
    therapies: tuple[str, ...]
    regimens: tuple[tuple[str, tuple[str, ...]], ...]
    prognosis_directions: tuple[str, ...]
    care_settings: tuple[str, ...]
    error_types: tuple[str, ...]
    value_qualifiers: tuple[str, ...]
    molecular_targets: tuple[str, ...]
    study_designs: tuple[str, ...]
    evidence_codes: tuple[str, ...]
    non_evidence_codes: tuple[str, ...]
    disjoint_drug_classes: tuple[str, str]
    labels: dict[str, str] = field(repr=False)

    def label(self, iri: str) -> str:
        return self.labels.get(iri) or iri.rsplit("/", 1)[-1]


def load_vocabulary(ontology_dir: Path | None = None) -> Vocabulary:
    """The terms of the bundled ontology (``emdkg.ttl`` and ``imports/*.ttl``)."""
    import pyoxigraph as ox

    from emdkg.resources import ontology_dir as default_dir

    base = ontology_dir or default_dir()
    store = ox.Store()
    for path in [base / "emdkg.ttl", *sorted((base / "imports").glob("*.ttl"))]:
        store.bulk_load(path=str(path), format=ox.RdfFormat.TURTLE)

    prefixes = f"PREFIX rdfs: <{RDFS}> PREFIX owl: <{OWL}> PREFIX emdkg: <{EMDKG}> PREFIX rdf: <{RDF}> "

    def column(query: str) -> tuple[str, ...]:
        return tuple(sorted({row[0].value for row in store.query(prefixes + query) if isinstance(row[0], ox.NamedNode)}))

    def subclasses(root: str) -> tuple[str, ...]:
        return column(f"SELECT ?c WHERE {{ ?c rdfs:subClassOf+ emdkg:{root} }}")

    def members(root: str) -> tuple[str, ...]:
        return column(f"SELECT ?i WHERE {{ ?i a ?c . ?c rdfs:subClassOf* emdkg:{root} }}")

    labels = {
        row[0].value: row[1].value
        for row in store.query(
            prefixes + 'SELECT ?x ?l WHERE { ?x rdfs:label ?l FILTER(langMatches(lang(?l), "en")) }'
        )
        if isinstance(row[0], ox.NamedNode)
    }
    regimen_rows: dict[str, list[str]] = {}
    for row in store.query(prefixes + "SELECT ?r ?c WHERE { ?r emdkg:hasComponent ?c }"):
        regimen_rows.setdefault(row[0].value, []).append(row[1].value)
    regimens = tuple(sorted((r, tuple(sorted(c))) for r, c in regimen_rows.items()))

    evidence = column(f"SELECT ?c WHERE {{ ?c rdfs:subClassOf* <{OBO}ECO_0000000> }}")
    all_eco = column(f'SELECT ?c WHERE {{ ?c a owl:Class FILTER(STRSTARTS(STR(?c), "{OBO}ECO_")) }}')
    drug_classes = set(subclasses("Drug"))
    pair: tuple[str, str] | None = None
    lists = store.query(
        prefixes
        + "SELECT ?axiom ?m WHERE { ?axiom a owl:AllDisjointClasses ; owl:members/rdf:rest*/rdf:first ?m }"
    )
    by_axiom: dict[str, list[str]] = {}
    for row in lists:
        by_axiom.setdefault(str(row[0]), []).append(row[1].value)
    for group in sorted(sorted(m for m in ms if m in drug_classes) for ms in by_axiom.values()):
        if len(group) >= 2:
            pair = (group[0], group[1])
            break
    if pair is None:
        raise RuntimeError("the ontology declares no two drug classes disjoint; cannot build the vocabulary")

    return Vocabulary(
        diseases=subclasses("Disease"),
        sites=subclasses("AnatomicalSite"),
        phases=subclasses("DiseasePhase"),
        treatment_phases=subclasses("TreatmentPhase"),
        manifestations=subclasses("DiseaseManifestation"),
        clinical_features=subclasses("ClinicalFeature"),
        risk_factors=subclasses("RiskFactor"),
        therapies=members("Therapy"),
        regimens=regimens,
        prognosis_directions=members("PrognosisDirection"),
        care_settings=members("CareSetting"),
        error_types=members("ErrorType"),
        value_qualifiers=members("ValueQualifier"),
        molecular_targets=members("MolecularTarget"),
        study_designs=members("StudyDesign"),
        evidence_codes=evidence,
        non_evidence_codes=tuple(c for c in all_eco if c not in set(evidence)),
        disjoint_drug_classes=pair,
        labels=labels,
    )


###########################################################################################
# Publication kinds: class, MeSH study design, ECO code, grade, share, has a DOI
###########################################################################################


@dataclass(frozen=True)
class _PubKind:
    cls: str
    design: str
    eco: str
    grade: str
    weight: float
    identified: bool = True


_PUB_KINDS = (
    _PubKind("ReviewArticle", MESH + "D016454", OBO + "ECO_0000304", "ModerateGrade", 0.30),
    _PubKind("SystematicReview", MESH + "D000078182", OBO + "ECO_0000304", "HighGrade", 0.08),
    _PubKind("JournalArticle", MESH + "D017418", OBO + "ECO_0000304", "HighGrade", 0.04),
    _PubKind("JournalArticle", MESH + "D016449", OBO + "ECO_0000180", "HighGrade", 0.10),
    _PubKind("JournalArticle", MESH + "D018848", OBO + "ECO_0000180", "ModerateGrade", 0.04),
    _PubKind("JournalArticle", MESH + "D064888", OBO + "ECO_0000180", "ModerateGrade", 0.17),
    _PubKind("JournalArticle", MESH + "D002363", OBO + "ECO_0000180", "LowGrade", 0.08),
    _PubKind("JournalArticle", MESH + "D016428", OBO + "ECO_0006017", "ModerateGrade", 0.08),
    _PubKind("Correspondence", MESH + "D016422", OBO + "ECO_0000304", "ModerateGrade", 0.05),
    _PubKind("WebInformationPage", EMDKG + "UnreviewedWebContent", OBO + "ECO_0000303", "LowGrade", 0.05, False),
    _PubKind("CurationRecord", EMDKG + "CuratorInference", OBO + "ECO_0000305", "ModerateGrade", 0.01, False),
)
_WEB = next(k for k in _PUB_KINDS if k.cls == "WebInformationPage")
_REVIEW = _PUB_KINDS[0]

#: Statement kinds and their shares outside web pages (the curated KB, with site involvement
#: findings, the core of the graph, a little more common).
_STATEMENT_KINDS = (
    ("site", 0.22),
    ("therapy", 0.13),
    ("epidemiology", 0.10),
    ("study", 0.09),
    ("prognosis", 0.08),
    ("clinical", 0.08),
    ("treatment", 0.07),
    ("incidence", 0.06),
    ("definition", 0.05),
    ("mechanism", 0.05),
    ("claim", 0.03),
    ("regimen", 0.02),
)
_WEB_STATEMENT_KINDS = (("site", 0.4), ("definition", 0.15), ("mechanism", 0.15), ("therapy", 0.3))

_CLASS_OF = {
    "site": "SiteInvolvementFinding",
    "therapy": "TherapyFinding",
    "epidemiology": "EpidemiologyFinding",
    "study": "StudyFinding",
    "prognosis": "PrognosisFinding",
    "clinical": "ClinicalFeatureFinding",
    "treatment": "TreatmentPhaseFinding",
    "incidence": "IncidenceFinding",
    "definition": "DefinitionFinding",
    "mechanism": "MechanismFinding",
    "claim": "FlaggedClaim",
    "regimen": "RegimenCompositionFinding",
    "programme": "ProgrammeOffering",
}

_JOURNALS = (
    "Blood", "Blood Cancer J", "Leukemia", "Haematologica", "Br J Haematol", "Am J Hematol",
    "J Clin Oncol", "Lancet Haematol", "Ann Hematol", "Leuk Lymphoma", "Cancers (Basel)",
    "Front Oncol", "Bone Marrow Transplant", "Clin Lymphoma Myeloma Leuk", "Eur J Haematol",
)
_SURNAMES = (
    "Bladé", "Gaudichon", "Yoon", "Ravinet", "Kantarjian", "Fielding", "Gokbuget", "Oriol",
    "Tavernier", "Cho", "Eom", "Bakst", "Ge", "Domenech", "Davids", "Aldoss", "Rosiñol",
    "Varettoni", "Usmani", "Bhutani", "Weinstock", "Gagelmann", "Sevcikova", "Jagosky", "Li",
    "Wang", "Zhang", "Nakamura", "Schmidt", "Müller", "Rossi", "García", "Novak", "Kowalski",
)
_OUTCOMES = (
    "improved overall survival", "no difference in overall survival", "complete remission",
    "durable remission of extramedullary lesions", "shorter progression-free survival",
    "higher rate of minimal residual disease negativity", "fewer central nervous system relapses",
)
_POPULATIONS = (
    "patients with newly diagnosed disease", "patients at first relapse", "adults",
    "children and adolescents", "patients after allogeneic transplantation",
    "patients with high-risk cytogenetics", "older patients",
)
_CITIES = (
    ("Ulm", "Germany"), ("Aachen", "Germany"), ("Heidelberg", "Germany"), ("Freiburg", "Germany"),
    ("Barcelona", "Spain"), ("Lyon", "France"), ("Milan", "Italy"), ("Seoul", "South Korea"),
    ("Boston", "United States"), ("Toronto", "Canada"), ("Prague", "Czech Republic"),
)


def _weighted(items: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    names = [name for name, _ in items]
    cumulative, total = [], 0.0
    for _, w in items:
        total += w
        cumulative.append(total)
    return names, cumulative


###########################################################################################
# Entities: a subject and its (predicate, object) pairs, in N-Triples form
###########################################################################################


class _Entity:
    __slots__ = ("subject", "pairs", "kind")

    def __init__(self, subject: str, kind: str = "") -> None:
        self.subject = subject  # the IRI, without angle brackets
        self.pairs: list[tuple[str, str]] = []
        self.kind = kind

    def add(self, predicate: str, obj: str) -> None:
        self.pairs.append((predicate, obj))

    def drop(self, predicate: str) -> None:
        self.pairs = [(p, o) for p, o in self.pairs if p != predicate]

    def replace(self, predicate: str, obj: str) -> None:
        self.drop(predicate)
        self.add(predicate, obj)

    def has(self, predicate: str) -> bool:
        return any(p == predicate for p, _ in self.pairs)


###########################################################################################
# Injected violations
###########################################################################################


@dataclass(frozen=True)
class ExpectedViolation:
    """One validation result a defect must give.

    ``shape`` is the source shape as :func:`emdkg.shacl_fast.result_key` names it: the shape's
    IRI, or for a blank-node property shape ``"<node shape IRI> <path>"``.
    """

    kind: str
    focus: str
    shape: str
    component: str
    node_shape: str  # the targeted node shape the defect is caught by
    path: str | None  # the property path (None for node-level constraints)

    def key(self) -> tuple[str, str, str]:
        """What must agree with a validator: (focus, source shape, component)."""
        return (self.focus, self.shape, self.component)


@dataclass(frozen=True)
class ViolationKind:
    """A kind of defect: the entity it needs, how to break it, and the result it gives.

    The result is described by the targeted node shape, the property path (None for a
    node-level constraint) and the constraint component; the name of the property shape that
    reports it is looked up in the shapes graph, so renaming a property shape in
    shapes/emdkg.shacl.ttl does not break the generator.
    """

    name: str
    needs: str  # a statement kind, "web", "pub", "doc", "programme", "individual"
    node_shape: str  # local name in esh:
    component: str  # local name in sh: (without ConstraintComponent)
    path: str | None = None  # full IRI of the path
    description: str = ""


def _k(name, needs, node_shape, component, path=None, description=""):  # noqa: ANN001, ANN202
    return ViolationKind(name, needs, node_shape, component, path, description)


_S, _E = RDFS, EMDKG

#: Every kind of injected defect; violation j is of kind ``VIOLATION_KINDS[j % len(...)]``.
VIOLATION_KINDS: tuple[ViolationKind, ...] = (
    _k("missing-source", "site", "StatementShape", "MinCount", _E + "source", "a finding without emdkg:source"),
    _k("two-grades", "site", "StatementShape", "MaxCount", _E + "evidenceGrade", "two evidence grades"),
    _k("eco-as-string", "therapy", "StatementShape", "Pattern", _E + "evidenceCode", 'evidence code "ECO:0000304" as a string'),
    _k("eco-not-evidence", "site", "StatementShape", "Or", _E + "evidenceCode", "an ECO code that is not below ECO:0000000 evidence"),
    _k("design-not-design", "study", "StatementShape", "Class", _E + "studyDesign", "a grade given as the study design"),
    _k("grade-not-grade", "clinical", "StatementShape", "In", _E + "evidenceGrade", "a care setting given as the grade"),
    _k("extracted-from-publication", "mechanism", "StatementShape", "Class", _E + "extractedFrom", "emdkg:extractedFrom the publication, not its document"),
    _k("disease-is-site", "site", "ValueKindShape", "Node", _E + "disease", "an anatomical site as the disease"),
    _k("site-is-disease", "site", "ValueKindShape", "Node", _E + "site", "a disease as the site"),
    _k("percent-swapped", "incidence", "PercentShape", "LessThanOrEquals", _E + "minPercent", "minPercent above maxPercent"),
    _k("percent-integer", "incidence", "PercentShape", "Datatype", _E + "minPercent", "minPercent as an xsd:integer"),
    _k("percent-over-100", "incidence", "PercentShape", "MaxInclusive", _E + "maxPercent", "maxPercent 150"),
    _k("doi-with-prefix", "pub", "PublicationShape", "Pattern", BIBO + "doi", "a DOI written as a URL"),
    _k("programme-zero-days", "programme", "ProgrammeOfferingShape", "MinExclusive", _E + "durationDays", "a 0-day programme"),
    _k("programme-no-care-setting", "programme", "ProgrammeOfferingShape", "MinCount", _E + "careSetting", "a programme without care setting"),
    _k("claim-typed-finding", "claim", "FlaggedClaimNotFindingShape", "Not", None, "a flagged claim also typed as a finding"),
    _k("statement-no-label", "prognosis", "LabelRequiredShape", "MinCount", _S + "label", "a statement without rdfs:label"),
    _k("label-not-english", "treatment", "EnglishLabelShape", "QualifiedMinCount", _S + "label", "a label only in French"),
    _k("two-english-labels", "site", "EnglishLabelShape", "QualifiedMaxCount", _S + "label", "two English labels"),
    _k("misspelt-type", "site", "TypedStatementShape", "Class", None, "a misspelt finding class"),
    _k("disjoint-therapy", "individual", "DisjointTypesShape", "SPARQL", None, "a drug typed with two disjoint classes"),
    _k("bite-without-cd3", "individual", "BispecificTCellEngagerShape", "And", None, "a bispecific T-cell engager binding only VEGF-A"),
    _k("year-as-string", "pub", "PublicationShape", "Datatype", _E + "year", "a publication year as a plain string"),
    _k("document-without-location", "doc", "SourceDocumentShape", "Or", None, "a source document with neither file name nor URL"),
    _k("retrieved-from-string", "doc", "SourceDocumentShape", "Datatype", _E + "retrievedFrom", "a URL as a plain string"),
    _k("cites-undefined", "pub", "ValueKindShape", "Class", CITO + "cites", "cito:cites an undefined publication"),
    _k("web-page-high-grade", "web", "StatementSourceQualityShape", "Or", None, "a web-page statement graded high"),
    _k("incidence-no-number", "incidence", "IncidenceFindingShape", "Or", None, "an incidence finding without percentages"),
    _k("empty-quote", "therapy", "StatementShape", "MinLength", _E + "quote", "an empty quote"),
    _k("bad-prognosis-direction", "prognosis", "PrognosisFindingShape", "Class", _E + "prognosisDirection", "a grade as the prognosis direction"),
    _k("therapy-finding-no-therapy", "therapy", "TherapyFindingShape", "MinCount", _E + "therapy", "a therapy finding without a therapy"),
    _k("therapy-is-class", "therapy", "ValueKindShape", "Class", _E + "therapy", "a therapy class instead of an individual"),
    _k("ages-swapped", "epidemiology", "RateShape", "LessThanOrEquals", _E + "minAgeYears", "minimum age above maximum age"),
    _k("defines-literal", "definition", "DefinitionFindingShape", "NodeKind", _E + "defines", "a definition of a string"),
    _k("negative-rate", "epidemiology", "RateShape", "MinInclusive", _E + "ratePer100000", "a negative rate"),
    _k("missing-design", "clinical", "StatementShape", "MinCount", _E + "studyDesign", "a statement without study design"),
    _k("claim-corrected-by-publication", "claim", "FlaggedClaimShape", "Class", _E + "correctedBy", "a claim corrected by a publication"),
)


def resolve_shapes(shapes: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """For each kind of defect, the name of the shape that reports it in ``shapes``.

    A node-level kind is reported by its node shape; a property-level kind by the one property
    shape of that node shape with that path and that constraint parameter (its IRI, or
    ``"<node shape> <path>"`` when it is a blank node). Raises ``LookupError`` when the shapes no
    longer hold such a shape (the kind needs updating).
    """
    import pyoxigraph as ox

    from emdkg.resources import shapes_dir

    store = ox.Store()
    store.load(path=str(shapes or shapes_dir() / "emdkg.shacl.ttl"), format=ox.RdfFormat.TURTLE)
    out: dict[str, str] = {}
    for k in VIOLATION_KINDS:
        holder = ESH + k.node_shape
        param = k.component[0].lower() + k.component[1:]
        if param == "sPARQL":
            param = "sparql"
        if k.path is None:
            if not any(store.quads_for_pattern(ox.NamedNode(holder), ox.NamedNode(SH + param), None)):
                raise LookupError(f"{k.name}: {holder} has no sh:{param}")
            out[k.name] = holder
            continue
        rows = list(store.query(
            f"SELECT DISTINCT ?p WHERE {{ <{holder}> <{SH}property> ?p . ?p <{SH}path> <{k.path}> ; <{SH}{param}> ?x }}"
        ))
        if len(rows) != 1:
            raise LookupError(f"{k.name}: {len(rows)} property shapes of {holder} with path <{k.path}> and sh:{param}")
        node = rows[0][0]
        out[k.name] = node.value if isinstance(node, ox.NamedNode) else f"{holder} <{k.path}>"
    return out


def _expected(k: ViolationKind, focus: str, names: dict[str, str]) -> ExpectedViolation:
    return ExpectedViolation(
        kind=k.name,
        focus=focus,
        shape=names[k.name],
        component=SH + k.component + "ConstraintComponent",
        node_shape=ESH + k.node_shape,
        path=k.path,
    )


_STATEMENT_NEEDS = {name for name, _ in _STATEMENT_KINDS} | {"web"}


###########################################################################################
# The generator
###########################################################################################


@dataclass
class GenerateReport:
    """What :func:`generate` wrote."""

    triples: int
    seed: int
    requested_triples: int
    counts: dict[str, int]
    violations: list[ExpectedViolation]

    def to_json(self) -> dict[str, Any]:
        return {
            "generator": "emdkg.bench.generate",
            "version": generator_version(),
            "format": "application/n-triples",
            "requested_triples": self.requested_triples,
            "triples": self.triples,
            "seed": self.seed,
            "counts": dict(sorted(self.counts.items())),
            "violations": [asdict(v) for v in self.violations],
        }


class _Generator:
    def __init__(self, vocab: Vocabulary, seed: int, out: IO[str]) -> None:
        self.v = vocab
        self.rng = random.Random(seed)
        self.out = out
        self.buffer: list[str] = []
        self.triples = 0
        self.counts: dict[str, int] = {}
        self.publications: list[str] = []  # IRIs of identified (citable) publications
        self.findings: list[str] = []  # recent finding IRIs (correction targets)
        self.hospitals: list[str] = []
        self.doc_index = 0
        self.shape_names: dict[str, str] | None = None
        self.extra_index = 0
        self.statement_names, self.statement_cum = _weighted(_STATEMENT_KINDS)
        self.web_names, self.web_cum = _weighted(_WEB_STATEMENT_KINDS)
        self.pub_cum: list[float] = []
        total = 0.0
        for k in _PUB_KINDS:
            total += k.weight
            self.pub_cum.append(total)
        self.eco = {c.rsplit("/", 1)[-1]: c for c in vocab.evidence_codes}
        for kind in _PUB_KINDS:
            if kind.eco not in vocab.evidence_codes:
                raise RuntimeError(f"{kind.eco} is not an imported ECO evidence term; update the generator")
            if kind.design not in vocab.study_designs:
                raise RuntimeError(f"{kind.design} is not a study design of the ontology; update the generator")

    # -- output ---------------------------------------------------------------------------

    def emit(self, entity: _Entity) -> None:
        s = _i(entity.subject)
        buf = self.buffer
        pairs = list(dict.fromkeys(entity.pairs))  # a repeated random pick is one triple
        for p, o in pairs:
            buf.append(f"{s} {p} {o} .\n")
        self.triples += len(pairs)
        if len(buf) > 8192:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.out.write("".join(self.buffer))
            self.buffer.clear()

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    # -- helpers --------------------------------------------------------------------------

    def pick(self, seq):  # noqa: ANN001, ANN201
        return seq[int(self.rng.random() * len(seq))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pub_kind(self) -> _PubKind:
        x = self.rng.random() * self.pub_cum[-1]
        for kind, c in zip(_PUB_KINDS, self.pub_cum):
            if x < c:
                return kind
        return _PUB_KINDS[-1]

    def statement_kind(self, web: bool) -> str:
        names, cum = (self.web_names, self.web_cum) if web else (self.statement_names, self.statement_cum)
        x = self.rng.random() * cum[-1]
        for name, c in zip(names, cum):
            if x < c:
                return name
        return names[-1]

    def percent(self, low: float = 0.0, high: float = 100.0) -> float:
        return round(low + self.rng.random() * (high - low), 1)

    # -- a publication and its source document -------------------------------------------

    def publication(self, n: int, kind: _PubKind) -> _Entity:
        iri = f"{SYN}pub-{n:07d}"
        author = self.pick(_SURNAMES)
        year = 1990 + int(self.rng.random() * 36)
        e = _Entity(iri, "pub")
        e.add(TYPE, _e(kind.cls))
        e.add(TYPE, NAMED_INDIVIDUAL)
        topic = self.v.label(self.pick(self.v.diseases))
        title = f"Extramedullary involvement in {topic}: synthetic study {n}"
        e.add(LABEL, _s(f"{author} et al. {year}, {title}", "en"))
        e.add(TITLE, _s(title, "en"))
        e.add(P["year"], _typed(str(year), "gYear"))
        e.add(P["publicationType"], _i(kind.design))
        if kind.identified:
            e.add(DOI, _s(f"10.5555/emdkg.syn.{n}"))
            if self.chance(0.3):
                e.add(PMID, _s(str(10_000_000 + n)))
            e.add(P["journal"], _s(self.pick(_JOURNALS)))
            e.add(VOLUME, _s(str(1 + int(self.rng.random() * 140))))
            first = 1 + int(self.rng.random() * 2000)
            e.add(PAGES, _s(f"{first}–{first + int(self.rng.random() * 20)}"))
            e.add(P["firstAuthor"], _s(f"{author} {chr(65 + int(self.rng.random() * 26))}"))
            e.add(P["authorList"], _s(f"{author} {chr(65 + n % 26)}, {self.pick(_SURNAMES)} {chr(65 + (n // 26) % 26)}, et al."))
            e.add(P["articleLanguage"], _typed("en", "language"))
            # Citations of earlier publications (a reference list).
            if self.publications:
                cited = {self.pick(self.publications) for _ in range(int(self.rng.random() * 7))}
                for ref in sorted(cited):
                    e.add(CITES, _i(ref))
        else:
            e.add(P["articleLanguage"], _typed("en", "language"))
        return e

    def document(self, n: int, pub: str, web: bool) -> _Entity:
        e = _Entity(f"{SYN}doc-{n:07d}", "doc")
        e.add(TYPE, _e("SourceDocument"))
        e.add(TYPE, NAMED_INDIVIDUAL)
        e.add(LABEL, _s(f"synthetic source document {n}", "en"))
        if web or self.chance(0.4):
            e.add(P["retrievedFrom"], _typed(f"https://example.org/emdkg/syn/{n}", "anyURI"))
        else:
            e.add(P["fileName"], _s(f"syn_{n:07d}.txt"))
        e.add(P["documentOf"], _i(pub))
        return e

    # -- statements -----------------------------------------------------------------------

    def statement(self, iri: str, kind: str, pub: str, doc: str, pk: _PubKind) -> _Entity:
        v = self.v
        e = _Entity(iri, kind)
        e.add(TYPE, _e(_CLASS_OF[kind]))
        e.add(TYPE, NAMED_INDIVIDUAL)
        disease = self.pick(v.diseases)
        dl = v.label(disease)
        label = quote = ""
        if kind == "site":
            site = self.pick(v.sites)
            sl = v.label(site)
            label = f"{sl} is a site of extramedullary involvement in {dl}"
            quote = f"Extramedullary {dl} involved the {sl}"
            e.add(P["disease"], _i(disease))
            e.add(P["site"], _i(site))
            if self.chance(0.9):
                e.add(P["manifestation"], _e("ExtramedullaryDisease"))
            if self.chance(0.65):
                phase = self.pick(v.phases)
                e.add(P["diseasePhase"], _i(phase))
                quote += f" at {v.label(phase)}"
        elif kind == "therapy":
            therapy = self.pick(v.therapies)
            label = f"{v.label(therapy)} is used in {dl}"
            quote = f"Patients with {dl} were treated with {v.label(therapy)}"
            e.add(P["disease"], _i(disease))
            e.add(P["therapy"], _i(therapy))
            if self.chance(0.2):
                e.add(P["therapy"], _i(self.pick(v.therapies)))
            e.add(P["outcome"], _s(self.pick(_OUTCOMES)))
            if self.chance(0.5):
                e.add(P["diseasePhase"], _i(self.pick(v.phases)))
            if self.chance(0.5):
                e.add(P["population"], _s(self.pick(_POPULATIONS)))
            if self.chance(0.15):
                e.add(P["treatmentPhase"], _i(self.pick(v.treatment_phases)))
        elif kind == "epidemiology":
            label = f"epidemiology of {dl}"
            quote = f"The epidemiology of {dl} was described"
            e.add(P["disease"], _i(disease))
            e.add(P["population"], _s(self.pick(_POPULATIONS)))
            if self.chance(0.3):
                e.add(P["riskFactor"], _i(self.pick(v.risk_factors)))
            if self.chance(0.4):
                low = self.percent(0, 60)
                e.add(P["minPercent"], _typed(str(low), "decimal"))
                if self.chance(0.5):
                    e.add(P["maxPercent"], _typed(str(self.percent(low, 100)), "decimal"))
                else:
                    e.add(P["valueQualifier"], _i(self.pick(v.value_qualifiers)))
            if self.chance(0.15):
                e.add(P["ratePer100000"], _typed(str(round(self.rng.random() * 10, 2)), "decimal"))
            if self.chance(0.15):
                lo = int(self.rng.random() * 40)
                e.add(P["minAgeYears"], _typed(str(lo), "integer"))
                e.add(P["maxAgeYears"], _typed(str(lo + int(self.rng.random() * 50)), "integer"))
        elif kind == "study":
            label = f"a study of {dl} exists"
            quote = f"We studied extramedullary {dl}"
            e.add(P["disease"], _i(disease))
            if self.chance(0.5):
                e.add(P["manifestation"], _i(self.pick(v.manifestations)))
            if self.chance(0.4):
                e.add(P["diseasePhase"], _i(self.pick(v.phases)))
            if self.chance(0.3):
                e.add(P["population"], _s(self.pick(_POPULATIONS)))
        elif kind == "prognosis":
            direction = self.pick(v.prognosis_directions)
            label = f"{v.label(direction)} in {dl} with extramedullary disease"
            quote = f"Extramedullary {dl} carried a {v.label(direction)}"
            e.add(P["disease"], _i(disease))
            e.add(P["prognosisDirection"], _i(direction))
            e.add(P["subjectGroup"], _s(f"patients with extramedullary {dl}"))
            if self.chance(0.6):
                e.add(P["comparatorGroup"], _s(f"patients with {dl} without extramedullary disease"))
            if self.chance(0.3):
                e.add(P["site"], _i(self.pick(v.sites)))
            if self.chance(0.2):
                e.add(P["outcome"], _s(self.pick(_OUTCOMES)))
        elif kind == "clinical":
            feature = self.pick(v.clinical_features)
            label = f"{v.label(feature)} is a clinical feature of {dl}"
            quote = f"Patients with {dl} presented with {v.label(feature)}"
            e.add(P["disease"], _i(disease))
            e.add(P["clinicalFeature"], _i(feature))
        elif kind == "treatment":
            tp = self.pick(v.treatment_phases)
            label = f"{v.label(tp)} is a treatment phase of {dl}"
            quote = f"Treatment of {dl} includes {v.label(tp)}"
            e.add(P["disease"], _i(disease))
            e.add(P["treatmentPhase"], _i(tp))
            for _ in range(int(self.rng.random() * 3)):
                e.add(P["therapy"], _i(self.pick(v.therapies)))
        elif kind == "incidence":
            phase = self.pick(v.phases)
            low = self.percent(0, 40)
            label = f"incidence of extramedullary disease in {dl} at {v.label(phase)}"
            quote = f"Extramedullary disease occurred in {low}% of patients with {dl}"
            e.add(P["disease"], _i(disease))
            e.add(P["manifestation"], _e("ExtramedullaryDisease"))
            e.add(P["diseasePhase"], _i(phase))
            e.add(P["population"], _s(self.pick(_POPULATIONS)))
            e.add(P["minPercent"], _typed(str(low), "decimal"))
            e.add(P["maxPercent"], _typed(str(self.percent(low, 60)), "decimal"))
        elif kind == "definition":
            term = self.pick(v.diseases + v.manifestations)
            label = f"definition of {v.label(term)}"
            quote = f"{v.label(term).capitalize()} is defined as described here"
            e.add(P["defines"], _i(term))
            e.add(P["disease"], _i(disease))
            e.add(P["definitionText"], _s(f"A synthetic definition of {v.label(term)}."))
            if self.chance(0.5):
                e.add(P["site"], _i(self.pick(v.sites)))
        elif kind == "mechanism":
            label = f"a mechanism of extramedullary spread in {dl}"
            quote = f"Loss of adhesion molecules lets {dl} cells leave the bone marrow"
            e.add(P["disease"], _i(disease))
            e.add(P["mechanism"], _s("Loss of adhesion molecules and independence from the marrow niche."))
            if self.chance(0.5):
                e.add(P["manifestation"], _i(self.pick(v.manifestations)))
        elif kind == "claim":
            label = f"a wrong claim about {dl}"
            quote = f"A superseded statement about {dl}"
            e.add(P["disease"], _i(disease))
            e.add(P["errorType"], _i(self.pick(v.error_types)))
            e.add(P["whatIsWrong"], _s(f"The statement about {dl} is superseded by later evidence."))
            target = self.pick(self.findings) if self.findings else None
            if target is None:  # no earlier finding yet: the claim is corrected by a fresh one
                target = iri + "-correction"
            e.add(P["correctedBy"], _i(target))
            if self.chance(0.5):
                e.add(P["claimedTherapy"], _i(self.pick(v.therapies)))
                e.add(P["correctTherapy"], _i(self.pick(v.therapies)))
        elif kind == "regimen":
            regimen, components = self.pick(v.regimens)
            component = self.pick(components)
            label = f"{v.label(regimen)} contains {v.label(component)}"
            quote = f"The {v.label(regimen)} regimen includes {v.label(component)}"
            e.add(P["disease"], _i(disease))
            e.add(P["therapy"], _i(regimen))
            e.add(P["therapy"], _i(component))
        else:  # pragma: no cover - a programming error
            raise ValueError(kind)
        e.pairs.insert(2, (LABEL, _s(label, "en")))
        e.add(P["quote"], _s(quote + ".", "en"))
        if self.chance(0.1):
            e.add(P["quote"], _s(f"髓外{dl}。", "zh"))
        self.provenance(e, pub, doc, pk)
        return e

    def provenance(self, e: _Entity, pub: str, doc: str, pk: _PubKind) -> None:
        e.add(P["source"], _i(pub))
        e.add(P["extractedFrom"], _i(doc))
        e.add(P["evidenceCode"], _i(pk.eco))
        e.add(P["studyDesign"], _i(pk.design))
        e.add(P["evidenceGrade"], _e(pk.grade))

    def hospital(self) -> str:
        n = len(self.hospitals)
        iri = f"{SYN}hospital-{n:05d}"
        city, country = self.pick(_CITIES)
        e = _Entity(iri, "hospital")
        e.add(TYPE, _e("Hospital"))
        e.add(TYPE, NAMED_INDIVIDUAL)
        e.add(LABEL, _s(f"University Hospital {city} {n}", "en"))
        e.add(P["city"], _s(city))
        e.add(P["country"], _s(country))
        self.emit(e)
        self.count("Hospital")
        self.hospitals.append(iri)
        return iri

    def programme(self, iri: str, position: int, pub: str, doc: str) -> _Entity:
        if not self.hospitals or self.chance(0.15):
            hospital = self.hospital()
        else:
            hospital = self.pick(self.hospitals)
        days = 7 * (1 + int(self.rng.random() * 12))
        inpatient = self.chance(0.6)
        e = _Entity(iri, "programme")
        e.add(TYPE, _e("ProgrammeOffering"))
        e.add(TYPE, NAMED_INDIVIDUAL)
        e.add(LABEL, _s(f"{days}-day {'inpatient' if inpatient else 'outpatient'} ALL treatment programme (entry {position})", "en"))
        e.add(P["offeredBy"], _i(hospital))
        e.add(P["disease"], _e("AcuteLymphoblasticLeukemia"))
        e.add(P["durationDays"], _typed(str(days), "integer"))
        e.add(P["careSetting"], _e("Inpatient" if inpatient else "Outpatient"))
        e.add(P["priceOnRequest"], _typed("true" if self.chance(0.9) else "false", "boolean"))
        e.add(P["listingPosition"], _typed(str(position), "integer"))
        e.add(P["quote"], _s(f"Hospital {position}\nOn Request\n{days} Day\n{'Hospitalized' if inpatient else 'Outpatient'}", "en"))
        self.provenance(e, pub, doc, _WEB)
        return e

    # -- one source: a publication, its document and its statements ---------------------

    def source(self, violation: ViolationKind | None) -> list[ExpectedViolation]:
        n = self.doc_index
        self.doc_index += 1
        needs = violation.needs if violation else ""
        if needs in ("web", "programme"):
            pk = _WEB
        elif needs in ("pub",):
            pk = _REVIEW
        else:
            pk = self.pub_kind()
            if needs and pk.cls in ("WebInformationPage", "CurationRecord"):
                pk = _REVIEW  # a defect needs an otherwise clean, identified source
        web = pk is _WEB
        pub = self.publication(n, pk)
        doc = self.document(n, pub.subject, web)
        expected: list[ExpectedViolation] = []

        if violation and needs == "pub":
            expected.append(self.break_publication(violation, pub))
        if violation and needs == "doc":
            expected.append(self.break_document(violation, doc))
        self.emit(pub)
        self.emit(doc)
        self.count(pk.cls)
        self.count("SourceDocument")
        if pk.identified:
            self.publications.append(pub.subject)

        statements = 1 + int(self.rng.random() * 11)  # 1..11, mean 6
        kinds = [self.statement_kind(web) for _ in range(statements)]
        if violation and needs in _CLASS_OF and needs != "programme":
            kinds[0] = needs  # the statement to break comes first
        elif violation and needs == "web":
            kinds[0] = "site"
        for j, kind in enumerate(kinds):
            iri = f"{SYN}pub-{n:07d}-s{j:02d}"
            e = self.statement(iri, kind, pub.subject, doc.subject, pk)
            if j == 0 and violation and needs in _STATEMENT_NEEDS:
                expected.append(self.break_statement(violation, e, pub.subject))
            if kind == "claim" and e.pairs and any(o == _i(iri + "-correction") for _, o in e.pairs):
                fix = self.statement(iri + "-correction", "definition", pub.subject, doc.subject, pk)
                self.emit(fix)
                self.count("DefinitionFinding")
                self.findings.append(fix.subject)
            self.emit(e)
            self.count(_CLASS_OF[kind])
            if kind != "claim" and not (j == 0 and violation):  # never correct by a broken one
                self.findings.append(iri)
        if len(self.findings) > 5000:
            del self.findings[:2500]

        if web:
            entries = 3 + int(self.rng.random() * 13) if (needs == "programme" or self.chance(0.5)) else 0
            for position in range(1, entries + 1):
                e = self.programme(f"{SYN}pub-{n:07d}-p{position:02d}", position, pub.subject, doc.subject)
                if position == 1 and violation and needs == "programme":
                    expected.append(self.break_programme(violation, e))
                self.emit(e)
                self.count("ProgrammeOffering")

        if violation and needs == "individual":
            expected.append(self.break_individual(violation))
        return expected

    # -- defects --------------------------------------------------------------------------

    def expected(self, k: ViolationKind, focus: str) -> ExpectedViolation:
        if self.shape_names is None:
            self.shape_names = resolve_shapes()
        return _expected(k, focus, self.shape_names)

    def break_publication(self, k: ViolationKind, pub: _Entity) -> ExpectedViolation:
        if k.name == "doi-with-prefix":
            n = pub.subject.rsplit("-", 1)[-1]
            pub.replace(DOI, _s(f"https://doi.org/10.5555/emdkg.syn.{int(n)}"))
            pub.replace(PMID, _s(str(10_000_000 + int(n))))  # still identified: one result only
        elif k.name == "year-as-string":
            pub.replace(P["year"], _s("2019"))
        elif k.name == "cites-undefined":
            pub.add(CITES, _i(f"{SYN}undefined-publication-{self.doc_index}"))
        else:  # pragma: no cover
            raise ValueError(k.name)
        return self.expected(k, pub.subject)

    def break_document(self, k: ViolationKind, doc: _Entity) -> ExpectedViolation:
        if k.name == "document-without-location":
            doc.drop(P["fileName"])
            doc.drop(P["retrievedFrom"])
        elif k.name == "retrieved-from-string":
            doc.drop(P["fileName"])
            doc.replace(P["retrievedFrom"], _s(f"https://example.org/emdkg/syn/{self.doc_index}"))
        else:  # pragma: no cover
            raise ValueError(k.name)
        return self.expected(k, doc.subject)

    def break_statement(self, k: ViolationKind, e: _Entity, pub: str) -> ExpectedViolation:
        v = self.v
        name = k.name
        if name == "missing-source":
            e.drop(P["source"])
        elif name == "two-grades":
            grade = next(o for p, o in e.pairs if p == P["evidenceGrade"])
            other = next(g for g in ("HighGrade", "ModerateGrade") if _e(g) != grade)
            e.add(P["evidenceGrade"], _e(other))
        elif name == "eco-as-string":
            e.replace(P["evidenceCode"], _s("ECO:0000304"))
        elif name == "eco-not-evidence":
            e.replace(P["evidenceCode"], _i(v.non_evidence_codes[0]))
        elif name == "design-not-design":
            e.replace(P["studyDesign"], _e("HighGrade"))
        elif name == "grade-not-grade":
            e.replace(P["evidenceGrade"], _e("Inpatient"))
        elif name == "extracted-from-publication":
            e.replace(P["extractedFrom"], _i(pub))
        elif name == "disease-is-site":
            e.replace(P["disease"], _i(v.sites[0]))
        elif name == "site-is-disease":
            e.replace(P["site"], _i(v.diseases[0]))
        elif name == "percent-swapped":
            e.replace(P["minPercent"], _typed("40.0", "decimal"))
            e.replace(P["maxPercent"], _typed("20.0", "decimal"))
        elif name == "percent-integer":
            e.replace(P["minPercent"], _typed("15", "integer"))
            e.replace(P["maxPercent"], _typed("25.0", "decimal"))
        elif name == "percent-over-100":
            e.replace(P["minPercent"], _typed("10.0", "decimal"))
            e.replace(P["maxPercent"], _typed("150.0", "decimal"))
        elif name == "claim-typed-finding":
            e.add(TYPE, _e("StudyFinding"))
        elif name == "statement-no-label":
            e.drop(LABEL)
        elif name == "label-not-english":
            e.replace(LABEL, _s("une constatation synthétique", "fr"))
        elif name == "two-english-labels":
            e.add(LABEL, _s("a second English label", "en"))
        elif name == "misspelt-type":
            e.pairs = [(p, o) for p, o in e.pairs if not (p == TYPE and o == _e("SiteInvolvementFinding"))]
            e.pairs.insert(0, (TYPE, _e("SiteInvolvmentFinding")))
        elif name == "web-page-high-grade":
            e.replace(P["evidenceGrade"], _e("HighGrade"))
        elif name == "incidence-no-number":
            e.drop(P["minPercent"])
            e.drop(P["maxPercent"])
        elif name == "empty-quote":
            e.drop(P["quote"])
            e.add(P["quote"], _s(""))
        elif name == "bad-prognosis-direction":
            e.replace(P["prognosisDirection"], _e("HighGrade"))
        elif name == "therapy-finding-no-therapy":
            e.drop(P["therapy"])
        elif name == "therapy-is-class":
            e.drop(P["therapy"])
            e.add(P["therapy"], _e("AllogeneicHSCT"))
        elif name == "ages-swapped":
            e.replace(P["minAgeYears"], _typed("60", "integer"))
            e.replace(P["maxAgeYears"], _typed("18", "integer"))
        elif name == "defines-literal":
            e.replace(P["defines"], _s("plasma cell leukemia"))
        elif name == "negative-rate":
            e.replace(P["ratePer100000"], _typed("-0.5", "decimal"))
        elif name == "missing-design":
            e.drop(P["studyDesign"])
        elif name == "claim-corrected-by-publication":
            e.drop(P["correctedBy"])
            e.add(P["correctedBy"], _i(pub))
        else:  # pragma: no cover
            raise ValueError(name)
        return self.expected(k, e.subject)

    def break_programme(self, k: ViolationKind, e: _Entity) -> ExpectedViolation:
        if k.name == "programme-zero-days":
            e.replace(P["durationDays"], _typed("0", "integer"))
        elif k.name == "programme-no-care-setting":
            e.drop(P["careSetting"])
        else:  # pragma: no cover
            raise ValueError(k.name)
        return self.expected(k, e.subject)

    def break_individual(self, k: ViolationKind) -> ExpectedViolation:
        self.extra_index += 1
        iri = f"{SYN}therapy-{self.extra_index:05d}"
        e = _Entity(iri, "therapy")
        if k.name == "disjoint-therapy":
            a, b = self.v.disjoint_drug_classes
            e.add(TYPE, _i(a))
            e.add(TYPE, _i(b))
            e.add(LABEL, _s(f"synthetic drug {self.extra_index} ({self.v.label(a)} and {self.v.label(b)})", "en"))
        elif k.name == "bite-without-cd3":
            e.add(TYPE, _e("BispecificTCellEngager"))
            e.add(LABEL, _s(f"synthetic antibody {self.extra_index}", "en"))
            e.add(P["bindsTarget"], _e("VEGFA"))
        else:  # pragma: no cover
            raise ValueError(k.name)
        e.add(TYPE, NAMED_INDIVIDUAL)
        self.emit(e)
        self.count("Therapy")
        return self.expected(k, iri)


def generate(
    triples: int,
    out: IO[str],
    *,
    seed: int = 0,
    violations: int = 0,
    vocabulary: Vocabulary | None = None,
) -> GenerateReport:
    """Write a synthetic knowledge base of about ``triples`` triples to ``out`` (N-Triples).

    Stops at the first source boundary at or past ``triples`` (a few dozen triples over), or
    later when the injected violations need more sources than that (tiny sizes).
    """
    if triples < 1:
        raise ValueError("triples must be positive")
    if violations < 0:
        raise ValueError("violations must not be negative")
    vocab = vocabulary or load_vocabulary()
    gen = _Generator(vocab, seed, out)
    expected: list[ExpectedViolation] = []
    j = 0
    while gen.triples < triples or j < violations:
        kind = None
        if j < violations and gen.triples >= int(j * triples / violations):
            kind = VIOLATION_KINDS[j % len(VIOLATION_KINDS)]
            j += 1
        expected.extend(gen.source(kind))
    gen.flush()
    return GenerateReport(gen.triples, seed, triples, gen.counts, expected)


def generator_version() -> str:
    """A fingerprint of this generator, the ontology and the shapes: a generated file is stale
    when any of them changed."""
    import hashlib

    from emdkg.resources import ontology_dir, shapes_dir

    digest = hashlib.sha256(Path(__file__).read_bytes())
    base = ontology_dir()
    for path in [base / "emdkg.ttl", *sorted((base / "imports").glob("*.ttl")), shapes_dir() / "emdkg.shacl.ttl"]:
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """Where the expected violations of ``output`` are recorded: ``<output>.violations.json``."""
    return Path(str(output) + ".violations.json")


def generate_file(
    triples: int, output: str | os.PathLike[str], *, seed: int = 0, violations: int = 0
) -> GenerateReport:
    """:func:`generate` into ``output`` (written atomically), plus the sidecar JSON."""
    path = Path(output)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
        report = generate(triples, fh, seed=seed, violations=violations)
    os.replace(tmp, path)
    sidecar_path(path).write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def expected_keys(sidecar: str | os.PathLike[str] | dict[str, Any]) -> set[tuple[str, str, str]]:
    """The (focus, source shape, component) keys recorded in a sidecar."""
    data = sidecar if isinstance(sidecar, dict) else json.loads(Path(sidecar).read_text(encoding="utf-8"))
    return {ExpectedViolation(**v).key() for v in data["violations"]}
