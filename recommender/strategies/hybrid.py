"""`hybrid` (the default): what people play together with the input, inside its genre
buckets, with its sound clusters as the tie-breaker and the fill.

1. The input's association partners (`recommender.association`: sessions shared in the
   catalogue's playlists) that sit in one of its buckets, by sessions shared; among
   equals, those in the input's own cluster first, then the more played.
2. Then the most-played tracks of the input's clusters (a track with no playlist
   history still gets what its sound neighbours' listeners play most).
3. Then the nearest tracks in sound, widening as `cluster-nearest` does (a catalogue
   without playlists gets exactly that).
Each pick says what it rests on: played together with the input, or the same sound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator



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


@register
class Hybrid(Strategy):
    name = "hybrid"
    help = (
        "tracks played together with the input in the catalogue's playlists, inside its"
        " genre buckets; its sound clusters break ties and fill the rest"
    )
    needs_playlists = True

    async def rounds(self, picker: Picker) -> AsyncIterator[Round]:
        first = played_together(picker) + most_played(picker)
        if first:
            yield Round(first)
        cursors = [SoundCursor(picker.placed, p) for p in picker.placed.placements]
        share = -(-2 * picker.options.n // len(cursors)) + 1
        for number in range(MAX_ROUNDS - 1):
            found = [step for c in cursors for step in c.next(share * 2**number)]
            if not found:
                return
            candidates, known = await sound_candidates(picker, found)
            yield Round(candidates, known)


def played_together(picker: Picker) -> list[Candidate]:
    """The input's partners inside its buckets, best first."""
    bundle = picker.bundle
    association, layout = bundle.association, bundle.layout
    if association is None or layout is None:
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


def most_played(picker: Picker) -> list[Candidate]:
    """The most-played tracks of the input's clusters, buckets in turn."""
    layout = picker.bundle.layout
    if layout is None:
        return []
    lists = [
        (p, layout.top_played[p.bucket][p.cluster])
        for p in picker.placed.placements
        if p.bucket in layout.top_played
    ]
    out: list[Candidate] = []
    for i in range(max((len(rows) for _, rows in lists), default=0)):
        for place, rows in lists:
            if i < len(rows):
                out.append(Candidate(layout.track_id(int(rows[i])), place))
    return out


def _where(picker: Picker, row: int) -> tuple[Placement | None, bool]:
    """The input's placement that holds track `row` (its own cluster preferred)."""
    layout = picker.bundle.layout
    assert layout is not None
    found = None
    for place in picker.placed.placements:
        cluster = int(layout.cluster_of[place.bucket][row]) if place.bucket in layout.cluster_of else -1
        if cluster == place.cluster:
            return place, True
        if cluster >= 0 and found is None:
            size = int(picker.bundle.models[place.bucket].sizes[cluster])
            found = Placement(place.bucket, cluster, size)
    return found, False



