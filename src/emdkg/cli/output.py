"""Print query rows as a table, JSON, CSV or TSV.

>>> write_rows([{"site": "skin", "n": 3}, {"site": "central nervous system", "n": 12}])
site                    n
----------------------  --
skin                    3
central nervous system  12

The machine formats are stable: keys and headers in lower case, IRIs as plain strings,
decimals as JSON numbers, dates in ISO form, missing values as ``null`` (JSON) or empty (CSV),
and list values as JSON arrays or joined with ``|`` in CSV/TSV.

>>> from decimal import Decimal
>>> from emdkg.values import IRI
>>> rows = [{"Site": IRI("https://w3id.org/emdkg/Skin"), "Percent": Decimal("12.5"),
...          "Sources": ["a", "b"], "Phase": None}]
>>> write_rows(rows, "json")
[
  {
    "site": "https://w3id.org/emdkg/Skin",
    "percent": 12.5,
    "sources": [
      "a",
      "b"
    ],
    "phase": null
  }
]
>>> write_rows(rows, "csv")
site,percent,sources,phase
https://w3id.org/emdkg/Skin,12.5,a|b,
"""

from __future__ import annotations

import datetime
import json
import math
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TextIO

__all__ = ["write_rows", "columns_of", "json_value", "text_value"]

LIST_SEPARATOR = "|"


def columns_of(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> list[str]:
    """The column names: ``columns``, else the rows' ``variables``, else keys in first-seen order.

    >>> columns_of([{"a": 1}, {"b": 2, "a": 3}])
    ['a', 'b']
    """
    if columns is not None:
        return list(columns)
    variables = getattr(rows, "variables", None)
    if variables is not None:
        return list(variables)
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def json_value(value: Any) -> Any:
    """A value as JSON data.

    >>> json_value(Decimal("2")), json_value(Decimal("0.25")), json_value(datetime.date(2020, 1, 2))
    (2, 0.25, '2020-01-02')
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON has no NaN or Infinity
    if isinstance(value, Decimal):
        # A JSON number; integral decimals print without a fraction, as engines do.
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)  # drops the IRI/LangString subclass
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [json_value(v) for v in items]
    if isinstance(value, Mapping):
        return {str(k).lower(): json_value(v) for k, v in value.items()}
    return str(value)


def text_value(value: Any) -> str:
    """A value as one CSV/TSV/table cell.

    >>> text_value(True), text_value(None), text_value(["x", "y"]), text_value(Decimal("1.5"))
    ('true', '', 'x|y', '1.5')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return LIST_SEPARATOR.join(text_value(v) for v in items)
    return str(value)


def _write_plain_table(rows: Sequence[Mapping[str, Any]], columns: list[str], out: TextIO) -> None:
    # Aligned columns, no box drawing and no wrapping: greppable, and ~70 ms cheaper than rich.
    cells = [[" ".join(text_value(row.get(c)).split()) for c in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    for line in ([*columns], ["-" * w for w in widths], *cells):
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() + "\n")


def _write_rich_table(rows: Sequence[Mapping[str, Any]], columns: list[str], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    from rich.table import Column

    # Identifiers (DOIs, IRIs) have no spaces to wrap at: fold them rather than cut them short,
    # and put each item of a list value on its own line.
    table = Table(*(Column(c, overflow="fold") for c in columns))
    for row in rows:
        table.add_row(*(_rich_cell(row.get(c)) for c in columns))
    Console(file=out, highlight=False).print(table)


def _rich_cell(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return "\n".join(text_value(v) for v in items)
    return text_value(value)


def _write_table(rows: Sequence[Mapping[str, Any]], columns: list[str], out: TextIO) -> None:
    if not rows:
        out.write("(no results)\n")
    elif hasattr(out, "isatty") and out.isatty():  # a person at a terminal: rich, fitted to it
        _write_rich_table(rows, columns, out)
    else:
        _write_plain_table(rows, columns, out)


def write_rows(
    rows: Sequence[Mapping[str, Any]],
    fmt: str = "table",
    *,
    columns: Sequence[str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Print ``rows`` to ``out`` (default: the current ``sys.stdout``) in ``fmt``.

    ``fmt`` is one of table, json, csv, tsv. ``columns`` picks and orders the columns. The table
    is drawn with rich in a terminal, and as plain aligned columns into a pipe or file.
    """
    out = sys.stdout if out is None else out
    names = columns_of(rows, columns)
    if fmt == "table":
        _write_table(rows, names, out)
    elif fmt == "json":
        data = [{name.lower(): json_value(row.get(name)) for name in names} for row in rows]
        json.dump(data, out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif fmt in ("csv", "tsv"):
        import csv

        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow([name.lower() for name in names])
        for row in rows:
            writer.writerow([text_value(row.get(name)) for name in names])
    else:
        raise ValueError(f"unknown output format {fmt!r}")
