"""`hybrid` (the default): what people play together with the input, inside its genre
buckets, with its sound clusters as the tie-breaker and the fill.

1. The input's association partners (`recommender.association`: sessions shared in the
   catalogue's playlists) that sit in one of its buckets, by sessions shared; among
   equals, those in the input's own cluster first, then the more played.
2. Then its cluster's tracks nearest in sound, pulled forward by how often playlists
   hold them (distance − weight · log2(1 + plays), among the nearest cells and the
   cluster's most played tracks; the weight is learned in training, `recommender.fill`). A track with no playlist history still
   gets what its sound neighbours' listeners play; without playlists this is
   `cluster-nearest` without the random draw.
3. Then the nearest tracks in sound, widening to further cells and other clusters.
Each pick says what it rests on: played together with the input, or the same sound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from recommender.layout import Layout
from recommender.neighbourhood import SoundCursor, sound_candidates
from recommender.picking import (
    MAX_ROUNDS,
    PLAYED_TOGETHER,
    Candidate,
    Picker,
    Placement,
    Round,
)
from recommender.strategies import Strategy, register

FILL_POOL = 10  # nearest tracks per pick considered for the fill, per bucket
FIRST_FILL = 3  # fill candidates per pick and bucket in the first round
# Candidates per pick whose details the first statement reads: an answer of n picks
# rarely needs more than 2n candidates, and the rest of the round is read only then.
FIRST_READ = 2


@register
class Hybrid(Strategy):
    name = "hybrid"
    help = (
        "tracks played together with the input in the catalogue's playlists, inside its"
        " genre buckets; its sound clusters break ties and fill the rest"
    )
    needs_playlists = True

    async def rounds(self, picker: Picker) -> AsyncIterator[Round]:
        cursors = [SoundCursor(picker.placed, p) for p in picker.placed.placements]
        fill = [step for c in cursors for step in _fill(picker, c)]
        layout = picker.bundle.layout
        if layout is not None:  # ids known in memory: one read for the whole first round
            first = FIRST_FILL * picker.options.n * len(cursors)  # the rest only if needed:
            head = FIRST_READ * picker.options.n
            yield Round(played_together(picker) + _by_id(layout, fill[:first]), head=head)
            if fill[first:]:  # the read rows stay bounded by what one answer needs
                yield Round(_by_id(layout, fill[first:]))
        elif fill:  # a format 1 bundle: positions read from track_cluster
            candidates, known = await sound_candidates(picker, fill, ranked=True)
            yield Round(candidates, known)
        share = -(-2 * picker.options.n // len(cursors)) + 1
        for number in range(MAX_ROUNDS - 2):
            found = [step for c in cursors for step in c.next(share * 2**number)]
            if not found:
                return
            candidates, known = await sound_candidates(picker, found)
            yield Round(candidates, known)


def played_together(picker: Picker) -> list[Candidate]:
    """The input's partners inside its buckets, best first."""
    bundle = picker.bundle
    association, layout = bundle.association, bundle.layout
    if association is None or layout is None or not picker.options.history:
        return []
    row = association.row(picker.track_id)
    if row is None:
        return []
    partners, _, shared = association.neighbours(row)
    ranked = []
    for partner, count in zip(partners.tolist(), shared.tolist(), strict=True):
        place, same = _where(picker, partner)
        if place is not None:
            ranked.append((-count, not same, -int(association.plays[partner]), partner, place))
    ranked.sort(key=lambda item: item[:4])
    return [
        Candidate(layout.track_id(partner), place, PLAYED_TOGETHER, -negative)
        for negative, _, _, partner, place in ranked
    ]


def _fill(picker: Picker, cursor: SoundCursor) -> list[tuple[Placement, int, float]]:
    """The input's cluster's nearest tracks and most played ones, ranked by distance
    less the plays pull (the gap itself is kept for the explanation)."""
    layout, association = picker.bundle.layout, picker.bundle.association
    weight = picker.options.plays_weight
    if weight is None:
        weight = picker.bundle.meta.get("hybrid", {}).get("plays_weight", 0.0)
    steps = cursor.next(FILL_POOL * picker.options.n)
    if layout is None or association is None or not weight:
        return steps
    place = cursor.place
    seen = {(p.cluster, position) for p, position, _ in steps}
    for position in layout.top_played[place.bucket][place.cluster].tolist():
        if (place.cluster, position) not in seen:
            steps.append((place, position, cursor.take(place.cluster, position)))
    plays = np.asarray(association.plays)

    def score(step: tuple[Placement, int, float]) -> tuple[float, int, int]:
        where, position, gap = step
        row = layout.by_position[where.bucket][where.cluster][position]
        return gap - weight * float(np.log2(1 + plays[row])), where.cluster, position

    return sorted(steps, key=score)


def _by_id(layout: Layout, steps: list[tuple[Placement, int, float]]) -> list[Candidate]:
    return [
        Candidate(
            layout.track_id(int(layout.by_position[p.bucket][p.cluster][position])), p, gap=gap
        )
        for p, position, gap in steps
    ]


def _where(picker: Picker, row: int) -> tuple[Placement | None, bool]:
    """The input's placement that holds track `row` (its own cluster preferred)."""
    layout = picker.bundle.layout
    assert layout is not None
    found = None
    for place in picker.placed.placements:
        of = layout.cluster_of.get(place.bucket)
        cluster = int(of[row]) if of is not None else -1
        if cluster == place.cluster:
            return place, True
        if cluster >= 0 and found is None:
            size = int(picker.bundle.models[place.bucket].sizes[cluster])
            found = Placement(place.bucket, cluster, size)
    return found, False
