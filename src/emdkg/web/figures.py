"""The sites x phase heat map of a disease, drawn as SVG on the server (no chart library).

One row per anatomical site, one column per disease phase (with "phase not stated" last);
a cell's shade is the number of site involvement findings, and its tooltip names the sources.
Site names link to their pages.

>>> from emdkg.web.data import Link, SiteCell
>>> cells = [SiteCell(Link("https://w3id.org/emdkg/Skin", "skin"), Link("https://w3id.org/emdkg/AtDiagnosis", "at diagnosis"), 1, ["Bladé 2022"])]
>>> svg = heatmap_svg(cells, title="multiple myeloma")
>>> svg.startswith("<svg") and "skin" in svg and "at diagnosis" in svg
True
>>> heatmap_svg([], title="x")
''
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from emdkg.web.data import NO_PHASE, Link, SiteCell, _phase_key, curie

__all__ = ["heatmap_svg"]

# Light to dark teal: readable on white, distinguishable in grey print.
_SHADES = ["#d7eef0", "#9fd6dc", "#5fb8c2", "#2b8f9c", "#0f6672"]


def _shade(count: int, top: int) -> str:
    if top <= 1:
        return _SHADES[2]
    index = round((count - 1) / (top - 1) * (len(_SHADES) - 1))
    return _SHADES[max(0, min(index, len(_SHADES) - 1))]


def _text_width(text: str, size: float) -> float:
    return len(text) * size * 0.56


def heatmap_svg(
    cells: Sequence[SiteCell],
    *,
    title: str,
    href: Callable[[str], str] = lambda iri: "/entity/" + curie(iri),
) -> str:
    """The SVG of the heat map (an empty string when there are no cells)."""
    if not cells:
        return ""
    phases: dict[str | None, str] = {}
    for cell in cells:
        phases[cell.phase.iri if cell.phase else None] = cell.phase.label if cell.phase else NO_PHASE
    columns = sorted(phases, key=lambda iri: _phase_key(iri, phases[iri]))
    totals: dict[str, int] = {}
    sites: dict[str, Link] = {}
    grid: dict[tuple[str, str | None], SiteCell] = {}
    for cell in cells:
        key = cell.phase.iri if cell.phase else None
        grid[(cell.site.iri, key)] = cell
        sites[cell.site.iri] = cell.site
        totals[cell.site.iri] = totals.get(cell.site.iri, 0) + cell.findings
    rows = sorted(sites, key=lambda iri: (
        min(columns.index(p) for (s, p) in grid if s == iri), -totals[iri], sites[iri].label.lower()
    ))
    top = max(cell.findings for cell in cells)

    font = 13.0
    cell_w, cell_h, gap = 118, 30, 3
    label_w = max(_text_width(sites[s].label, font) for s in rows) + 16
    header_h = 44
    width = int(label_w + len(columns) * (cell_w + gap) + 10)
    legend_h = 40
    height = int(header_h + len(rows) * (cell_h + gap) + legend_h)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="heatmap-title" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="{font:g}">',
        f'<title id="heatmap-title">Extramedullary sites by disease phase: {escape(title)}</title>',
    ]
    for j, phase in enumerate(columns):
        x = label_w + j * (cell_w + gap) + cell_w / 2
        out.append(
            f'<text x="{x:.1f}" y="{header_h - 14}" text-anchor="middle" font-weight="600" '
            f'class="heatmap-phase">{escape(phases[phase])}</text>'
        )
    for i, site in enumerate(rows):
        y = header_h + i * (cell_h + gap)
        link = sites[site]
        out.append(
            f'<a href="{escape(href(site))}"><text x="{label_w - 10:.1f}" y="{y + cell_h / 2 + 4.5:.1f}" '
            f'text-anchor="end" class="heatmap-site">{escape(link.label)}</text></a>'
        )
        for j, phase in enumerate(columns):
            x = label_w + j * (cell_w + gap)
            cell = grid.get((site, phase))
            if cell is None:
                out.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{cell_w}" height="{cell_h}" rx="3" fill="#f3f4f6">'
                    f"<title>{escape(link.label)}, {escape(phases[phase])}: no finding</title></rect>"
                )
                continue
            colour = _shade(cell.findings, top)
            ink = "#ffffff" if _SHADES.index(colour) >= 3 else "#0b3d44"
            noun = "finding" if cell.findings == 1 else "findings"
            tip = f"{link.label}, {phases[phase]}: {cell.findings} {noun}"
            if cell.sources:
                tip += " — " + "; ".join(cell.sources)
            out.append(
                f'<g class="heatmap-cell" data-site="{escape(link.label)}" data-phase="{escape(phases[phase])}">'
                f'<rect x="{x:.1f}" y="{y}" width="{cell_w}" height="{cell_h}" rx="3" fill="{colour}">'
                f"<title>{escape(tip)}</title></rect>"
                f'<text x="{x + cell_w / 2:.1f}" y="{y + cell_h / 2 + 4.5:.1f}" text-anchor="middle" '
                f'fill="{ink}" pointer-events="none">{cell.findings}</text></g>'
            )
    y = header_h + len(rows) * (cell_h + gap) + 14
    out.append(f'<text x="{label_w:.1f}" y="{y + 12}" fill="#4b5563">findings:</text>')
    x = label_w + 70
    steps = sorted({1, top, *(c.findings for c in cells)})
    for count in steps[:6]:
        out.append(f'<rect x="{x:.1f}" y="{y}" width="18" height="16" rx="2" fill="{_shade(count, top)}"/>')
        out.append(f'<text x="{x + 23:.1f}" y="{y + 12}" fill="#4b5563">{count}</text>')
        x += 48
    out.append("</svg>")
    return "".join(out)
