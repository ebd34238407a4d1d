"""The why of a pick in plain words, and a short "Filed under"."""

from __future__ import annotations

from types import SimpleNamespace

from bot.why import filed_under, sound_words, why


def _pick(**fields):
    base = {"bucket": "rock", "cluster": 7, "distance": 1.2, "similar": []}
    return SimpleNamespace(**{**base, **fields})


def test_sound_pick_reads_like_a_sentence() -> None:
    similar = [
        {"feature": "energy", "input": 0.81, "pick": 0.78},
        {"feature": "valence", "input": 0.40, "pick": 0.44},
        {"feature": "loudness", "input": -10.96, "pick": -7.9},
    ]
    text = why(_pick(basis="sound", similar=similar), "Creep")
    assert text == "same rock cluster; similar energy and mood, a bit louder"
    assert "→" not in text and "#" not in text and "7" not in text


def test_played_together_names_the_seed() -> None:
    pick = _pick(basis="played-together", shared_playlists=12)
    assert why(pick, "Creep") == "often in the same playlists as Creep (12 playlists)"
    assert why(_pick(basis="played-together", shared_playlists=1), "Creep") == (
        "often in the same playlists as Creep"
    )


def test_without_the_new_fields_the_sound_reason_still_reads() -> None:
    pick = _pick(similar=[{"feature": "tempo", "input": 100.0, "pick": 140.0}])
    assert why(pick, "x") == "same rock cluster; faster"
    assert why(_pick(), "x") == "same rock cluster"


def test_sound_words_skip_unknown_values() -> None:
    assert sound_words([{"feature": "energy", "input": None, "pick": 0.5}]) == ""
    assert sound_words([{"feature": "speechiness", "input": 0.38, "pick": 0.33}]) == (
        "similar vocal style"
    )
    assert sound_words([{"feature": "acousticness", "input": 0.1, "pick": 0.6}]) == "more acoustic"


def test_filed_under_stays_short() -> None:
    assert filed_under(["rock"]) == "rock"
    assert filed_under(["rock", "pop", "edm"]) == "rock, pop and EDM"
    assert filed_under(["rock", "pop", "soul", "funk", "jazz"]) == "rock, pop, soul +2 more"
    assert filed_under([]) == "no genre yet"


def test_a_short_answer_says_why_to_the_member() -> None:
    from bot.embeds import input_embed
    from recommender.picking import Placement, Recommendation, TrackInfo

    reason = "only 0 of 5 picks: this server was recently recommended the other tracks near it"
    result = Recommendation(
        version="v",
        strategy="hybrid",
        track=TrackInfo("t", "Song", ["Artist"], ["rock"], ["rock"]),
        placements=[Placement("rock", 0, 10)],
        picks=[],
        short_reason=reason,
    )
    fields = {f.name: f.value for f in input_embed(result, None).fields}
    assert fields["Fewer picks than asked"] == reason
    full = Recommendation(result.version, "hybrid", result.track, result.placements, [])
    assert "Fewer picks than asked" not in {f.name for f in input_embed(full, None).fields}
