"""How answers look in Discord: embeds and link buttons, drawn from plain service results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import discord

from bot import why as reasons
from bot.services.cards import PROFILE_FEATURES, TrackCard
from recommender.serving import Pick, Recommendation
from recommender.taxonomy import display

BRAND = discord.Colour.from_rgb(30, 215, 96)  # Spotify green: these are Spotify tracks
MUTED = discord.Colour.dark_grey()
BAR = 10


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def why(pick: Pick, seed_name: str = "your track") -> str:
    """The member-readable reason (bot.why); numbers stay in /genres and /status."""
    return reasons.why(pick, seed_name)


def track_line(card: TrackCard) -> str:
    details = [part for part in (card.album, str(card.year) if card.year else None) if part]
    return " · ".join(details)


def input_embed(result: Recommendation, card: TrackCard | None) -> discord.Embed:
    track = result.track
    embed = discord.Embed(
        title=_clip(f"Because you like {track.name}", 256),
        description=_clip(
            f"by {', '.join(track.artists) or 'unknown artist'}"
            + (f"\n{track_line(card)}" if card and track_line(card) else ""),
            4096,
        ),
        colour=MUTED,
        url=card.url if card else None,
    )
    placed = reasons.filed_under([p.bucket for p in result.placements])
    embed.add_field(name="Filed under", value=_clip(placed, 1024), inline=False)
    if result.short_reason:  # never an empty or short answer without saying why
        embed.add_field(name="Fewer picks than asked", value=_clip(result.short_reason, 1024))
    if card and card.image_url:
        embed.set_thumbnail(url=card.image_url)
    return embed


def pick_embed(pick: Pick, card: TrackCard | None, seed_name: str = "your track") -> discord.Embed:
    artists = card.artists if card else pick.artists
    embed = discord.Embed(
        title=_clip(pick.name, 256),
        description=_clip(f"by {', '.join(artists) or 'unknown artist'}", 4096),
        colour=BRAND,
        url=card.url if card else None,
    )
    if card and card.album:
        embed.add_field(name="Album", value=_clip(card.album, 1024), inline=True)
    if card and card.year:
        embed.add_field(name="Year", value=str(card.year), inline=True)
    embed.add_field(name="Genre", value=display(pick.bucket), inline=True)
    embed.add_field(name="Why", value=_clip(why(pick, seed_name), 1024), inline=False)
    if card and card.image_url:
        embed.set_thumbnail(url=card.image_url)
    return embed


def recommendation_message(
    result: Recommendation, cards: dict[str, TrackCard]
) -> tuple[list[discord.Embed], discord.ui.View]:
    """The input summarised at the top, then one embed and one link button per pick."""
    embeds = [input_embed(result, cards.get(result.track.track_id))]
    view = discord.ui.View(timeout=None)
    for pick in result.picks:
        card = cards.get(pick.track_id)
        embeds.append(pick_embed(pick, card, result.track.name))
        if card and card.url:
            view.add_item(discord.ui.Button(label=_clip(f"▶ {pick.name}", 80), url=card.url))
    return embeds, view


def feature_bars(features: dict[str, float]) -> str:
    """A text profile that reads on any client: one bar per 0–1 feature."""
    lines = []
    for name in PROFILE_FEATURES:
        if name in features:
            value = max(0.0, min(1.0, features[name]))
            filled = round(value * BAR)
            lines.append(f"`{name:<16}` {'█' * filled}{'░' * (BAR - filled)} {value:.2f}")
    extra = [
        f"tempo {features['tempo']:.0f} BPM" if "tempo" in features else None,
        f"loudness {features['loudness']:.1f} dB" if "loudness" in features else None,
    ]
    tail = " · ".join(part for part in extra if part)
    return "\n".join(lines + ([tail] if tail else [])) or "no audio features known"


def genres_embed(filing: dict[str, Any], card: TrackCard | None) -> discord.Embed:
    track = filing["track"]
    embed = discord.Embed(
        title=_clip(f"How {track['name']} is filed", 256),
        description=_clip(f"by {', '.join(track['artists']) or 'unknown artist'}", 4096),
        colour=BRAND,
        url=card.url if card else None,
    )
    genres = filing["genres"]
    raw = ", ".join(
        f"{g['genre']} → {', '.join(display(b) for b in g['buckets']) or 'others'}" for g in genres
    )
    origin = "Track's genres" if filing.get("genres_from") == "track" else "Artists' genres"
    embed.add_field(
        name=f"{origin} → buckets",
        value=_clip(raw or "none known (the track falls in no bucket)", 1024),
        inline=False,
    )
    placements = filing.get("placements") or []
    clusters = "\n".join(
        f"{display(p['bucket'])}: cluster #{p['cluster']} ({p['cluster_size']:,} tracks)"
        for p in placements
    )
    embed.add_field(
        name="Clusters",
        value=_clip(clusters or filing.get("reason") or "not placed", 1024),
        inline=False,
    )
    embed.add_field(
        name="Sound", value=_clip(feature_bars(card.features if card else {}), 1024), inline=False
    )
    if card and card.image_url:
        embed.set_thumbnail(url=card.image_url)
    if filing.get("model_version"):
        embed.set_footer(text=f"model {filing['model_version']}")
    return embed


def train_embed(report: dict[str, Any]) -> discord.Embed:
    buckets = report.get("buckets") or {}  # `TrainReport.to_dict()` lifts the meta's keys
    ks = ", ".join(f"{display(name)} k={info.get('k')}" for name, info in sorted(buckets.items()))
    seconds = sum((report.get("seconds") or {}).values())
    embed = discord.Embed(title=f"Model {report['version']} is serving", colour=BRAND)
    embed.add_field(name="Tracks", value=f"{report.get('assignments', 0):,} assignments")
    embed.add_field(name="Took", value=f"{seconds:.1f} s")
    embed.add_field(name="k per genre", value=_clip(ks or "—", 1024), inline=False)
    return embed


def status_embed(status: dict[str, Any]) -> discord.Embed:
    embed = discord.Embed(title="tunecluster status", colour=MUTED)
    counts = status["counts"]
    embed.add_field(
        name="Catalogue",
        value="\n".join(f"{name}: {count:,}" for name, count in counts.items()),
        inline=True,
    )
    model = status.get("model") or {}
    embed.add_field(
        name="Model",
        value=(f"{model['version']}\nactive for {model['age']}" if model else "none trained yet"),
        inline=True,
    )
    embed.add_field(name="Spotify", value=_clip(status["spotify"], 1024), inline=False)
    if "feedback" in status:  # members' reactions per strategy arm (bot/services/feedback.py)
        lines = "\n".join(status["feedback"]) or "no picks with buttons yet"
        embed.add_field(name="Feedback", value=_clip(lines, 1024), inline=False)
    jobs = status.get("jobs") or []
    embed.add_field(
        name="Background runs",
        value=_clip("\n".join(_job_line(job) for job in jobs) or "none yet", 1024),
        inline=False,
    )
    return embed


def _job_line(job: dict[str, Any]) -> str:
    when = job["started_at"]
    when = when.strftime("%Y-%m-%d %H:%M") if isinstance(when, datetime) else str(when)
    error = f" — {job['error']}" if job.get("error") else ""
    return f"{job['job']}: {job['outcome']} at {when} UTC{error}"


def plain_list(items: Sequence[str]) -> str:
    return "\n".join(f"• {item}" for item in items)
