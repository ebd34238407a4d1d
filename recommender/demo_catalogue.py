"""A generated demo catalogue: deterministic, clearly fake, shaped like the real thing.

Every bucket (others included) gets artists tagged with real Spotify genre strings of
that bucket, a few sound "styles" (feature means and spreads inspired by what real
tracks of the genre look like), releases over several years and popularity spread over
the curation floor. Playlists mostly draw from one style of one bucket, so offline
evaluation works on it too. Ids are 22-character base62 strings starting with "0DEMO",
names are made of syllables, and every source column says `demo-generated`: nothing
here is a real track.

`generate(tracks, seed)` is vectorised so the benchmarks can build a million tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sql.schema import CONTINUOUS_FEATURES

SOURCE = "demo-generated"
LABEL = "GENERATED demo catalogue (not real music)"

# bucket → real Spotify genre strings its artists carry (cross-bucket ones included).
GENRES: dict[str, list[str]] = {
    "rock": ["album rock", "modern rock", "indie rock", "classic rock", "post-grunge"],
    "hip hop": ["southern hip hop", "trap music", "gangster rap", "east coast hip hop"],
    "pop": ["dance pop", "post-teen pop", "electropop", "indie poptimism"],
    "jazz": ["vocal jazz", "smooth jazz", "cool jazz", "jazz fusion"],
    "blues": ["electric blues", "chicago blues", "modern blues", "blues-rock"],
    "country": ["contemporary country", "country road", "outlaw country", "texas country"],
    "metal": ["alternative metal", "nu metal", "metalcore", "groove metal"],
    "reggae": ["roots reggae", "dancehall", "reggae fusion", "ska"],
    "folk": ["indie folk", "stomp and holler", "traditional folk", "singer-songwriter"],
    "soul": ["neo soul", "urban contemporary", "quiet storm", "classic soul"],
    "edm": ["edm", "electro house", "big room", "progressive house"],
    "dance": ["eurodance", "disco", "uk dance", "post-disco"],
    "latin": ["reggaeton", "latin pop", "trap latino", "tropical"],
    "funk": ["funk", "p funk", "jazz funk", "funk rock"],
    "others": ["soundtrack", "classical", "new age", "worship"],
}
BUCKETS = tuple(GENRES)

FEATURES = CONTINUOUS_FEATURES
# bucket → styles, each the means of FEATURES (spread is per feature below).
STYLES: dict[str, list[tuple[float, ...]]] = {
    "rock": [
        (0.05, 0.45, 0.85, 0.02, 0.2, -5.5, 0.05, 130, 0.45),
        (0.35, 0.5, 0.55, 0.05, 0.15, -8.5, 0.04, 115, 0.5),
    ],
    "hip hop": [
        (0.1, 0.8, 0.65, 0.0, 0.15, -6.0, 0.3, 95, 0.5),
        (0.15, 0.75, 0.55, 0.01, 0.12, -7.0, 0.2, 140, 0.35),
    ],
    "pop": [
        (0.12, 0.7, 0.72, 0.0, 0.13, -5.0, 0.06, 118, 0.6),
        (0.55, 0.55, 0.4, 0.0, 0.11, -8.0, 0.04, 100, 0.35),
    ],
    "jazz": [
        (0.85, 0.5, 0.25, 0.4, 0.15, -13.0, 0.05, 110, 0.45),
        (0.6, 0.62, 0.45, 0.55, 0.12, -10.0, 0.04, 100, 0.6),
    ],
    "blues": [
        (0.45, 0.52, 0.55, 0.1, 0.3, -9.0, 0.05, 105, 0.55),
        (0.2, 0.45, 0.75, 0.08, 0.35, -7.0, 0.05, 125, 0.5),
    ],
    "country": [
        (0.25, 0.58, 0.7, 0.0, 0.16, -5.5, 0.04, 125, 0.6),
        (0.6, 0.55, 0.42, 0.01, 0.14, -8.5, 0.035, 95, 0.45),
    ],
    "metal": [
        (0.002, 0.4, 0.95, 0.05, 0.25, -4.0, 0.1, 140, 0.3),
        (0.01, 0.35, 0.88, 0.3, 0.2, -5.0, 0.07, 110, 0.2),
    ],
    "reggae": [
        (0.15, 0.78, 0.6, 0.02, 0.12, -7.0, 0.12, 90, 0.75),
        (0.08, 0.82, 0.72, 0.0, 0.1, -5.5, 0.18, 100, 0.65),
    ],
    "folk": [
        (0.8, 0.5, 0.35, 0.05, 0.12, -10.0, 0.04, 110, 0.4),
        (0.55, 0.55, 0.58, 0.02, 0.15, -7.5, 0.04, 125, 0.55),
    ],
    "soul": [
        (0.3, 0.65, 0.5, 0.0, 0.1, -7.0, 0.08, 95, 0.5),
        (0.45, 0.6, 0.4, 0.01, 0.2, -9.0, 0.05, 80, 0.6),
    ],
    "edm": [
        (0.02, 0.7, 0.88, 0.6, 0.18, -4.0, 0.06, 128, 0.4),
        (0.05, 0.6, 0.92, 0.3, 0.25, -3.5, 0.09, 150, 0.3),
    ],
    "dance": [
        (0.05, 0.8, 0.8, 0.1, 0.1, -5.0, 0.05, 124, 0.75),
        (0.1, 0.75, 0.7, 0.05, 0.15, -7.0, 0.05, 118, 0.85),
    ],
    "latin": [
        (0.15, 0.8, 0.75, 0.0, 0.12, -4.5, 0.1, 96, 0.7),
        (0.3, 0.7, 0.6, 0.0, 0.14, -6.0, 0.06, 180, 0.8),
    ],
    "funk": [
        (0.15, 0.82, 0.7, 0.2, 0.12, -7.5, 0.07, 108, 0.85),
        (0.2, 0.72, 0.65, 0.05, 0.3, -8.0, 0.05, 112, 0.75),
    ],
    "others": [
        (0.95, 0.25, 0.12, 0.9, 0.1, -22.0, 0.04, 90, 0.15),
        (0.75, 0.4, 0.35, 0.7, 0.1, -15.0, 0.05, 120, 0.3),
    ],
}
SPREAD = (0.08, 0.07, 0.07, 0.08, 0.05, 1.2, 0.02, 7.0, 0.09)
LIMITS = ((0, 1), (0, 1), (0, 1), (0, 1), (0, 1), (-40, 0), (0, 1), (50, 210), (0, 1))

SYLLABLES = [  # of generated names (the corpus generator takes its first 21)
    "ka",
    "lo",
    "mi",
    "ra",
    "ven",
    "do",
    "shi",
    "tu",
    "na",
    "bel",
    "cor",
    "fa",
    "gri",
    "ma",
    "pel",
    "son",
    "tir",
    "vo",
    "ze",
    "lu",
    "mar",
    "ke",
    "di",
    "an",
    "ro",
    "sa",
    "ni",
    "po",
    "ly",
    "ta",
]
_WORDS = [
    "Neon",
    "Harbor",
    "Velvet",
    "Static",
    "Paper",
    "Echo",
    "Golden",
    "Midnight",
    "Silver",
    "Ghost",
    "Crystal",
    "River",
    "Broken",
    "Satellite",
    "Summer",
    "Honey",
    "Glass",
    "Thunder",
    "Wild",
    "Ocean",
    "Electric",
    "Candle",
    "Shadow",
    "Signal",
    "Desert",
    "Lantern",
    "Hollow",
    "Fever",
    "Mirror",
    "Ember",
    "Cloud",
    "Atlas",
]


@dataclass
class DemoCatalogue:
    """Rows for the catalogue tables, plus which bucket and style each track was made in."""

    artists: list[dict]
    albums: list[dict]
    tracks: list[dict]
    features: list[dict]
    artist_tracks: list[dict]
    artist_albums: list[dict]
    artist_genres: list[dict]
    playlists: list[dict]
    playlist_tracks: list[dict]
    truth: pd.DataFrame  # track_id, bucket, style

    def counts(self) -> dict[str, int]:
        return {
            "artists": len(self.artists),
            "albums": len(self.albums),
            "tracks": len(self.tracks),
            "playlists": len(self.playlists),
        }


def demo_id(kind: str, number: int) -> str:
    """A 22-character base62 id that says what it is: 0DEMO + kind letter + number."""
    return f"0DEMO{kind}{number:016d}"


def _name(rng: np.random.Generator, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES, syllables)).capitalize()


def generate(tracks: int = 3000, seed: int = 7, *, playlists: int | None = None) -> DemoCatalogue:
    """A catalogue of `tracks` tracks over every bucket; the same seed gives the same rows."""
    rng = np.random.default_rng(seed)  # drawn from in this order, step after step
    artists = _artists(rng, max(len(BUCKETS), tracks // 8))
    genres = _artist_genres(rng, artists)
    track_artist = rng.integers(0, len(artists.ids), tracks)
    albums = _albums(rng, max(1, tracks // 6), len(artists.ids))
    track_album = _track_albums(rng, track_artist, albums)
    bucket = artists.bucket[track_artist]
    style = artists.style[track_artist]
    values = _sound(rng, bucket, style)
    track_ids = [demo_id("t", i) for i in range(tracks)]
    album_ids = [albums.ids[a] for a in track_album]
    track_rows, feature_rows = _tracks(rng, track_ids, album_ids, values)
    truth = pd.DataFrame({"track_id": track_ids, "bucket": bucket, "style": style})
    playlist_rows, entries = _playlists(rng, truth, playlists)
    return DemoCatalogue(
        artists=artists.rows,
        albums=albums.rows,
        tracks=track_rows,
        features=feature_rows,
        artist_tracks=[
            {"artist_id": artists.ids[int(a)], "track_id": t, "position": 0}
            for a, t in zip(track_artist, track_ids, strict=True)
        ],
        artist_albums=[
            {"artist_id": artists.ids[int(a)], "album_id": b}
            for a, b in zip(albums.artist, albums.ids, strict=True)
        ],
        artist_genres=genres,
        playlists=playlist_rows,
        playlist_tracks=entries,
        truth=truth,
    )


@dataclass
class _Artists:
    bucket: np.ndarray  # each artist's bucket (object array)
    style: np.ndarray  # and its style in the bucket (0 or 1)
    ids: list[str]
    rows: list[dict]


def _artists(rng: np.random.Generator, n: int) -> _Artists:
    """Artists dealt over the buckets in turn, each with one of its bucket's styles."""
    bucket = np.array([BUCKETS[i % len(BUCKETS)] for i in range(n)], dtype=object)
    style = rng.integers(0, 2, n)
    ids = [demo_id("a", i) for i in range(n)]
    names = [f"{_name(rng, 2)} {_name(rng, 2)}" for _ in range(n)]
    rows = [
        {"artist_id": a, "name": name, "popularity": int(p), "source": SOURCE}
        for a, name, p in zip(ids, names, rng.integers(20, 90, n), strict=True)
    ]
    return _Artists(bucket, style, ids, rows)


def _artist_genres(rng: np.random.Generator, artists: _Artists) -> list[dict]:
    """One or two of the bucket's genres per artist, and for some a crossover genre."""
    rows = []
    for i, bucket in enumerate(artists.bucket):
        pool = GENRES[bucket]
        picked = set(rng.choice(pool, size=int(rng.integers(1, 3)), replace=False))
        if rng.random() < 0.15:  # some artists cross over (pop rap, latin pop, …)
            other = BUCKETS[int(rng.integers(len(BUCKETS)))]
            picked.add(str(rng.choice(GENRES[other])))
        rows += [
            {"artist_id": artists.ids[i], "genre": g, "source": SOURCE} for g in sorted(picked)
        ]
    return rows


@dataclass
class _Albums:
    artist: np.ndarray  # each album's artist (index)
    ids: list[str]
    rows: list[dict]


def _albums(rng: np.random.Generator, n: int, n_artists: int) -> _Albums:
    artist = rng.integers(0, n_artists, n)
    ids = [demo_id("b", i) for i in range(n)]
    years = rng.integers(2008, 2021, n)
    rows = [
        {
            "album_id": ids[i],
            "name": f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} (generated)",
            "release_date": f"{years[i]}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}",
            "release_date_precision": "day",
            "popularity": int(rng.integers(15, 85)),
            "source": SOURCE,
        }
        for i in range(n)
    ]
    return _Albums(artist, ids, rows)


def _track_albums(rng: np.random.Generator, track_artist: np.ndarray, albums: _Albums) -> list[int]:
    """Each track's album: one of its artist's when there is one, else any album."""
    by_artist: dict[int, list[int]] = {}
    for i, a in enumerate(albums.artist):
        by_artist.setdefault(int(a), []).append(i)
    return [
        by_artist[a][int(rng.integers(len(by_artist[a])))]
        if a in by_artist
        else int(rng.integers(len(albums.ids)))
        for a in track_artist.tolist()
    ]


def _sound(rng: np.random.Generator, bucket: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Each track's FEATURES: its (bucket, style)'s means with noise, within LIMITS."""
    means = np.array([STYLES[b][s] for b, s in zip(bucket, style, strict=True)], dtype=float)
    values = means + rng.normal(size=means.shape) * np.array(SPREAD)
    for j, (low, high) in enumerate(LIMITS):
        values[:, j] = np.clip(values[:, j], low, high)
    return values


def _tracks(
    rng: np.random.Generator, track_ids: list[str], album_ids: list[str], values: np.ndarray
) -> tuple[list[dict], list[dict]]:
    """Track rows and their audio features (`values` and drawn key, mode and meter)."""
    n = len(track_ids)
    popularity = np.clip(rng.normal(52, 16, n), 0, 100).astype(int)
    durations = np.clip(rng.normal(215_000, 40_000, n), 90_000, 600_000).astype(int)
    titles = [f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}" for _ in range(n)]
    mode = (rng.random(n) < 0.6).astype(int)
    key = rng.integers(0, 12, n)
    signature = np.where(rng.random(n) < 0.9, 4, 3)
    track_rows, feature_rows = [], []
    for i, track_id in enumerate(track_ids):
        track_rows.append(
            {
                "track_id": track_id,
                "name": titles[i],
                "album_id": album_ids[i],
                "duration_ms": int(durations[i]),
                "popularity": int(popularity[i]),
                "source": SOURCE,
            }
        )
        row = {"track_id": track_id, "source": SOURCE, "mode": int(mode[i]), "key": int(key[i])}
        row.update({f: round(float(values[i, j]), 4) for j, f in enumerate(FEATURES)})
        row["time_signature"] = int(signature[i])
        feature_rows.append(row)
    return track_rows, feature_rows


def _playlists(
    rng: np.random.Generator, truth: pd.DataFrame, count: int | None
) -> tuple[list, list]:
    """Playlists of 20–40 tracks, 80 % from one (bucket, style), the rest from anywhere."""
    count = count if count is not None else max(10, len(truth) // 6)
    groups = {key: g["track_id"].to_numpy() for key, g in truth.groupby(["bucket", "style"])}
    keys = sorted(groups)
    everything = truth["track_id"].to_numpy()
    rows, entries = [], []
    for p in range(count):
        key = keys[p % len(keys)]
        size = int(rng.integers(20, 41))
        own = rng.choice(groups[key], size=min(len(groups[key]), int(size * 0.8)), replace=False)
        noise = rng.choice(everything, size=size - len(own), replace=False)
        members = list(dict.fromkeys([*own.tolist(), *noise.tolist()]))
        playlist_id = demo_id("p", p)
        rows.append(
            {
                "playlist_id": playlist_id,
                "name": f"Generated {key[0]} mix {p}",
                "genre": key[0],
                "source": SOURCE,
            }
        )
        entries += [
            {"playlist_id": playlist_id, "position": i, "track_id": t}
            for i, t in enumerate(members)
        ]
    return rows, entries


async def write(db, catalogue: DemoCatalogue, *, chunk: int = 20_000) -> dict[str, int]:
    """Upsert the generated rows into a database (in transactions of `chunk` rows)."""
    from sql import catalogue as store

    steps = (
        (store.upsert_artists, catalogue.artists),
        (store.upsert_albums, catalogue.albums),
        (store.upsert_tracks, catalogue.tracks),
        (store.upsert_audio_features, catalogue.features),
        (store.link_artist_tracks, catalogue.artist_tracks),
        (store.link_artist_albums, catalogue.artist_albums),
        (store.upsert_artist_genres, catalogue.artist_genres),
        (store.upsert_playlists, catalogue.playlists),
        (store.upsert_playlist_tracks, catalogue.playlist_tracks),
    )
    for write_rows, rows in steps:
        for start in range(0, len(rows), chunk):
            async with db.transaction() as conn:
                await write_rows(conn, rows[start : start + chunk])
    return catalogue.counts()
