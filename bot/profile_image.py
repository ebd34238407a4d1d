"""The feature-profile picture: how the input track and each pick sound, one row per
feature with its full name, drawn for Discord's dark theme at the size Discord shows.

Each row is a scale from 0 to 1: the input track is a wide bar, each pick a coloured
dot on it, so unrelated features are never joined by lines. Rendered with matplotlib's
Agg backend (no screen, the optional `plot` extra) off the event loop by the caller.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.services.cards import PROFILE_FEATURES as FEATURES
from bot.services.cards import TrackCard

BACKGROUND = "#313338"  # Discord's dark theme behind a message
TEXT = "#f2f3f5"
GRID = "#4e5058"
SEED = "#5865f2"  # Discord blurple
PICKS = ("#57f287", "#fee75c", "#eb459e", "#ed4245", "#ffffff")
LABELS = {
    "danceability": "Danceability",
    "energy": "Energy",
    "valence": "Mood (happy)",
    "acousticness": "Acoustic",
    "speechiness": "Spoken words",
    "instrumentalness": "Instrumental",
    "liveness": "Live feel",
}
WIDTH, HEIGHT, DPI = 8.0, 5.0, 100  # 800 × 500 px: readable when Discord scales it down
NAME_LENGTH = 30


def _short(text: str) -> str:
    return text if len(text) <= NAME_LENGTH else text[: NAME_LENGTH - 1] + "…"


def render_profile(seed: TrackCard, picks: Sequence[TrackCard]) -> bytes:
    """A PNG of the 0–1 features of the seed (bars) and each pick (dots)."""
    buffer = io.BytesIO()
    profile_figure(seed, picks).savefig(buffer, format="png", facecolor=BACKGROUND)
    return buffer.getvalue()


def profile_figure(seed: TrackCard, picks: Sequence[TrackCard]) -> Figure:
    """The figure behind `render_profile` (tests read its texts)."""
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, facecolor=BACKGROUND)
    axes = figure.add_axes((0.22, 0.25, 0.74, 0.62), facecolor=BACKGROUND)
    rows = list(range(len(FEATURES)))[::-1]  # the first feature on top
    seed_values = [seed.features.get(name, 0.0) for name in FEATURES]
    axes.barh(rows, seed_values, height=0.62, color=SEED, alpha=0.85, label=_short(seed.name))
    _draw_picks(axes, rows, picks)
    _style(axes, rows)
    figure.suptitle(
        f"How “{_short(seed.name)}” and the picks sound", color=TEXT, fontsize=16, y=0.96
    )
    _legend(axes, _short(seed.name))
    return figure


def _draw_picks(axes: Axes, rows: list[int], picks: Sequence[TrackCard]) -> None:
    """Each pick's features as dots of its colour, a little apart from the other picks'."""
    shown = list(picks)[: len(PICKS)]
    for i, (card, colour) in enumerate(zip(shown, PICKS, strict=False)):
        offset = (i - (len(shown) - 1) / 2) * 0.1
        xs = [card.features.get(name) for name in FEATURES]
        points = [(x, y + offset) for x, y in zip(xs, rows, strict=True) if x is not None]
        if points:
            axes.scatter(
                [p[0] for p in points],
                [p[1] for p in points],
                s=70,
                color=colour,
                edgecolors=BACKGROUND,
                linewidths=1.2,
                zorder=3,
                label=_short(card.name),
            )


def _style(axes: Axes, rows: list[int]) -> None:
    axes.set_yticks(rows, [LABELS.get(name, name) for name in FEATURES])
    axes.set_xlim(0, 1)
    axes.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", "", "half", "", "1"])
    axes.tick_params(colors=TEXT, labelsize=13, length=0)
    axes.grid(axis="x", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    for spine in axes.spines.values():
        spine.set_visible(False)


def _legend(axes: Axes, seed_name: str) -> None:
    """Below the plot, the input track first."""
    handles, names = axes.get_legend_handles_labels()
    first = names.index(seed_name)
    order = [first] + [i for i in range(len(names)) if i != first]
    legend = axes.legend(
        [handles[i] for i in order],
        [names[i] for i in order],
        markerscale=1.3,
        loc="upper center",
        bbox_to_anchor=(0.38, -0.08),
        ncol=2,
        fontsize=12,
        frameon=False,
        labelcolor=TEXT,
        handletextpad=0.4,
        columnspacing=1.2,
    )
    legend.set_in_layout(False)
