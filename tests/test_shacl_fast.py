"""The fast SHACL engine (emdkg.shacl_fast) gives the same results as pyshacl.

"The same" is the set of (focus node, source shape, constraint component), compared on the data
graph ``emdkg validate`` builds (the files plus the ontology slice), with the shapes pyshacl runs
in emdkg.validate (advanced=True, no inference). A blank-node source shape is compared by the
node shape that holds it and its path.

Compared on: the bundled knowledge base; every file of shapes/examples/{valid,invalid}; generated
knowledge bases with one injected violation of every kind (10k triples: against pyshacl and the
generator's record; 100k: against the record, and against pyshacl with EMDKG_BENCH_FULL=1, since
pyshacl needs about two minutes there); and small hand-written graphs for the corners of each
constraint (ill-typed literals, language ranges, blank nodes, regex line ends).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyoxigraph as ox
import pytest

from emdkg.bench.generate import VIOLATION_KINDS, expected_keys, generate_file, sidecar_path
from emdkg.shacl_fast import (
    FastResult,
    UnsupportedShapeError,
    compile_shapes,
    ontology_slice,
    pyshacl_keys,
    report_fast,
    result_key,
    validate_fast,
)

REPO = Path(__file__).resolve().parent.parent
SHAPES = REPO / "shapes" / "emdkg.shacl.ttl"
EXAMPLES = sorted((REPO / "shapes" / "examples").glob("*/*.ttl"))


@pytest.fixture(scope="module")
def shapes_graph():  # type: ignore[no-untyped-def]
    from rdflib import Graph

    return Graph().parse(SHAPES, format="turtle")


def fast_keys(files: list[Path], shapes: Path = SHAPES) -> set[tuple[str, str, str]]:
    store = ox.Store()
    for f in files:
        fmt = ox.RdfFormat.N_TRIPLES if f.suffix == ".nt" else ox.RdfFormat.TURTLE
        store.load(path=str(f), format=fmt, base_iri=f.resolve().as_uri())
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in ontology_slice())
    return {result_key(r) for r in validate_fast(store, shapes)}


def pyshacl_result_keys(files: list[Path], shapes_graph) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    import pyshacl

    from emdkg.validate import build_data_graph

    data = build_data_graph(files)
    _, results, _ = pyshacl.validate(
        data, shacl_graph=shapes_graph, inference="none", advanced=True,
        allow_warnings=True, allow_infos=True, inplace=True,
    )
    return pyshacl_keys(results, shapes_graph)


def show(keys: set[tuple[str, str, str]]) -> str:
    return "\n".join("  " + " | ".join(k) for k in sorted(keys))


def assert_same(ours: set, theirs: set) -> None:  # type: ignore[type-arg]
    assert ours == theirs, f"only fast:\n{show(ours - theirs)}\nonly pyshacl:\n{show(theirs - ours)}"


# --- the bundled knowledge base and the examples ---------------------------------------------


def test_bundled_knowledge_base(shapes_graph) -> None:  # type: ignore[no-untyped-def]
    from emdkg.validate import default_paths

    files = default_paths()
    assert files
    assert_same(fast_keys(files), pyshacl_result_keys(files, shapes_graph))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example(path: Path) -> None:
    """The whole report, row for row (severity, focus, label, path, value, message, shape,
    component), is the one emdkg.validate gets from pyshacl."""
    from emdkg.validate import validate

    theirs = validate([path])
    ours = report_fast([path])
    assert ours.violations == theirs.violations
    assert (ours.conforms, ours.triples) == (theirs.conforms, theirs.triples)
    if path.parent.name == "valid":
        assert not ours.violations


def test_report_of_generated_kb_is_the_same_as_emdkg_validate(generated_10k: Path) -> None:
    from emdkg.validate import validate

    theirs = validate([generated_10k])
    ours = report_fast([generated_10k])
    assert ours.violations == theirs.violations
    assert (ours.conforms, ours.triples) == (theirs.conforms, theirs.triples)


def test_there_are_examples() -> None:
    assert any(p.parent.name == "invalid" for p in EXAMPLES)


# --- generated knowledge bases ----------------------------------------------------------------


@pytest.fixture(scope="module")
def generated_10k(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("kb") / "kb-10k.nt"
    generate_file(10_000, path, seed=7, violations=2 * len(VIOLATION_KINDS))
    return path


def test_generated_10k_all_kinds(generated_10k: Path) -> None:
    """Every injected violation is found, and nothing else (pyshacl: the next test)."""
    expected = expected_keys(sidecar_path(generated_10k))
    assert len(expected) == 2 * len(VIOLATION_KINDS)
    assert_same(fast_keys([generated_10k]), expected)


def test_generated_clean_knowledge_base_conforms(tmp_path: Path) -> None:
    path = tmp_path / "clean.nt"
    generate_file(5_000, path, seed=3, violations=0)
    assert fast_keys([path]) == set()


@pytest.mark.slow
def test_generated_100k(tmp_path: Path, shapes_graph) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "kb-100k.nt"
    generate_file(100_000, path, seed=11, violations=100)
    ours = fast_keys([path])
    assert_same(ours, expected_keys(sidecar_path(path)))
    if os.environ.get("EMDKG_BENCH_FULL", "") not in ("", "0"):
        assert_same(ours, pyshacl_result_keys([path], shapes_graph))


# --- corners of the constraint components ----------------------------------------------------

CORNER_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix ex: <https://e.org/> .

ex:S a sh:NodeShape ; sh:targetClass ex:T ;
  sh:property ex:int , ex:dec , ex:bool , ex:date , ex:lang , ex:str , ex:pat , ex:len ,
    ex:range , ex:ltoe , ex:in , ex:uniq , ex:kind , ex:seq , ex:inv , ex:alt , ex:count2 ,
    ex:qmax , ex:cls , ex:nodeor ,
    [ sh:path ex:blank ; sh:minCount 1 ] ,
    [ sh:path ( ex:p ex:q ) ; sh:nodeKind sh:Literal ] .
ex:int a sh:PropertyShape ; sh:path ex:int ; sh:datatype xsd:integer .
ex:dec a sh:PropertyShape ; sh:path ex:dec ; sh:datatype xsd:decimal .
ex:bool a sh:PropertyShape ; sh:path ex:bool ; sh:datatype xsd:boolean .
ex:date a sh:PropertyShape ; sh:path ex:date ; sh:datatype xsd:date .
ex:lang a sh:PropertyShape ; sh:path ex:lang ; sh:languageIn ( "en" "zh" ) .
ex:str a sh:PropertyShape ; sh:path ex:str ; sh:datatype xsd:string .
ex:pat a sh:PropertyShape ; sh:path ex:pat ; sh:pattern "^[a-z]+$" .
ex:len a sh:PropertyShape ; sh:path ex:len ; sh:minLength 3 .
ex:range a sh:PropertyShape ; sh:path ex:range ; sh:minInclusive 0 ; sh:maxInclusive 10 ; sh:minExclusive -1 .
ex:ltoe a sh:PropertyShape ; sh:path ex:low ; sh:lessThanOrEquals ex:high .
ex:in a sh:PropertyShape ; sh:path ex:in ; sh:in ( ex:a ex:b "c" ) .
ex:uniq a sh:PropertyShape ; sh:path ex:uniq ; sh:uniqueLang true .
ex:kind a sh:PropertyShape ; sh:path ex:kind ; sh:nodeKind sh:IRI .
ex:seq a sh:PropertyShape ; sh:path ( ex:p ex:q ) ; sh:minCount 1 .
ex:inv a sh:PropertyShape ; sh:path [ sh:inversePath ex:r ] ; sh:maxCount 1 .
ex:alt a sh:PropertyShape ; sh:path [ sh:alternativePath ( ex:alt1 ex:alt2 ) ] ; sh:class ex:C .
ex:count2 a sh:PropertyShape ; sh:path ex:two ; sh:minCount 2 ; sh:maxCount 2 .
ex:qmax a sh:PropertyShape ; sh:path ex:q2 ; sh:qualifiedValueShape [ sh:class ex:C ] ; sh:qualifiedMaxCount 1 .
ex:cls a sh:PropertyShape ; sh:path ex:cls ; sh:class ex:C .
ex:nodeor a sh:PropertyShape ; sh:path ex:nodeor ;
  sh:or ( [ sh:node ex:HasName ] [ sh:not [ sh:nodeKind sh:IRI ] ] ) .
ex:HasName a sh:NodeShape ; sh:property [ sh:path ex:name ; sh:minCount 1 ] .
"""

CORNER_DATA = """
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix ex: <https://e.org/> .
ex:Sub rdfs:subClassOf ex:T .
ex:C2 rdfs:subClassOf ex:C .
ex:n1 a ex:T ; ex:int "abc"^^xsd:integer , 7 ; ex:dec 1.5 , "x"^^xsd:decimal , 3 ;
  ex:bool true , "yes"^^xsd:boolean ; ex:date "2020-13-01"^^xsd:date , "2020-01-31"^^xsd:date ;
  ex:lang "a"@en , "b"@en-GB , "c"@zh-Hans , "d"@fr , "e" , ex:iri ;
  ex:str "s" , "t"@en , "u"^^xsd:string , 4 ;
  ex:pat "abc" , "abc\\n" , "ab1" , ex:abc , [] ;
  ex:len "ab" , "abc" , ex:i , [] ;
  ex:range 5 , 11 , -0.5 , "5" , ex:x ;
  ex:low 3 , 8 ; ex:high 5 ;
  ex:in ex:a , ex:z , "c" , "c"@en ;
  ex:uniq "a"@en , "b"@EN , "c"@fr , "d" , "e" ;
  ex:kind ex:k , "k" , [] ;
  ex:p [ ex:q ex:end ] ;
  ex:alt1 ex:c1 ; ex:alt2 ex:c2 ;
  ex:two ex:t1 ;
  ex:q2 ex:c1 , ex:c3 ;
  ex:cls ex:c1 , ex:c2 , "lit" , ex:nothing ;
  ex:nodeor [ ex:name "x" ] , [ ] , ex:named , ex:unnamed .
ex:named ex:name "n" .
ex:c1 a ex:C .
ex:c3 a ex:C2 .
ex:c2 a ex:Other .
ex:n2 a ex:Sub ; ex:two ex:t1 , ex:t2 , ex:t3 ; ex:p ex:mid .
ex:i1 ex:r ex:n2 . ex:i2 ex:r ex:n2 .
"""


@pytest.mark.filterwarnings("ignore:Parsing weird boolean")
def test_corners_agree_with_pyshacl(tmp_path: Path) -> None:
    from rdflib import Graph

    shapes_path = tmp_path / "shapes.ttl"
    shapes_path.write_text(CORNER_SHAPES)
    data_path = tmp_path / "data.ttl"
    data_path.write_text(CORNER_DATA)
    store = ox.Store()
    store.load(path=str(data_path), format=ox.RdfFormat.TURTLE)
    ours = {result_key(r) for r in validate_fast(store, shapes_path)}

    import pyshacl

    sg = Graph().parse(shapes_path, format="turtle")
    dg = Graph().parse(data_path, format="turtle")
    _, results, _ = pyshacl.validate(dg, shacl_graph=sg, inference="none", advanced=True, allow_warnings=True)
    theirs = pyshacl_keys(results, sg)
    assert_same(ours, theirs)
    # and the corners were actually exercised: each property shape reports
    assert {shape.rsplit("/", 1)[-1] for _, shape, _ in ours} >= {
        "int", "dec", "bool", "date", "lang", "str", "pat", "len", "range", "ltoe", "in", "uniq",
        "kind", "seq", "inv", "alt", "count2", "qmax", "cls", "nodeor"}
    blank = {shape for _, shape, _ in ours if " " in shape}  # blank property shapes, by parent + path
    assert blank == {"https://e.org/S <https://e.org/blank>", "https://e.org/S (<https://e.org/p>/<https://e.org/q>)"}


def test_results_carry_value_message_and_severity(tmp_path: Path) -> None:
    shapes_path = tmp_path / "shapes.ttl"
    shapes_path.write_text(CORNER_SHAPES.replace(
        "ex:int a sh:PropertyShape ; sh:path ex:int ; sh:datatype xsd:integer .",
        'ex:int a sh:PropertyShape ; sh:path ex:int ; sh:datatype xsd:integer ; sh:severity sh:Warning ; '
        'sh:message "an integer, please"@en .'))
    store = ox.Store()
    store.load(CORNER_DATA.encode(), format=ox.RdfFormat.TURTLE)
    results = [r for r in validate_fast(store, shapes_path) if r.source_shape == "https://e.org/int"]
    assert len(results) == 1
    r = results[0]
    assert isinstance(r, FastResult)
    assert r.focus == ox.NamedNode("https://e.org/n1")
    assert r.value == ox.Literal("abc", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))
    assert r.path == "<https://e.org/int>"
    assert r.severity == "http://www.w3.org/ns/shacl#Warning"
    assert r.message == "an integer, please"
    assert r.component == "http://www.w3.org/ns/shacl#DatatypeConstraintComponent"


def test_blank_property_shapes_are_named_by_their_node_shape(tmp_path: Path) -> None:
    shapes_path = tmp_path / "shapes.ttl"
    shapes_path.write_text("""
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <https://e.org/> .
ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:p ; sh:property [ sh:path ex:q ; sh:minCount 1 ] .
""")
    store = ox.Store()
    store.load(b"<https://e.org/a> <https://e.org/p> 1 .", format=ox.RdfFormat.TURTLE)
    (r,) = validate_fast(store, shapes_path)
    assert r.source_shape == "https://e.org/S <https://e.org/q>"
    assert r.value is None


@pytest.mark.parametrize(
    "shape",
    [
        "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:xone ( [ sh:class ex:C ] [ sh:class ex:D ] ) .",
        "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:closed true .",
        "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:property [ sh:path ex:p ; sh:equals ex:q ] .",
        "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:property [ sh:path ex:p ; "
        "sh:sparql [ sh:select 'SELECT $this WHERE { $this $PATH ?v }' ] ] .",
        "ex:S a sh:NodeShape, rdfs:Class ; sh:property [ sh:path ex:p ; sh:minCount 1 ] .",
        "ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:property [ sh:path ex:p ; sh:pattern '(?=a)b' ] .",
    ],
    ids=["xone", "closed", "equals", "sparql-PATH", "implicit-class-target", "lookahead"],
)
def test_unsupported_features_fail_loudly(shape: str) -> None:
    prefixes = (
        "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://e.org/> . "
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
    )
    with pytest.raises(UnsupportedShapeError):
        compile_shapes(data=(prefixes + shape).encode())


def test_the_compiled_shapes_are_one_query_per_constraint() -> None:
    program = compile_shapes(SHAPES)
    # no query per focus node: the number of queries depends on the shapes only
    assert 20 < len(program.queries) < 400
    assert all("SELECT" in q.sparql for q in program.queries)
