"""Why a pick was made, in words a member reads at a glance.

"often in the same playlists as Creep" or "same rock cluster; similar energy and mood,
a bit louder" — never feature names with raw values, cluster numbers or model ids
(those belong to /genres and /status). Written from the pick's plain fields: `basis`
("played-together" or "sound"), `shared_playlists`, `bucket` and `similar` (the input's
most distinctive features with the input's and the pick's values).
"""

from __future__ import annotations

from typing import Any

from recommender.taxonomy import display

# What each feature is called for people, and the words for "more" and "less" of it.
WORDS: dict[str, tuple[str, str, str]] = {
    "energy": ("energy", "more energetic", "calmer"),
    "valence": ("mood", "happier", "moodier"),
    "danceability": ("groove", "more danceable", "less danceable"),
    "acousticness": ("acoustic feel", "more acoustic", "less acoustic"),
    "instrumentalness": ("vocals", "more instrumental", "more vocal"),
    "speechiness": ("vocal style", "more spoken", "more sung"),
    "liveness": ("studio feel", "more live-sounding", "more polished"),
    "loudness": ("loudness", "louder", "quieter"),
    "tempo": ("tempo", "faster", "slower"),
    "mode": ("key", "in a major key", "in a minor key"),
}
# Differences below SAME read as "similar"; below SLIGHT as "a bit ...".
SAME = {"loudness": 1.5, "tempo": 8.0}
SLIGHT = {"loudness": 4.0, "tempo": 20.0}
DEFAULT_SAME, DEFAULT_SLIGHT = 0.1, 0.25
MAX_SHOWN = 3


def bucket_name(bucket: str) -> str:
    return display(bucket)


def why(pick: Any, seed_name: str) -> str:
    """One short line on why `pick` was chosen for the track called `seed_name`."""
    basis = getattr(pick, "basis", None)
    shared = int(getattr(pick, "shared_playlists", 0) or 0)
    if basis == "played-together":
        together = f"often in the same playlists as {seed_name}"
        return together + (f" ({shared:,} playlists)" if shared > 1 else "")
    sound = sound_words(pick.similar)
    place = f"same {bucket_name(pick.bucket)} cluster"
    return f"{place}; {sound}" if sound else place


def sound_words(similar: list[dict[str, Any]]) -> str:
    """'similar energy and mood, a bit louder' from the input's and the pick's values."""
    alike: list[str] = []
    apart: list[str] = []
    for item in similar:
        feature, a, b = item.get("feature"), item.get("input"), item.get("pick")
        if feature not in WORDS or a is None or b is None:
            continue
        name, more, less = WORDS[feature]
        gap = float(b) - float(a)
        if feature == "mode":
            (alike if gap == 0 else apart).append(name if gap == 0 else more if gap > 0 else less)
            continue
        size = abs(gap)
        if size <= SAME.get(feature, DEFAULT_SAME):
            alike.append(name)
        else:
            word = more if gap > 0 else less
            apart.append(f"a bit {word}" if size <= SLIGHT.get(feature, DEFAULT_SLIGHT) else word)
    parts = []
    if alike:
        parts.append("similar " + _and(alike[:MAX_SHOWN]))
    parts.extend(apart[: max(0, MAX_SHOWN - len(alike[:MAX_SHOWN]))] or apart[:1])
    return ", ".join(parts)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def filed_under(buckets: list[str], limit: int = 3) -> str:
    """'rock, pop and soul' or 'rock, pop, soul +4 more': short for a track in many buckets."""
    names = [bucket_name(b) for b in dict.fromkeys(buckets)]
    if not names:
        return "no genre yet"
    if len(names) <= limit:
        return _and(names)
    return f"{', '.join(names[:limit])} +{len(names) - limit} more"
