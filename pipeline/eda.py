"""Exploratory figures of the catalogue: the original project's histograms, each showing
the whole catalogue against the curated training set, genre-bucket sizes, and an
`index.html` with the curation funnel.

Figures are drawn with matplotlib's object API on an Agg canvas (no display, no global
backend switch), so this runs headless and next to other code using matplotlib.
"""

from __future__ import annotations

import asyncio
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.curation import CurationFilters, CurationResult, curate_for_training
from sql.database import Database
from sql.frames import track_frame, track_genres_frame


@dataclass(frozen=True)
class Histogram:
    column: str
    title: str
    unit: str
    scale: float = 1.0  # shown value = stored value * scale
    bins: Any = 40
    note: str = ""


ZERO_ONE = np.linspace(0, 1, 41)
POPULARITY = np.arange(0, 102, 2)
HISTOGRAMS = (
    Histogram("release_year", "Release year", "year of the album's release", bins="years"),
    Histogram(
        "album_popularity",
        "Album popularity",
        "Spotify popularity (0–100)",
        bins=POPULARITY,
        note="In the seed sample this column holds track popularity (see docs/catalogue.md).",
    ),
    Histogram(
        "track_popularity", "Track popularity", "Spotify popularity (0–100)", bins=POPULARITY
    ),
    Histogram(
        "artist_popularity",
        "Artist popularity (primary artist)",
        "Spotify popularity (0–100)",
        bins=POPULARITY,
    ),
    Histogram(
        "duration_ms", "Duration", "minutes", scale=1 / 60_000, bins=np.arange(0, 12.25, 0.25)
    ),
    Histogram("tempo", "Tempo", "beats per minute (BPM)", bins=np.arange(0, 252, 4)),
    Histogram("speechiness", "Speechiness", "score (0–1)", bins=ZERO_ONE),
    Histogram("danceability", "Danceability", "score (0–1)", bins=ZERO_ONE),
    Histogram("energy", "Energy", "score (0–1)", bins=ZERO_ONE),
    Histogram("acousticness", "Acousticness", "confidence (0–1)", bins=ZERO_ONE),
    Histogram("liveness", "Liveness", "probability of a live recording (0–1)", bins=ZERO_ONE),
    Histogram("instrumentalness", "Instrumentalness", "score (0–1)", bins=ZERO_ONE),
    Histogram("loudness", "Loudness", "average loudness (dB)", bins=np.arange(-60, 3, 1.5)),
    Histogram("valence", "Valence", "musical positiveness (0–1)", bins=ZERO_ONE),
)
WHOLE = "#9aa7b8"
CURATED = "#d9534f"


@dataclass
class EdaResult:
    out_dir: Path
    figures: list[dict[str, str]] = field(default_factory=list)  # file, title, caption
    index: Path | None = None
    curation: dict[str, Any] = field(default_factory=dict)
    buckets: dict[str, dict[str, int]] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "index": str(self.index) if self.index else None,
            "figures": self.figures,
            "buckets": self.buckets,
            "warnings": self.warnings,
            "curation": self.curation,
        }


async def write_eda(
    db: Database,
    out_dir: Path,
    filters: CurationFilters,
    *,
    genre_map_file: Path | None = None,
) -> EdaResult:
    """Load the catalogue, curate it and write every figure plus index.html to `out_dir`."""
    async with db.connection() as conn:
        frame = await track_frame(conn)
        genres = await track_genres_frame(conn, with_source=True, with_origin=True)
    return await asyncio.to_thread(_write, frame, genres, out_dir, filters, genre_map_file)


def _write(
    frame: pd.DataFrame,
    genres: pd.DataFrame,
    out_dir: Path,
    filters: CurationFilters,
    genre_map_file: Path | None,
) -> EdaResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    result = EdaResult(out_dir=out_dir)
    curated, _ = curate_for_training(frame, filters)
    result.curation = curated.to_dict()
    absent = curated.funnel[2].detail.get("missing_in_every_track")
    if absent:
        result.warnings.append(
            f"no track with audio features has {', '.join(absent)}: the curated set needs "
            "every feature in TUNECLUSTER_FEATURES, so leave these out for this catalogue"
        )
    if curated.rows_out == 0:
        result.warnings.append("the curated set is empty: see the funnel for the filter")
    for spec in HISTOGRAMS:
        result.figures.append(_histogram(spec, frame, curated.frame, out_dir))
    buckets = bucket_sizes(genres, curated.frame, genre_map_file, result.warnings)
    if buckets is not None:
        result.buckets = buckets
        result.figures.append(_bucket_figure(buckets, out_dir, genres))
    result.index = _index(result, curated, out_dir)
    (out_dir / "eda.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result


def _values(frame: pd.DataFrame, spec: Histogram) -> np.ndarray:
    values = frame[spec.column].to_numpy(dtype=np.float64) * spec.scale
    return values[np.isfinite(values)]


def _bins(spec: Histogram, values: np.ndarray):
    if isinstance(spec.bins, str):  # one bin per year
        low, high = int(values.min()), int(values.max())
        return np.arange(low, high + 2) - 0.5
    edges = np.asarray(spec.bins, dtype=np.float64)
    if len(values) and (values.min() < edges[0] or values.max() > edges[-1]):
        edges = np.linspace(min(edges[0], values.min()), max(edges[-1], values.max()), 41)
    return edges


def _histogram(spec: Histogram, whole: pd.DataFrame, curated: pd.DataFrame, out: Path) -> dict:
    figure = Figure(figsize=(8, 4.5), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    all_values = _values(whole, spec)
    cur_values = _values(curated, spec)
    axes.set_title(f"{spec.title}: whole catalogue vs curated set")
    axes.set_xlabel(spec.unit)
    axes.set_ylabel("share of the set's tracks (%)")
    if len(all_values) == 0:
        axes.text(0.5, 0.5, "no values in this catalogue", ha="center", va="center")
        axes.set_xticks([])
        axes.set_yticks([])
        caption = f"{spec.title}: unknown for every track of this catalogue."
    else:
        bins = _bins(spec, all_values)
        for values, colour, label, style in (
            (all_values, WHOLE, "whole catalogue", {"alpha": 0.55}),
            (cur_values, CURATED, "curated set", {"histtype": "step", "linewidth": 1.8}),
        ):
            if len(values):
                weights = np.full(len(values), 100.0 / len(values))
                axes.hist(values, bins=bins, weights=weights, color=colour, **style,
                          label=f"{label} (n = {len(values):,})")  # fmt: skip
        axes.legend(frameon=False)
        missing = len(whole) - len(all_values)
        caption = (
            f"{spec.title} ({spec.unit}); known for {len(all_values):,} of {len(whole):,} "
            f"tracks ({missing:,} unknown), {len(cur_values):,} in the curated set."
        )
    if spec.note:
        caption += " " + spec.note
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    name = f"{spec.column}.png"
    figure.savefig(out / name)
    return {"file": name, "title": spec.title, "caption": caption}


def bucket_sizes(
    genres: pd.DataFrame,
    curated: pd.DataFrame,
    genre_map_file: Path | None,
    warnings: list[str],
) -> dict[str, dict[str, int]] | None:
    """Tracks per genre bucket (a track counts in every bucket of its genres: its own, or
    its artists' when it has none)."""
    try:
        from recommender import taxonomy
    except ImportError:
        warnings.append("recommender.taxonomy is not available: no bucket-size figure")
        return None
    rules = taxonomy.load(genre_map_file)
    mapping = rules.mapping(genres["genre"].unique().tolist())
    pairs = genres[["track_id", "genre"]].drop_duplicates()
    exploded = pairs.assign(bucket=pairs["genre"].map(mapping)).explode("bucket")
    per_track = exploded[["track_id", "bucket"]].drop_duplicates()
    whole = per_track["bucket"].value_counts()
    in_curated = per_track[per_track["track_id"].isin(curated["track_id"])]
    cur = in_curated["bucket"].value_counts()
    order = [b for b in rules.all_buckets if b in whole.index or b in cur.index]
    if "playlist-subgenre" in set(genres.get("source", pd.Series(dtype=object))):
        warnings.append(
            "some genres come from TidyTuesday playlist subgenres: bucket sizes rest on "
            "playlist membership"
        )
    return {
        b: {"whole": int(whole.get(b, 0)), "curated": int(cur.get(b, 0))}
        for b in [*order, *[b for b in whole.index if b not in order]]
    }


def _bucket_figure(buckets: dict[str, dict[str, int]], out: Path, genres: pd.DataFrame) -> dict:
    names = list(buckets)
    figure = Figure(figsize=(8, max(3.5, 0.4 * len(names) + 1.5)), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    y = np.arange(len(names))
    axes.barh(
        y - 0.2, [buckets[n]["whole"] for n in names], 0.4, color=WHOLE, label="whole catalogue"
    )
    axes.barh(
        y + 0.2, [buckets[n]["curated"] for n in names], 0.4, color=CURATED, label="curated set"
    )
    axes.set_yticks(y, names)
    axes.invert_yaxis()
    axes.set_xlabel("tracks (a track counts in each bucket of its genres)")
    axes.set_title("Genre bucket sizes: whole catalogue vs curated set")
    axes.legend(frameon=False)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "buckets.png")
    with_genre = genres["track_id"].nunique()
    origin = genres.get("origin", pd.Series(dtype=object))
    own = genres.loc[origin == "track", "track_id"].nunique()
    caption = (
        f"Tracks per genre bucket; {with_genre:,} tracks have at least one genre, "
        f"{own:,} of them their own (the rest their artists'). A track belongs to every "
        "bucket of any of its own genres, or of its artists' when it has none."
    )
    return {"file": "buckets.png", "title": "Genre buckets", "caption": caption}


def _index(result: EdaResult, curated: CurationResult, out: Path) -> Path:
    rows = "".join(
        f"<tr><td>{html.escape(s.name)}</td><td>{html.escape(s.rule)}</td>"
        f"<td>{s.rows_in:,}</td><td>{s.rows_out:,}</td><td>{s.dropped:,}</td>"
        f"<td>{html.escape(_detail(s.detail))}</td></tr>"
        for s in curated.funnel
    )
    sources = ", ".join(f"{k}: {v:,}" for k, v in curated.popularity_sources.items())
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
    figures = "".join(
        f'<figure><img src="{html.escape(f["file"])}" alt="{html.escape(f["title"])}">'
        f"<figcaption>{html.escape(f['caption'])}</figcaption></figure>"
        for f in result.figures
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tunecluster EDA</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 60em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3em .6em; }}
td:nth-child(n+3):nth-child(-n+5) {{ text-align: right; }}
figure {{ margin: 2em 0; }} img {{ max-width: 100%; }} figcaption {{ color: #444; }}
</style></head><body>
<h1>Catalogue and curated training set</h1>
<p>{curated.rows_in:,} tracks in the catalogue, {curated.rows_out:,} in the curated set
(fingerprint <code>{curated.fingerprint[:16]}</code>). Popularity used for the floor, by
source: {sources}.</p>
<h2>Curation funnel</h2>
<table><tr><th>filter</th><th>rule</th><th>rows in</th><th>rows out</th><th>dropped</th>
<th>detail</th></tr>{rows}</table>
{f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else ""}
<h2>Figures</h2>{figures}
</body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _detail(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:,}" for k, v in value.items()) or "none"
        elif isinstance(value, int | float):
            value = f"{value:,.0f}"
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)
