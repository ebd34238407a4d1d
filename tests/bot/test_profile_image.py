"""The feature-profile image as members see it: rendered to PNG at Discord's size, on
the dark theme, with full feature names, bars and dots (no lines), a readable legend."""

from __future__ import annotations

import struct

from bot.profile_image import BACKGROUND, LABELS, profile_figure, render_profile
from bot.services.cards import PROFILE_FEATURES, TrackCard


def _card(name: str, base: float) -> TrackCard:
    features = {f: (base + 0.1 * i) % 1 for i, f in enumerate(PROFILE_FEATURES)}
    return TrackCard("x" * 22, name, ["Artist"], features=features)


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def test_profile_png_is_readable_at_discords_size(tmp_path) -> None:
    seed = _card("Smells Like Teen Spirit", 0.2)
    picks = [_card(f"Pick number {i} with a title long enough to be cut", i / 7) for i in range(5)]
    png = render_profile(seed, picks)
    (tmp_path / "profile.png").write_bytes(png)
    assert _png_size(png) == (800, 500)
    assert len(png) < 200_000  # a small attachment

    figure = profile_figure(seed, picks)
    assert figure.get_facecolor()[:3] == tuple(
        int(BACKGROUND[i : i + 2], 16) / 255 for i in (1, 3, 5)
    )
    axes = figure.axes[0]
    labels = [t.get_text() for t in axes.get_yticklabels()]
    assert sorted(labels) == sorted(LABELS[f] for f in PROFILE_FEATURES)  # full names
    assert not axes.lines  # bars and dots: no lines between unrelated features
    assert len(axes.patches) == len(PROFILE_FEATURES) and len(axes.collections) == 5
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend[0] == "Smells Like Teen Spirit" and len(legend) == 6
    assert all(len(text) <= 30 for text in legend)
    assert min(t.get_fontsize() for t in axes.get_legend().get_texts()) >= 12
    assert min(t.get_fontsize() for t in axes.get_yticklabels()) >= 12


def test_a_pick_without_features_is_left_out_not_drawn_at_zero() -> None:
    seed = _card("Seed", 0.3)
    bare = TrackCard("y" * 22, "No features", ["Artist"])
    axes = profile_figure(seed, [bare, _card("Known", 0.5)]).axes[0]
    assert len(axes.collections) == 1
