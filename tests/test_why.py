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
