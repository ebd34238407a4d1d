"""MPD ingest on generated slices in the real format: counts checked against the JSON,
truncated files, num_tracks mismatches, odd entries, resuming after an interruption."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

from pipeline.mpd import columnar
from pipeline.mpd import ingest as ingest_module
from pipeline.mpd.ingest import ingest_mpd, slice_paths
from pipeline.mpd.slice_data import SliceData
from pipeline.mpd.synthetic import Universe, slice_document, slice_name
from pipeline.mpd.tolerant import read_any
from sql import catalogue
from sql.database import Database
from sql.errors import TuneclusterError
from sql.schema import CATALOGUE_TABLES, metadata, source_file
from tests.support.cli import run_cli, settings_env
from tests.support.databases import clear_mysql

SMALL = Universe(size=400, seed=3)
PLAYLISTS = 12


def write_slice(folder: Path, index: int, mutate: Callable[[dict], None] | None = None) -> Path:
    doc = slice_document(index, playlists=PLAYLISTS, mean_tracks=9, universe=SMALL)
    if mutate:
        mutate(doc)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / slice_name(index, PLAYLISTS)
    path.write_text(json.dumps(doc, indent=4, ensure_ascii=False), encoding="utf-8")
    return path


def expected(paths: list[Path]) -> dict[str, int]:
    """Counts computed straight from the JSON, the way a reader of the format would."""
    tracks, artists, albums, playlists, entries = set(), set(), set(), set(), 0
    for path in paths:
        for p in json.loads(path.read_text())["playlists"]:
            playlists.add(p["pid"])
            for t in p["tracks"]:
                uri = t.get("track_uri", "")
                if not uri.startswith("spotify:track:"):
                    continue
                entries += 1
                tracks.add(uri)
                artists.add(t["artist_uri"])
                albums.add(t["album_uri"])
    return {
        "track": len(tracks),
        "artist": len(artists),
        "album": len(albums),
        "artist_track": len(tracks),
        "playlist": len(playlists),
        "playlist_track": entries,
    }


async def counts(db: Database) -> dict[str, int]:
    async with db.connection() as conn:
        found = await catalogue.counts(conn, ["track", "artist", "album", "artist_track"])
        found |= await catalogue.counts(conn, ["playlist", "playlist_track"])
    return found


async def dump(db: Database) -> dict[str, list[tuple]]:
    """Every catalogue row (timestamps aside), sorted: two equal dumps = same catalogue."""
    out = {}
    async with db.connection() as conn:
        for name in (*CATALOGUE_TABLES, "source_file"):
            table = metadata.tables[name]
            columns = [
                c for c in table.c if c.name not in ("created_at", "updated_at", "finished_at")
            ]
            rows = await conn.execute(select(*columns))
            out[name] = sorted(tuple(r) for r in rows)
    return out


async def test_ingest_matches_the_json(db: Database, tmp_path: Path) -> None:
    paths = [write_slice(tmp_path, i) for i in range(3)]
    report = await ingest_mpd(db, [tmp_path], workers=0)
    want = expected(paths)
    assert await counts(db) == want
    assert report.ingested == [p.name for p in paths]
    assert report.playlists == 3 * PLAYLISTS
    assert report.entries == want["playlist_track"]
    assert report.tracks_new == want["track"]
    assert (report.num_tracks_mismatch, report.failed) == (0, {})
    # Positions follow the list order; ids are the URIs without their prefix.
    first = json.loads(paths[0].read_text())["playlists"][0]
    async with db.connection() as conn:
        stored = await catalogue.playlist_tracks(conn, "mpd:0000000")
        names = await catalogue.get_playlists(conn, ["mpd:0000000"])
    assert stored == [t["track_uri"].removeprefix("spotify:track:") for t in first["tracks"]]
    assert names["mpd:0000000"]["name"] == first["name"]
    assert names["mpd:0000000"]["collaborative"] is True  # the string "true"


async def test_rerun_skips_finished_slices(db: Database, tmp_path: Path) -> None:
    for i in range(2):
        write_slice(tmp_path, i)
    await ingest_mpd(db, [tmp_path], workers=0)
    before = await dump(db)
    again = await ingest_mpd(db, [tmp_path], workers=0)
    assert again.ingested == [] and len(again.already_done) == 2
    assert await dump(db) == before


async def test_truncated_slice_is_reported_and_the_rest_continue(
    db: Database, tmp_path: Path
) -> None:
    good = [write_slice(tmp_path, i) for i in (0, 2)]
    broken = write_slice(tmp_path, 1)
    whole = broken.read_bytes()
    broken.write_bytes(whole[: len(whole) // 2])
    report = await ingest_mpd(db, [tmp_path], workers=0)
    assert report.ingested == [good[0].name, good[1].name]
    assert list(report.failed) == [broken.name]
    assert report.failed[broken.name].startswith("not valid JSON (truncated or corrupt?)")
    assert await counts(db) == expected(good)
    async with db.connection() as conn:
        status = dict((await conn.execute(select(source_file.c.name, source_file.c.status))).all())
    assert status == {good[0].name: "done", broken.name: "failed", good[1].name: "done"}

    broken.write_bytes(whole)  # the download is repaired: the rerun takes only that slice
    rerun = await ingest_mpd(db, [tmp_path], workers=0)
    assert rerun.ingested == [broken.name] and rerun.failed == {}
    assert await counts(db) == expected([*good, broken])


async def test_odd_entries_and_num_tracks_mismatch(db: Database, tmp_path: Path) -> None:
    def mutate(doc: dict) -> None:
        playlists = doc["playlists"]
        playlists[0]["num_tracks"] += 5  # disagrees with the list
        playlists[1]["num_tracks"] = 0
        playlists[2]["tracks"].insert(
            1,
            {
                "pos": 1,
                "artist_name": "Me",
                "track_uri": "spotify:local:Me:Demo:Song:200",
                "artist_uri": "spotify:local:Me",
                "track_name": "Song",
                "album_uri": "spotify:local:Demo",
                "duration_ms": 200,
                "album_name": "Demo",
            },
        )
        playlists[2]["num_tracks"] += 1  # the local file is listed and counted
        playlists[3]["tracks"][0]["artist_uri"] = "spotify:artist:short"
        playlists[3]["name"] = "Ünïcødé 🎧 — قائمة"

    path = write_slice(tmp_path, 0, mutate)
    report = await ingest_mpd(db, [path], workers=0)
    assert report.num_tracks_mismatch == 2
    assert report.skipped["local file entry (no Spotify id)"] == 1
    assert report.tracks_new_without_artist == 1  # kept, so not among the skipped
    assert not any("without artist" in reason for reason in report.skipped)
    assert report.failed == {}
    doc = json.loads(path.read_text())
    local_skipped = doc["playlists"][2]["tracks"]
    async with db.connection() as conn:
        entries = await catalogue.playlist_tracks(conn, "mpd:0000002")
        names = await catalogue.get_playlists(conn, ["mpd:0000003"])
    assert len(entries) == len(local_skipped) - 1  # positions close up over the local file
    assert names["mpd:0000003"]["name"] == "Ünïcødé 🎧 — قائمة"
    assert (await counts(db))["playlist"] == PLAYLISTS


def _bare(uri: str) -> str:
    return uri.rsplit(":", 1)[1]


async def test_new_counts_rows_inserted_not_rows_sent(db: Database, tmp_path: Path) -> None:
    """Another source stored some of the slices' tracks, artists and albums first: they
    are not new. Every number is checked against the JSON."""
    paths = [write_slice(tmp_path, i) for i in range(3)]
    entries = [
        t for p in paths for pl in json.loads(p.read_text())["playlists"] for t in pl["tracks"]
    ]
    tracks = list(dict.fromkeys(_bare(t["track_uri"]) for t in entries))
    artists = list(dict.fromkeys(_bare(t["artist_uri"]) for t in entries))
    albums = list(dict.fromkeys(_bare(t["album_uri"]) for t in entries))
    async with db.transaction() as conn:
        await catalogue.upsert_tracks(
            conn, [{"track_id": t, "name": "Known", "source": "kaggle-tracks"} for t in tracks[:7]]
        )
        await catalogue.upsert_artists(
            conn, [{"artist_id": a, "name": "Known", "source": "seed-csv"} for a in artists[:4]]
        )
        await catalogue.upsert_albums(
            conn, [{"album_id": a, "source": "seed-csv"} for a in albums[:3]]
        )
    report = await ingest_mpd(db, [tmp_path], workers=0)
    want = expected(paths)
    assert (report.tracks_new, report.artists_new, report.albums_new) == (
        len(tracks) - 7,
        len(artists) - 4,
        len(albums) - 3,
    )
    assert (len(tracks), len(artists), len(albums)) == (
        want["track"],
        want["artist"],
        want["album"],
    )
    assert sum(s.new_tracks for s in report.slices) == report.tracks_new
    assert report.entries == want["playlist_track"] == len(entries)
    assert (report.tracks_new_without_artist, dict(report.skipped)) == (0, {})
    async with db.connection() as conn:
        known = await catalogue.get_tracks(conn, tracks[:7])
    assert {t["name"] for t in known.values()} == {"Known"}  # never overwritten

    again = await ingest_mpd(db, [tmp_path], workers=0)  # finished slices: nothing new
    assert (again.tracks_new, again.artists_new, again.albums_new) == (0, 0, 0)


async def test_a_track_without_artist_is_counted_once_and_not_skipped(
    db: Database, tmp_path: Path
) -> None:
    docs = [slice_document(i, playlists=PLAYLISTS, mean_tracks=9, universe=SMALL) for i in (0, 1)]
    uris = [{t["track_uri"] for pl in d["playlists"] for t in pl["tracks"]} for d in docs]
    shared = sorted(uris[0] & uris[1])[0]  # a track both slices hold

    def breaking(doc: dict) -> None:
        for playlist in doc["playlists"]:
            for entry in playlist["tracks"]:
                if entry["track_uri"] == shared:
                    entry["artist_uri"] = "spotify:artist:short"

    paths = [write_slice(tmp_path, i, breaking) for i in (0, 1)]
    report = await ingest_mpd(db, [tmp_path], workers=0)
    assert report.tracks_new_without_artist == 1
    assert dict(report.skipped) == {}
    assert report.tracks_new == expected(paths)["track"]
    async with db.connection() as conn:
        credits = await catalogue.track_artists(conn, [_bare(shared)])
    assert credits == {}


async def test_values_of_the_wrong_type_skip_only_their_playlist(
    db: Database, tmp_path: Path
) -> None:
    def mutate(doc: dict) -> None:
        doc["playlists"][0]["pid"] = "not a number"
        doc["playlists"][1]["tracks"][0]["duration_ms"] = "long"
        doc["playlists"][2]["num_followers"] = 2**40  # beyond the INTEGER column
        doc["playlists"][3]["tracks"][0]["duration_ms"] = -5

    path = write_slice(tmp_path, 0, mutate)
    report = await ingest_mpd(db, [path], workers=0)
    assert report.skipped["malformed playlist (no pid, or a value of the wrong type)"] == 2
    assert report.skipped["malformed entry"] == 2
    assert report.playlists == PLAYLISTS - 2
    assert report.failed == {}


async def test_resumed_run_ends_with_the_same_catalogue(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "slices"
    for i in range(5):
        write_slice(folder, i)
    await ingest_mpd(db, [folder], workers=0)
    uninterrupted = await dump(db)
    await _clear(db)

    # A crash in the middle of slice 2's transaction (after its rows were sent)...
    real_record = ingest_module._record
    crash_at = slice_name(2, PLAYLISTS)

    async def crashing(conn, data, status, detail):
        if data.name == crash_at:
            raise KeyboardInterrupt
        await real_record(conn, data, status, detail)

    monkeypatch.setattr(ingest_module, "_record", crashing)
    with pytest.raises(KeyboardInterrupt):
        await ingest_mpd(db, [folder], workers=0)
    monkeypatch.setattr(ingest_module, "_record", real_record)
    partial = await dump(db)
    assert len(partial["source_file"]) == 2  # slices 0 and 1 landed, 2 rolled back whole
    assert len(partial["playlist"]) == 2 * PLAYLISTS

    # ... and a Ctrl-C between slices of the resumed run, then the final rerun.
    def interrupt(name: str) -> None:
        if name == slice_name(3, PLAYLISTS):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await ingest_mpd(db, [folder], workers=0, after_slice=interrupt)
    final = await ingest_mpd(db, [folder], workers=0)
    assert final.ingested == [slice_name(4, PLAYLISTS)]
    assert await dump(db) == uninterrupted


async def _clear(db: Database) -> None:
    if db.dialect == "mysql":
        await clear_mysql(db)
        return
    async with db.transaction() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())


async def test_parallel_workers_match_inline_parsing(db: Database, tmp_path: Path) -> None:
    paths = [write_slice(tmp_path / "s", i) for i in range(4)]
    report = await ingest_mpd(db, [tmp_path / "s"], workers=2)
    assert report.ingested == [p.name for p in paths]
    parallel = await dump(db)
    await _clear(db)
    await ingest_mpd(db, paths, workers=0)
    assert await dump(db) == parallel
    assert await counts(db) == expected(paths)


async def test_no_playlists_and_export_extracted(db: Database, tmp_path: Path) -> None:
    path = write_slice(tmp_path / "s", 0)
    out = tmp_path / "extracted"
    await ingest_mpd(db, [path], workers=0, playlists=False, export_dir=out)
    found = await counts(db)
    want = expected([path])
    assert (found["playlist"], found["playlist_track"]) == (0, 0)
    assert found["track"] == want["track"]
    extracted = json.loads((out / f"extracted.{path.name}").read_text())
    assert len(extracted) == want["track"]
    entry = json.loads(path.read_text())["playlists"][0]["tracks"][0]
    assert extracted[entry["track_uri"].split(":")[2]] == {
        "track_name": entry["track_name"],
        "artist_name": entry["artist_name"],
        "artist_uri": entry["artist_uri"].split(":")[2],
        "album_name": entry["album_name"],
        "album_uri": entry["album_uri"].split(":")[2],
    }


def test_slice_paths_order_and_errors(tmp_path: Path) -> None:
    for i in (10, 2, 0):
        write_slice(tmp_path, i)
    assert [p.name for p in slice_paths([tmp_path])] == [
        slice_name(0, PLAYLISTS),
        slice_name(2, PLAYLISTS),
        slice_name(10, PLAYLISTS),
    ]
    with pytest.raises(TuneclusterError, match="no such file or folder"):
        slice_paths([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TuneclusterError, match=r"no mpd\.slice\.\*\.json files"):
        slice_paths([tmp_path / "empty"])


def test_cli_ingest_and_resume(tmp_path: Path, sqlite_url: str) -> None:
    for i in range(2):
        write_slice(tmp_path / "mpd", i)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = settings_env(database_url=sqlite_url)
        return run_cli(*args, env=env, cwd=tmp_path, timeout=180)

    assert cli("db", "init").returncode == 0
    first = cli("ingest-mpd", str(tmp_path / "mpd"), "--workers", "2", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["ingested"] == 2
    second = cli("ingest-mpd", str(tmp_path / "mpd"))
    assert second.returncode == 0
    assert "0 slice(s) ingested, 2 already done" in second.stdout
    stored = json.loads(first.stdout)
    want = expected(sorted((tmp_path / "mpd").glob("*.json")))
    assert (stored["tracks_new"], stored["artists_new"]) == (want["track"], want["artist"])
    assert "skipped" not in second.stdout


def _readable(data: SliceData) -> dict:
    """A parsed slice with its tables as rows, for comparisons that show differences."""
    return {k: v.to_pylist() if isinstance(v, pa.Table) else v for k, v in vars(data).items()}


def _both_readers(path: Path) -> tuple[bool, dict, dict]:
    fast = SliceData(name=path.name, size=path.stat().st_size)
    taken = columnar.read_clean(str(path), fast, with_playlists=True)
    tolerant = SliceData(name=path.name, size=path.stat().st_size)
    read_any(str(path), tolerant, with_playlists=True)
    return taken, _readable(fast), _readable(tolerant)


def test_fast_and_tolerant_readers_give_the_same_rows(tmp_path: Path) -> None:
    for i in range(3):
        taken, fast, tolerant = _both_readers(write_slice(tmp_path, i))
        assert taken and fast["tracks"]
        assert fast == tolerant


def _entry(doc: dict, playlist: int = 0, entry: int = 0) -> dict:
    """The first entry of the file by default: the first of its track, artist and album."""
    return doc["playlists"][playlist]["tracks"][entry]


# Each edit makes a slice the fast reader must either read exactly like the tolerant
# one (True) or leave to it untouched (False).
EDITS: dict[str, tuple[bool, Callable[[dict], None]]] = {
    "no track name": (True, lambda d: _entry(d).update(track_name=None)),
    "no album name": (True, lambda d: _entry(d).update(album_name=None)),
    "no duration": (True, lambda d: _entry(d).pop("duration_ms")),
    "no num_tracks": (True, lambda d: d["playlists"][0].pop("num_tracks")),
    "extra keys": (True, lambda d: _entry(d).update(added_by="someone", pos=99)),
    "local file": (False, lambda d: _entry(d).update(track_uri="spotify:local:a:b:c:200")),
    "short artist id": (False, lambda d: _entry(d).update(artist_uri="spotify:artist:short")),
    "album id not base62": (
        False,
        lambda d: _entry(d).update(album_uri="spotify:album:" + "é" * 22),
    ),
    "empty artist name": (False, lambda d: _entry(d).update(artist_name="")),
    "null entry": (False, lambda d: d["playlists"][3]["tracks"].insert(0, None)),
    "no track list": (False, lambda d: d["playlists"][2].pop("tracks")),
    "pid as text": (False, lambda d: d["playlists"][0].update(pid="7")),
    "collaborative as bool": (False, lambda d: d["playlists"][0].update(collaborative=True)),
    "duration beyond INTEGER": (False, lambda d: _entry(d).update(duration_ms=2**40)),
    "followers negative": (False, lambda d: d["playlists"][0].update(num_followers=-1)),
}


@pytest.mark.parametrize("edit", EDITS)
def test_fast_reader_takes_only_what_it_reads_exactly(tmp_path: Path, edit: str) -> None:
    takes, mutate = EDITS[edit]
    taken, fast, tolerant = _both_readers(write_slice(tmp_path, 0, mutate))
    assert taken == takes
    if taken:
        assert fast == tolerant
    else:
        assert fast == _readable(SliceData(name=fast["name"], size=fast["size"]))


@pytest.mark.parametrize(
    "content",
    [b"", b"[]", b'{"playlists": null}', b'{"playlists": [{"pid": 1, "tracks": [', b"{}{}"],
)
def test_fast_reader_declines_what_is_not_a_slice(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / slice_name(0, PLAYLISTS)
    path.write_bytes(content)
    taken, _, tolerant = _both_readers(path)
    assert not taken
    assert tolerant["error"]
