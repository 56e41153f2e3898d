"""Printing rows: the machine formats are stable, the table is readable."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import Decimal

import pytest

from emdkg.cli.output import write_rows
from emdkg.store import BNode, IRI, LangString, Rows

ROWS = Rows(
    ["Site", "Label", "Percent", "Cases", "Sources", "Published", "Asserted", "Phase", "Note"],
    [
        {
            "Site": IRI("https://w3id.org/emdkg/Skin"),
            "Label": LangString("peau", "fr"),
            "Percent": Decimal("12.5"),
            "Cases": 7,
            "Sources": ["kb:blade-2022", "kb:ravinet-2014"],
            "Published": datetime.date(2022, 3, 1),
            "Asserted": True,
            "Phase": None,
            "Note": BNode("b0"),
        },
        {"Site": IRI("https://w3id.org/emdkg/Liver"), "Label": "liver, with\ttab",
         "Percent": Decimal("3"), "Cases": 0, "Sources": [], "Published": None,
         "Asserted": False, "Phase": IRI("https://w3id.org/emdkg/Relapse"), "Note": None},
    ],
)


def render(fmt: str, rows: list = ROWS, **kwargs: object) -> str:
    out = io.StringIO()
    write_rows(rows, fmt, out=out, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


def test_json() -> None:
    data = json.loads(render("json"))
    assert data[0] == {
        "site": "https://w3id.org/emdkg/Skin",
        "label": "peau",
        "percent": 12.5,
        "cases": 7,
        "sources": ["kb:blade-2022", "kb:ravinet-2014"],
        "published": "2022-03-01",
        "asserted": True,
        "phase": None,
        "note": "b0",
    }
    assert data[1]["percent"] == 3 and isinstance(data[1]["percent"], int)
    assert data[1]["sources"] == []


def test_csv_and_tsv_round_trip() -> None:
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        text = render(fmt)
        parsed = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        assert parsed[0] == ["site", "label", "percent", "cases", "sources", "published",
                             "asserted", "phase", "note"]
        assert parsed[1][4] == "kb:blade-2022|kb:ravinet-2014"
        assert parsed[1][6] == "true" and parsed[1][7] == ""
        assert parsed[2][1] == "liver, with\ttab"
        assert len(parsed) == 3


def test_columns_pick_and_order() -> None:
    assert render("csv", columns=["Cases", "Site"]).splitlines() == [
        "cases,site", "7,https://w3id.org/emdkg/Skin", "0,https://w3id.org/emdkg/Liver"
    ]


def test_empty_results_keep_their_header() -> None:
    empty = Rows(["site", "n"])
    assert render("csv", empty) == "site,n\n"
    assert json.loads(render("json", empty)) == []
    assert "no results" in render("table", empty)


def test_table_into_a_pipe_is_plain() -> None:
    lines = render("table").splitlines()
    assert lines[0].split() == ["Site", "Label", "Percent", "Cases", "Sources", "Published",
                                "Asserted", "Phase", "Note"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["https://w3id.org/emdkg/Skin", "peau", "12.5", "7",
                                "kb:blade-2022|kb:ravinet-2014", "2022-03-01", "true", "b0"]
    assert "liver, with tab" in lines[3], "whitespace in a cell never breaks the layout"
    assert len(lines) == 4


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_table_in_a_terminal_uses_rich() -> None:
    out = FakeTerminal()
    write_rows(ROWS, "table", out=out)
    text = out.getvalue()
    assert "┃" in text or "|" in text
    assert "Site" in text and "peau" in text


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        render("yaml")
