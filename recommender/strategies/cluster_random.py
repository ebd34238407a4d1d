"""`cluster-random` (the original project's): uniformly random tracks of the input's
clusters, buckets in turn; from the fifth round on, of any cluster of its buckets."""

from __future__ import annotations

from collections.abc import AsyncIterator

from recommender.picking import MAX_ROUNDS, Candidate, Picker, Placement, Round
from recommender.strategies import Strategy, register
from sql import picks as pick_reads

SEEK_ROWS = 2  # rows read per seek: the second stands in when the first is excluded
OWN_CLUSTER_ROUNDS = 4


@register
class ClusterRandom(Strategy):
    name = "cluster-random"
    help = "uniformly random tracks of the input's sound cluster (the original project's)"

    async def rounds(self, picker: Picker) -> AsyncIterator[Round]:
        placements = picker.placed.placements
        for number in range(MAX_ROUNDS):
            arms = [
                self._arm(picker, placements[i % len(placements)], number)
                for i in range(picker.options.n)
            ]
            starts = [int(picker.rng.integers(p.cluster_size)) for p in arms]
            requests = [(p.bucket, p.cluster, s) for p, s in zip(arms, starts, strict=True)]
            found, known = await pick_reads.seek_with_details(
                picker.conn, picker.version, requests, SEEK_ROWS
            )
            short = [i for i, rows in enumerate(found) if len(rows) < SEEK_ROWS]
            if short:  # wrap around to the first positions of the cluster
                wrapped, more = await pick_reads.seek_with_details(
                    picker.conn,
                    picker.version,
                    [(arms[i].bucket, arms[i].cluster, 0) for i in short],
                    SEEK_ROWS,
                )
                known.update(more)
                for i, rows in zip(short, wrapped, strict=True):
                    found[i] = found[i] + rows
            candidates = [
                Candidate(track_id, arm)
                for arm, rows in zip(arms, found, strict=True)
                for _, track_id in rows
            ]
            yield Round(candidates, known)

    @staticmethod
    def _arm(picker: Picker, place: Placement, number: int) -> Placement:
        """The input's cluster, or later a random cluster of the bucket (by size)."""
        if number < OWN_CLUSTER_ROUNDS:
            return place
        sizes = picker.bundle.models[place.bucket].sizes
        cluster = int(picker.rng.choice(len(sizes), p=sizes / sizes.sum()))
        return Placement(place.bucket, cluster, int(sizes[cluster]))
