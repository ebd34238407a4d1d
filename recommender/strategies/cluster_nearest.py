"""`cluster-nearest`: the nearest tracks in sound (plus weighted release year and
popularity) in the input's cluster, n drawn among the 3n nearest and shown nearest first:
similar, yet not the same answer every time. Exclusions widen it to further cells, then
to the bucket's other clusters."""

from __future__ import annotations

from collections.abc import AsyncIterator

from recommender.neighbourhood import SoundCursor, sound_candidates
from recommender.picking import MAX_ROUNDS, Pick, Picker, Round
from recommender.strategies import Strategy, register

VARIETY = 3  # the first round draws among VARIETY × n nearest


@register
class ClusterNearest(Strategy):
    name = "cluster-nearest"
    help = (
        "the nearest tracks in sound and era inside the input's cluster, drawn among the 3n nearest"
    )

    async def pick(self, picker: Picker) -> list[Pick]:
        picks = await super().pick(picker)
        return sorted(picks, key=lambda p: (p.distance, p.track_id))

    async def rounds(self, picker: Picker) -> AsyncIterator[Round]:
        cursors = [SoundCursor(picker.placed, p) for p in picker.placed.placements]
        # Each bucket contributes its share (+1: the input itself is among the nearest).
        share = -(-VARIETY * picker.options.n // len(cursors)) + 1
        for number in range(MAX_ROUNDS):
            found = [step for c in cursors for step in c.next(share * 2**number)]
            if not found:
                return
            candidates, known = await sound_candidates(picker, found)
            if number == 0:  # draw among the nearest: a random order of the first pool
                order = picker.rng.permutation(len(candidates))
                candidates = [candidates[i] for i in order]
            yield Round(candidates, known)
