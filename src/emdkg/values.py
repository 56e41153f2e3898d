"""Engine-neutral values: what a query row holds, and what a binding may be.

Every store backend turns its own RDF terms into these plain Python values, from the literal's
*lexical form and datatype* (never from an engine's own conversion), so two backends that
return the same terms return equal rows of the same types:

==========================================  ==========================================
RDF term                                    Python value
==========================================  ==========================================
IRI                                         :class:`IRI` (a ``str``)
blank node                                  :class:`BNode` (a ``str``; ids differ per engine)
``"x"`` / ``"x"^^xsd:string``               ``str``
``"x"@en``                                  :class:`LangString` (a ``str`` with ``.lang``)
xsd:integer and its derived integer types   ``int``
xsd:decimal                                 ``decimal.Decimal`` (canonical: no trailing zeros)
xsd:double, xsd:float                       ``float``
xsd:boolean                                 ``bool``
xsd:date without a time zone                ``datetime.date``
anything else (gYear, dateTime, anyURI...)  ``str`` (the lexical form)
an ill-typed literal (``"abc"^^xsd:int``)   ``str`` (the lexical form)
==========================================  ==========================================

The ``str`` subclasses compare and hash exactly like ``str`` (``IRI("x") == "x"``), so rows
are easy to test and to use as dict keys; check the type when the kind of term matters.

>>> literal_value("1.50", XSD + "decimal")
Decimal('1.5')
>>> literal_value("chat", None, "fr")
LangString('chat', lang='fr')
>>> literal_value("2019", XSD + "gYear")
'2019'
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

__all__ = [
    "XSD",
    "IRI",
    "BNode",
    "LangString",
    "Value",
    "literal_value",
    "term_spec",
    "canonical_lexical",
    "split_sorted",
]

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


class IRI(str):
    """An IRI in a result row, or an IRI to bind (a plain ``str`` binds as a literal).

    >>> IRI("https://w3id.org/emdkg/MultipleMyeloma")
    IRI('https://w3id.org/emdkg/MultipleMyeloma')
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"IRI({str.__repr__(self)})"


class BNode(str):
    """A blank node's id; only meaningful within one result of one store."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"BNode({str.__repr__(self)})"


class LangString(str):
    """A language-tagged string; equal to the plain ``str`` of its text, whatever the tag.

    >>> s = LangString("myélome", "fr")
    >>> s == "myélome", s.lang
    (True, 'fr')
    """

    lang: str

    def __new__(cls, text: str, lang: str) -> LangString:
        self = super().__new__(cls, text)
        self.lang = lang.lower()  # tags are case-insensitive; engines disagree on case
        return self

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (str(self), self.lang)

    def __repr__(self) -> str:
        return f"LangString({str.__repr__(self)}, lang={self.lang!r})"


#: What a row cell or a binding can hold.
Value = IRI | BNode | LangString | str | int | Decimal | float | bool | datetime.date

_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DOUBLE_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ONE = Decimal(1)


def _integer(lexical: str) -> int | str:
    return int(lexical) if _INTEGER_RE.fullmatch(lexical) else lexical


def _decimal(lexical: str) -> Decimal | str:
    if not _DECIMAL_RE.fullmatch(lexical):
        return lexical
    value = Decimal(lexical)
    # Engines disagree on trailing zeros ("1.50" vs "1.5", "2.0" vs "2"); canonicalise so
    # both backends print the same text in JSON and CSV.
    try:
        if value == value.to_integral_value():
            return value.quantize(_ONE)
        return value.normalize()
    except InvalidOperation:  # beyond the context precision: keep it exact
        return value


_DOUBLE_SPECIALS = {"INF": math.inf, "+INF": math.inf, "-INF": -math.inf, "NaN": math.nan}


def _double(lexical: str) -> float | str:
    if lexical in _DOUBLE_SPECIALS:
        return _DOUBLE_SPECIALS[lexical]
    return float(lexical) if _DOUBLE_RE.fullmatch(lexical) else lexical


def _boolean(lexical: str) -> bool | str:
    if lexical in ("true", "1"):
        return True
    if lexical in ("false", "0"):
        return False
    return lexical


def _date(lexical: str) -> datetime.date | str:
    # A date with a time zone has no faithful datetime.date; keep its text.
    if not _DATE_RE.fullmatch(lexical):
        return lexical
    try:
        return datetime.date.fromisoformat(lexical)
    except ValueError:
        return lexical


_CONVERTERS: dict[str, Callable[[str], object]] = {
    XSD + "decimal": _decimal,
    XSD + "double": _double,
    XSD + "float": _double,
    XSD + "boolean": _boolean,
    XSD + "date": _date,
}
for _name in (
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
    "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
    "unsignedByte",
):
    _CONVERTERS[XSD + _name] = _integer


def literal_value(lexical: str, datatype: str | None, lang: str | None = None) -> object:
    """The Python value of a literal, from its lexical form, datatype IRI and language tag.

    >>> literal_value("042", XSD + "integer"), literal_value("abc", XSD + "integer")
    (42, 'abc')
    >>> literal_value("2020-03-01", XSD + "date")
    datetime.date(2020, 3, 1)
    """
    if lang:
        return LangString(lexical, lang)
    if datatype is None:
        return lexical
    convert = _CONVERTERS.get(datatype)
    return lexical if convert is None else convert(lexical)


_IRI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^<>\"{}|^`\\\x00-\x20]*")


def _valid_iri(text: str) -> bool:
    """Whether the IRI parser of the engines (RFC 3987, as pyoxigraph reads it) takes ``text``.

    The IRIREF grammar lets through what no engine accepts (a lone ``%``, a ``[`` outside a
    host, control characters U+007F-U+009F, private-use code points); such a value must be a
    clean :class:`~emdkg.errors.QueryError` here, not a failure inside an engine or a server.
    """
    import pyoxigraph as ox

    try:
        ox.NamedNode(text)
    except ValueError:
        return False
    return True


def term_spec(value: object) -> tuple[str, str, str | None]:
    """How to build the RDF term for a binding: ``(kind, text, extra)``.

    ``kind`` is ``"iri"`` (``extra`` None), ``"literal"`` (``extra`` is the datatype IRI) or
    ``"lang"`` (``extra`` is the tag). Each backend turns the triple into its own term, so the
    value reaches the engine as a term and is never spliced into query text.

    >>> term_spec(IRI("https://w3id.org/emdkg/Relapse"))
    ('iri', 'https://w3id.org/emdkg/Relapse', None)
    >>> term_spec('"} UNION {')
    ('literal', '"} UNION {', 'http://www.w3.org/2001/XMLSchema#string')
    >>> term_spec(Decimal("12.50"))
    ('literal', '12.5', 'http://www.w3.org/2001/XMLSchema#decimal')
    """
    from emdkg.errors import QueryError

    if isinstance(value, IRI):
        if not _IRI_RE.fullmatch(value) or not _valid_iri(str(value)):
            raise QueryError(f"not a valid absolute IRI: {str(value)!r}")
        return ("iri", str(value), None)
    if isinstance(value, BNode):
        raise QueryError("a blank node cannot be bound: its id means nothing outside one result")
    if isinstance(value, LangString):
        return ("lang", str(value), value.lang)
    if isinstance(value, str):
        return ("literal", value, XSD + "string")
    if isinstance(value, bool):  # before int: bool is an int
        return ("literal", _lexical(value), XSD + "boolean")
    if isinstance(value, int):
        return ("literal", _lexical(value), XSD + "integer")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise QueryError(f"xsd:decimal has no value {value}")
        return ("literal", _lexical(value), XSD + "decimal")
    if isinstance(value, float):
        return ("literal", _lexical(value), XSD + "double")
    if isinstance(value, datetime.datetime):  # before date: datetime is a date
        return ("literal", value.isoformat(), XSD + "dateTime")
    if isinstance(value, datetime.date):
        return ("literal", _lexical(value), XSD + "date")
    raise QueryError(f"cannot bind a value of type {type(value).__name__}")


def _lexical(value: object) -> str:
    """The one lexical form we write for a typed value (bindings and rdflib's stored literals)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        canonical = _decimal(format(value, "f"))
        return format(canonical, "f")
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "INF" if value > 0 else "-INF"
        return repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def canonical_lexical(lexical: str, datatype: str | None) -> str:
    """One spelling per value for numbers, booleans and dates; other literals unchanged.

    pyoxigraph stores typed literals by value, so ``"12.50"`` and ``"12.5"`` (xsd:decimal) are
    one term; rdflib keeps the spelling. The rdflib backend stores this form, and bindings use
    it too, so a bound number matches a stored one on both backends.

    >>> canonical_lexical("12.50", XSD + "decimal"), canonical_lexical("+007", XSD + "int")
    ('12.5', '7')
    >>> canonical_lexical("abc", XSD + "integer"), canonical_lexical("x", None)
    ('abc', 'x')
    """
    if datatype is None or datatype not in _CONVERTERS:
        return lexical
    value = _CONVERTERS[datatype](lexical)
    return lexical if isinstance(value, str) else _lexical(value)


def split_sorted(value: str | None, separator: str = "|") -> list[str]:
    """Split a ``GROUP_CONCAT`` result and sort it.

    Engines concatenate in different orders (the SPARQL spec leaves it open), so a query must
    not rely on the order inside a ``GROUP_CONCAT``; split and sort it instead.

    >>> split_sorted("skin|bone|bone")
    ['bone', 'bone', 'skin']
    >>> split_sorted(None), split_sorted("")
    ([], [])
    """
    if not value:
        return []
    return sorted(part for part in value.split(separator))
