"""`kill -9` of `train`, `ingest-mpd` and `import` at several points, then a rerun: the
same database as an uninterrupted run, no version left `training`, no orphaned rows,
folders, stored objects or processes. Each kill waits for a condition (a worker process
exists, rows have landed), never for a fixed time."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from pipeline.mpd.synthetic import write_slices
from recommender import bundle as bundles
from recommender import demo_catalogue
from sql import model_versions
from sql.database import Database
from sql.migrate import init_schema
from sql.schema import (
    CATALOGUE_TABLES,
    cluster,
    metadata,
    model_chunk,
    model_file,
    track_cluster,
)
from tests.support.cli import settings_env
from tests.support.jobs import until

GUARD = 300  # seconds: only a hang or a lost condition reaches it
TIMES = {"created_at", "updated_at", "finished_at", "fetched_at", "checked_at"}


def _env(url: str, models_dir: Path) -> dict[str, str]:
    return settings_env(
        database_url=url,
        models_dir=models_dir,
        curate_year_min=1900,
        curate_year_max=2100,
        curate_min_popularity=0,
        curate_duration_quantile=1,
        k_max=8,
        models_keep=1,
    )


async def _cli(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _finish(process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(GUARD):
        _, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-2000:]


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (workers, the resource tracker)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def _kill_when(
    process: asyncio.subprocess.Process, condition: Callable[[], Awaitable[bool] | bool], what: str
) -> set[int]:
    """SIGKILL `process` once `condition` holds; returns the descendants it had then,
    and waits until every one of them is gone (they must not outlive it)."""
    await until(condition, GUARD, what)
    descendants = _children(process.pid)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    await until(lambda: not any(_alive(p) for p in descendants), GUARD, "the workers to exit")
    return descendants


async def _count(url: str, query) -> int:
    db = Database(url)
    try:
        async with db.connection() as conn:
            return int(await conn.scalar(query) or 0)
    except Exception:  # the file is being created or locked: not yet
        return 0
    finally:
        await db.dispose()


async def _snapshot(url: str, tables: tuple[str, ...]) -> dict[str, list[tuple]]:
    """Every row of `tables`, without timestamps, sorted: what "the same database" means."""
    db = Database(url)
    try:
        out = {}
        async with db.connection() as conn:
            for name in tables:
                table = metadata.tables[name]
                columns = [c for c in table.c if c.name not in TIMES]
                rows = (await conn.execute(select(*columns))).all()
                out[name] = sorted(tuple(r) for r in rows)
        return out
    finally:
        await db.dispose()


async def _fresh(tmp_path: Path, name: str) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / name}"
    db = Database(url)
    await init_schema(db)
    await db.dispose()
    return url


# --- train --------------------------------------------------------------------------------------


async def _assignments(url: str) -> list[tuple]:
    db = Database(url)
    try:
        async with db.connection() as conn:
            active = await model_versions.active_version(conn)
            rows = (
                await conn.execute(
                    select(
                        track_cluster.c.bucket,
                        track_cluster.c.cluster,
                        track_cluster.c.position,
                        track_cluster.c.track_id,
                    ).where(track_cluster.c.model_version == active)
                )
            ).all()
        return sorted(tuple(r) for r in rows)
    finally:
        await db.dispose()


async def _nothing_left(url: str, models_dir: Path) -> None:
    db = Database(url)
    try:
        async with db.connection() as conn:
            versions = {r["version"]: r for r in await model_versions.list_model_versions(conn)}
            ready = {v for v, r in versions.items() if r["status"] == "ready"}
            assert not [v for v, r in versions.items() if r["status"] == "training"]
            for table in (cluster, track_cluster, model_file, model_chunk):
                found = set(
                    (await conn.execute(select(table.c.model_version).distinct())).scalars()
                )
                assert found <= ready, (table.name, found - ready)
            failed = [r for r in versions.values() if r["status"] == "failed"]
            assert all("abandoned" in (r["error"] or "") for r in failed), failed
        assert sorted(p.name for p in models_dir.iterdir()) == sorted(ready)  # noqa: ASYNC240
        assert bundles.on_disk(models_dir) == sorted(ready)
    finally:
        await db.dispose()


async def test_killed_trainings_are_cleaned_by_the_next_train(tmp_path: Path) -> None:
    catalogue = demo_catalogue.generate(20000, seed=5)
    urls = {}
    for name in ("reference.db", "crashed.db"):
        urls[name] = await _fresh(tmp_path, name)
        db = Database(urls[name])
        await demo_catalogue.write(db, catalogue)
        await db.dispose()

    reference_models = tmp_path / "reference-models"
    await _finish(await _cli(_env(urls["reference.db"], reference_models), tmp_path, "train"))
    expected = await _assignments(urls["reference.db"])
    assert expected

    url = urls["crashed.db"]
    models_dir = tmp_path / "models"
    env = _env(url, models_dir)

    async def new_version(known: set[str]) -> str | None:
        db = Database(url)
        try:
            async with db.connection() as conn:
                rows = await model_versions.list_model_versions(conn)
        except Exception:  # locked for a moment
            return None
        finally:
            await db.dispose()
        fresh = [r["version"] for r in rows if r["version"] not in known]
        return fresh[0] if fresh and rows[0]["status"] == "training" else None

    def rows_of(table, version: str):
        return select(func.count()).select_from(table).where(table.c.model_version == version)

    async def fitting(version: str) -> bool:  # the worker process is there
        return any("multiprocessing" in _cmdline(p) for p in _children(process.pid))

    async def storing(version: str) -> bool:  # the bundle is on its way into the store
        return bool(await _count(url, rows_of(model_chunk, version)))

    async def writing(version: str) -> bool:  # assignments are landing
        return bool(await _count(url, rows_of(track_cluster, version)))

    known: set[str] = set()
    for step, what in ((fitting, "the fit"), (storing, "the store"), (writing, "the writes")):
        process = await _cli(env, tmp_path, "train")
        found: list[str] = []

        async def reached(step=step, found=found) -> bool:
            if not found:
                version = await new_version(known)
                if version is None:
                    return False
                found.append(version)
            return await step(found[0])

        await _kill_when(process, reached, what)
        known.add(found[0])
        async with Database(url) as db, db.connection() as conn:
            row = await model_versions.get_model_version(conn, found[0])
        assert row["status"] == "training", what  # killed mid-way, left `training`

    await _finish(await _cli(env, tmp_path, "train"))
    await _nothing_left(url, models_dir)
    assert await _assignments(url) == expected
    db = Database(url)
    async with db.connection() as conn:
        rows = await model_versions.list_model_versions(conn)
        statuses = [r["status"] for r in rows]
    await db.dispose()
    assert statuses.count("ready") == 1 and statuses.count("failed") == 3, rows
    assert known <= {r["version"] for r in rows if r["status"] == "failed"}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# --- ingest-mpd and import ----------------------------------------------------------------------


async def test_killed_mpd_ingests_leave_no_workers_and_a_rerun_completes(tmp_path: Path) -> None:
    slices = tmp_path / "mpd"
    write_slices(slices, 4, playlists=200)
    reference = await _fresh(tmp_path, "reference.db")
    args = ("ingest-mpd", str(slices), "--workers", "2")
    await _finish(await _cli(_env(reference, tmp_path / "m"), tmp_path, *args))

    url = await _fresh(tmp_path, "crashed.db")
    env = _env(url, tmp_path / "m")
    landed = "SELECT COUNT(*) FROM source_file"

    async def parsing() -> bool:  # both parse workers are up, nothing landed yet
        workers = [p for p in _children(process.pid) if "multiprocessing" in _cmdline(p)]
        return len(workers) >= 2

    async def one_slice() -> bool:
        return await _count(url, text(landed)) >= 1

    for condition, what in ((parsing, "the parse workers"), (one_slice, "a slice to land")):
        process = await _cli(env, tmp_path, *args)
        descendants = await _kill_when(process, condition, what)
        assert len(descendants) >= 3  # two parse workers and the resource tracker

    await _finish(await _cli(env, tmp_path, *args))
    tables = (*CATALOGUE_TABLES, "source_file")
    assert await _snapshot(url, tables) == await _snapshot(reference, tables)


async def test_killed_imports_and_a_rerun_give_the_same_catalogue(
    tmp_path: Path, shared_data: Path
) -> None:
    source = shared_data / "tidytuesday" / "spotify_songs.csv"
    reference = await _fresh(tmp_path, "reference.db")
    args = ("import", "tidytuesday", str(source))
    await _finish(await _cli(_env(reference, tmp_path / "m"), tmp_path, *args))
    total = await _count(reference, text("SELECT COUNT(*) FROM track"))

    url = await _fresh(tmp_path, "crashed.db")
    env = _env(url, tmp_path / "m")
    tracks = text("SELECT COUNT(*) FROM track")

    async def some() -> bool:
        return await _count(url, tracks) > 0

    async def more() -> bool:  # further on than the first kill
        return await _count(url, tracks) > min(total - 1, 2 * first)

    process = await _cli(env, tmp_path, *args)
    await _kill_when(process, some, "the first tracks")
    first = await _count(url, tracks)
    process = await _cli(env, tmp_path, *args)
    await _kill_when(process, more, "more tracks")

    await _finish(await _cli(env, tmp_path, *args))
    assert await _snapshot(url, CATALOGUE_TABLES) == await _snapshot(reference, CATALOGUE_TABLES)


pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
