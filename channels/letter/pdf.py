"""HTML → PDF with WeasyPrint, on a page laid out for a window envelope.

The address block sits where a DL / C5 window shows it (left window, 20 mm from the left edge,
45 mm from the top), the return address above it in small print; nothing on the outside names the
debt. A CJK font is listed so Chinese letters render with real glyphs.
"""

from __future__ import annotations

from dataclasses import dataclass

LETTER_CSS = """
@page { size: A4; margin: 20mm 20mm 25mm 20mm;
        @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
html { font-family: "DejaVu Sans", "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; font-size: 10.5pt; }
.return-address { position: absolute; top: 20mm; left: 0; width: 90mm; font-size: 7pt; }
.recipient { position: absolute; top: 27mm; left: 0; width: 90mm; height: 40mm; line-height: 1.35; }
.date { position: absolute; top: 27mm; right: 0; }
h1 { margin-top: 80mm; font-size: 13pt; }
.ref { font-size: 8pt; color: #444; }
"""


@dataclass(frozen=True, slots=True)
class Pdf:
    content: bytes
    pages: int


def render(html: str) -> Pdf:
    """Render a letter. CPU-bound: call it from a worker thread, never on the event loop."""
    from weasyprint import CSS, HTML  # imported lazily: it is heavy and only letter workers need it

    document = HTML(string=html).render(stylesheets=[CSS(string=LETTER_CSS)])
    return Pdf(document.write_pdf(), len(document.pages))
