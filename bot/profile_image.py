"""The feature-profile picture: the input track against the picks, one line per track.

Rendered with matplotlib's Agg backend (no screen) off the event loop by the caller.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bot.services.cards import PROFILE_FEATURES as FEATURES
from bot.services.cards import TrackCard


def render_profile(seed: TrackCard, picks: Sequence[TrackCard]) -> bytes:
    """A PNG comparing the 0–1 features of the seed (thick) and each pick."""
    figure, axes = plt.subplots(figsize=(8, 4), dpi=100)
    positions = range(len(FEATURES))
    for card, style in [(seed, {"linewidth": 3, "color": "black"})] + [
        (pick, {"linewidth": 1.5, "alpha": 0.8}) for pick in picks
    ]:
        values = [card.features.get(name, float("nan")) for name in FEATURES]
        label = card.name if len(card.name) <= 32 else card.name[:31] + "…"
        axes.plot(positions, values, marker="o", label=label, **style)
    axes.set_xticks(list(positions), [name.replace("ness", "") for name in FEATURES], rotation=20)
    axes.set_ylim(0, 1)
    axes.set_ylabel("value (0–1, Spotify audio features)")
    axes.set_title(f"Sound of “{seed.name[:40]}” and the picks")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
