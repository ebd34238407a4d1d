"""Draw a Discord embed (its JSON form) to a PNG the way the dark theme lays it out: a
card at most 520 px wide with the colour bar on the left, the title and description,
then the fields (inline ones three to a row), each text wrapped at the card's width.
Tests read the layout (lines per part, the picture's size) and can save the picture to
look at; matplotlib measures the text, so wrapping follows real glyph widths."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CARD_WIDTH = 520  # px: Discord's embed maximum
PAD = 16
BAR = 4
BACKGROUND = "#2b2d31"
TEXT = "#dbdee1"
SIZES = {"title": 16, "description": 14, "name": 14, "value": 14}
LINE = 1.35  # line height over font size


@dataclass
class Layout:
    lines: dict[str, list[str]] = field(default_factory=dict)  # part -> wrapped lines
    height: int = 0
    png: bytes = b""


def _measure(figure: Figure, text: str, size: int, bold: bool) -> float:
    renderer = figure.canvas.get_renderer()
    drawn = figure.text(0, 0, text, fontsize=size * 0.75, fontweight="bold" if bold else None)
    width = drawn.get_window_extent(renderer).width
    drawn.remove()
    return width


def _wrap(figure: Figure, text: str, width: float, size: int, bold: bool) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}".strip()
            if line and _measure(figure, trial, size, bold) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def render_embed(embed: dict) -> Layout:
    """The embed's layout and its PNG."""
    figure = Figure(figsize=(CARD_WIDTH / 100, 10), dpi=100)
    FigureCanvasAgg(figure)
    inner = CARD_WIDTH - 2 * PAD - BAR
    layout = Layout()
    blocks: list[
        tuple[str, list[str], int, bool, float, float]
    ] = []  # key, lines, size, bold, x, y
    y = PAD

    def add(key: str, text: str, kind: str, bold: bool, x: float, width: float) -> float:
        lines = _wrap(figure, text, width, SIZES[kind], bold)
        layout.lines[key] = lines
        blocks.append((key, lines, SIZES[kind], bold, x, y))
        return len(lines) * SIZES[kind] * LINE

    if embed.get("title"):
        y += add("title", embed["title"], "title", True, 0, inner) + 6
    if embed.get("description"):
        y += add("description", embed["description"], "description", False, 0, inner) + 8
    row: list[dict] = []
    fields = list(embed.get("fields", []))
    for i, item in enumerate(fields):
        row.append(item)
        last = i == len(fields) - 1 or not (item.get("inline") and fields[i + 1].get("inline"))
        if not (last or len(row) == 3):
            continue
        width = inner / len(row) if all(f.get("inline") for f in row) else inner
        tallest = 0.0
        for column, cell in enumerate(row):
            x = column * width
            top = y
            used = add(f"{cell['name']}:name", cell["name"], "name", True, x, width - 8)
            y += used
            used += add(cell["name"], cell["value"], "value", False, x, width - 8)
            y = top
            tallest = max(tallest, used)
        y += tallest + 8
        row = []
    layout.height = int(y + PAD)
    figure.set_size_inches(CARD_WIDTH / 100, layout.height / 100)
    figure.patch.set_facecolor(BACKGROUND)
    colour = embed.get("color")
    figure.patches.append(
        matplotlib.patches.Rectangle(
            (0, 0),
            BAR / CARD_WIDTH,
            1,
            transform=figure.transFigure,
            figure=figure,
            color=f"#{colour:06x}" if colour is not None else "#1e1f22",
        )
    )
    for _, lines, size, bold, x, top in blocks:
        for n, line in enumerate(lines):
            figure.text(
                (BAR + PAD + x) / CARD_WIDTH,
                1 - (top + (n + 0.8) * size * LINE) / layout.height,
                line,
                fontsize=size * 0.75,
                fontweight="bold" if bold else None,
                color=TEXT,
            )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=BACKGROUND)
    layout.png = buffer.getvalue()
    return layout
