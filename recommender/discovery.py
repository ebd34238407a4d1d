"""Discovery picks: one random track of a bucket that a guild has not seen lately.

A pick chooses one of the bucket's clusters with probability proportional to its size
and a uniformly random position in it, so every track of the bucket is equally likely,
then seeks through the `track_cluster` primary key and reads `SEEK_ROWS` rows from there
(wrapping to the cluster's start): a bounded read whatever the catalogue's size, like
`/recommend`'s picks. Tracks the guild was recommended or shown within the no-repeat
window, tracks gone from the catalogue and songs already in the same post are skipped;
after `MAX_ROUNDS` misses the bucket counts as exhausted for now. A bucket no bigger
than `SEEK_ROWS` is read whole, so its exhaustion is exact.

Which buckets a post covers: the ones the guild chose, or else a rotation through the
buckets its members ask for most (from the recommendation log), or through every
modelled bucket when the guild has no history yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncConnection

from recommender.serving import song_key
from recommender.taxonomy import display
from sql import picks as pick_reads

SEEK_ROWS = 16
MAX_ROUNDS = 6
ROTATION_SIZE = 3  # buckets per post when the guild chose none
ROTATION_POOL = 6  # the most asked buckets the rotation goes through

Clusters = Sequence[tuple[int, int]]  # (cluster, size)


@dataclass
class DiscoveryPick:
    track_id: str
    name: str
    artists: list[str]
    bucket: str
    cluster: int
    cluster_size: int
    bucket_size: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bucket_label": display(self.bucket)}


def modelled_order(buckets: Sequence[str]) -> list[str]:
    """A stable order for buckets: alphabetical, the `others` fallback last."""
    return sorted(buckets, key=lambda b: (b == "others", b))


def choose_buckets(
    chosen: Sequence[str] | None,
    demand: Sequence[str],
    modelled: Sequence[str],
    offset: int,
    *,
    size: int = ROTATION_SIZE,
    pool: int = ROTATION_POOL,
) -> tuple[list[str], list[str]]:
    """(buckets for this post, chosen buckets the active model lacks).

    With chosen buckets, those the model has. Otherwise the next `size` buckets of a
    rotation (post number `offset`) through the `pool` most asked modelled buckets, or
    through every modelled bucket when none was asked; padded to `size` from the rest.
    """
    available = list(modelled)
    if chosen:
        picked = [b for b in dict.fromkeys(chosen) if b in available]
        return picked, [b for b in dict.fromkeys(chosen) if b not in available]
    asked = [b for b in dict.fromkeys(demand) if b in available][:pool]
    candidates = asked or available
    if len(candidates) < size:
        candidates += [b for b in available if b not in candidates][: size - len(candidates)]
    if not candidates:
        return [], []
    n = min(size, len(candidates))
    start = (offset * n) % len(candidates)
    return [candidates[(start + i) % len(candidates)] for i in range(n)], []


async def pick_unseen(
    conn: AsyncConnection,
    version: str,
    bucket: str,
    clusters: Clusters,
    *,
    guild_id: int | None,
    since: datetime | None,
    rng: np.random.Generator,
    taken: set[str] | None = None,
    songs: set[tuple[str, str]] | None = None,
) -> DiscoveryPick | None:
    """One random track of `bucket` not recommended to the guild since `since` and not in
    `taken`/`songs` (this post so far); None when none was found."""
    clusters = [(int(c), int(n)) for c, n in clusters if n > 0]
    total = sum(n for _, n in clusters)
    if not total:
        return None
    taken = taken if taken is not None else set()
    songs = songs if songs is not None else set()
    sizes = dict(clusters)
    weights = np.array([n for _, n in clusters], dtype=float) / total
    rejected: set[str] = set()
    rounds = 1 if total <= SEEK_ROWS else MAX_ROUNDS
    for _ in range(rounds):
        if total <= SEEK_ROWS:
            found = await pick_reads.seek(
                conn, version, [(bucket, c, 0) for c, _ in clusters], total
            )
            rows = [(c, t) for (c, _), got in zip(clusters, found, strict=True) for _, t in got]
        else:
            number, size = clusters[int(rng.choice(len(clusters), p=weights))]
            rows = [(number, t) for t in await _window(conn, version, bucket, number, size, rng)]
        fresh = [(c, t) for c, t in rows if t not in taken and t not in rejected]
        admitted = await _admit(conn, [t for _, t in fresh], guild_id, since, songs)
        rejected.update(t for _, t in fresh if t not in admitted)
        if admitted:
            cluster_of = {t: c for c, t in fresh}
            track_id = list(admitted)[int(rng.integers(len(admitted)))]
            details = admitted[track_id]
            return DiscoveryPick(
                track_id=track_id,
                name=details["name"],
                artists=[a["name"] for a in details["artists"]],
                bucket=bucket,
                cluster=cluster_of[track_id],
                cluster_size=sizes[cluster_of[track_id]],
                bucket_size=total,
            )
    return None


async def _window(
    conn: AsyncConnection,
    version: str,
    bucket: str,
    number: int,
    size: int,
    rng: np.random.Generator,
) -> list[str]:
    """Up to SEEK_ROWS track ids from a random position of one cluster, wrapping."""
    start = int(rng.integers(size))
    want = min(SEEK_ROWS, size)
    (rows,) = await pick_reads.seek(conn, version, [(bucket, number, start)], want)
    if len(rows) < want:
        (wrapped,) = await pick_reads.seek(conn, version, [(bucket, number, 0)], want - len(rows))
        rows = rows + [r for r in wrapped if r[0] < start]
    return [t for _, t in rows]


async def _admit(
    conn: AsyncConnection,
    ids: list[str],
    guild_id: int | None,
    since: datetime | None,
    songs: set[tuple[str, str]],
) -> dict[str, dict[str, Any]]:
    """The ids still in the catalogue, not seen by the guild lately, not a song already
    in the post; with their details, in the order given."""
    if not ids:
        return {}
    details = await pick_reads.track_details(conn, ids)
    recent: set[str] = set()
    if guild_id is not None and since is not None:
        recent = await pick_reads.recently_recommended(conn, guild_id, ids, since)
    admitted: dict[str, dict[str, Any]] = {}
    for track_id in dict.fromkeys(ids):
        found = details.get(track_id)
        if found is None or track_id in recent:
            continue
        first = found["artists"][0]["name"] if found["artists"] else ""
        if song_key(found["name"], first) in songs:
            continue
        admitted[track_id] = found
    return admitted
