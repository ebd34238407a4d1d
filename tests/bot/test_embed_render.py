"""The /recommend answer drawn as Discord's dark theme lays it out (tests/support/embed_render.py):
the picture's size, and that each part stays short — "Filed under" one line for a
track in many buckets, a why of at most two lines in words, no cluster numbers."""

from __future__ import annotations

from pathlib import Path

from bot.embeds import recommendation_message
from bot.services.cards import TrackCard
from recommender.picking import PLAYED_TOGETHER, SOUND, Pick, Placement, Recommendation, TrackInfo
from tests.support.embed_render import CARD_WIDTH, render_embed

SIMILAR = [
    {"feature": "speechiness", "input": 0.38, "pick": 0.33},
    {"feature": "energy", "input": 0.81, "pick": 0.78},
    {"feature": "loudness", "input": -10.96, "pick": -7.5},
]
BUCKETS = ["rock", "pop", "hip hop", "soul", "funk", "others"]


def _answer() -> tuple[Recommendation, dict[str, TrackCard]]:
    seed = TrackInfo("4CeeEOM32jQcH3eN9Q2dGj", "Smells Like Teen Spirit", ["Nirvana"], [], BUCKETS)
    picks = [
        Pick("6b2oQwSGFkzsMtQruIWm2p", "Creep", ["Radiohead"], "rock", 4, 0.8, SIMILAR,
             basis=PLAYED_TOGETHER, shared_playlists=214),
        Pick("3AJwUDP919kvQ9QcozQPxg", "Yellow", ["Coldplay"], "pop", 2, 1.1, SIMILAR, basis=SOUND),
    ]  # fmt: skip
    result = Recommendation(
        "20261202-000000000-abcdef12",
        "hybrid",
        seed,
        [Placement(b, i, 1000 + i) for i, b in enumerate(BUCKETS)],
        picks,
    )
    cards = {
        t.track_id: TrackCard(t.track_id, t.name, t.artists, album="An Album", year=1991)
        for t in [seed, *picks]
    }
    return result, cards


def test_recommend_answer_renders_short_and_in_words(tmp_path: Path) -> None:
    result, cards = _answer()
    embeds, _ = recommendation_message(result, cards)
    layouts = [render_embed(e.to_dict()) for e in embeds]
    for i, layout in enumerate(layouts):
        (tmp_path / f"embed{i}.png").write_bytes(layout.png)
        assert layout.png.startswith(b"\x89PNG")
        assert layout.height < 260  # a compact card per track

    top = layouts[0].lines
    assert top["title"] == ["Because you like Smells Like Teen Spirit"]
    assert top["Filed under"] == ["rock, pop, hip hop +3 more"]  # one line, however many
    for layout in layouts[1:]:
        why = layout.lines["Why"]
        assert len(why) <= 2
        text = " ".join(why)
        assert "#" not in text and "→" not in text and "0." not in text
    assert " ".join(layouts[1].lines["Why"]) == (
        "often in the same playlists as Smells Like Teen Spirit (214 playlists)"
    )
    assert " ".join(layouts[2].lines["Why"]) == (
        "same pop cluster; similar vocal style and energy, a bit louder"
    )
    everything = " ".join(" ".join(lines) for lay in layouts for lines in lay.lines.values())
    assert "20261202" not in everything and "cluster #" not in everything


def test_the_card_is_discords_width() -> None:
    result, cards = _answer()
    embeds, _ = recommendation_message(result, cards)
    png = render_embed(embeds[1].to_dict()).png
    import struct

    assert struct.unpack(">I", png[16:20])[0] == CARD_WIDTH
