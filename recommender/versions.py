"""Activating, rolling back and pruning model versions.

A version may serve only when its bundle is in the model store (recommender/store.py)
and its `model_version` row says `ready` (every assignment written). Activation then switches `app_state` in one
statement, together with the genre → bucket table of its taxonomy; a failure anywhere
before leaves the previous version serving. Pruning keeps the newest `keep` ready
versions plus the active one, removing the others' bundles (store and local cache) and
database rows; a failed version's rows, files and stored objects are removed when it
fails, and `recover` finds the versions a killed training left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recommender import bundle as bundles
from recommender.store import ModelStore, open_store
from sql import catalogue, liveness, model_versions
from sql.database import Database
from sql.errors import TuneclusterError


class VersionError(TuneclusterError):
    """A version that cannot be activated (unknown, not ready, bundle missing)."""


@dataclass(frozen=True)
class Activation:
    version: str
    previous: str | None
    genres_mapped: int


async def ensure_local(store: ModelStore, models_dir: Path, version: str) -> Path:
    """The version's folder in the local cache, fetched (and checked) when absent."""
    folder = bundles.bundle_dir(models_dir, version)
    if not (folder / bundles.BUNDLE_FILE).exists():
        await store.fetch(version, models_dir)
    return folder


async def activate(
    db: Database, models_dir: Path, version: str, store: ModelStore | None = None
) -> Activation:
    """Make `version` the one serving, after checking it is complete."""
    store = store or open_store(None, db)
    async with db.connection() as conn:
        row = await model_versions.get_model_version(conn, version)
        previous = await model_versions.active_version(conn)
    if row is None:
        raise VersionError(f"no model version {version!r} (see `tunecluster train --list`)")
    if row["status"] != "ready":
        raise VersionError(
            f"model version {version} is {row['status']}, not ready: it cannot serve"
        )
    await ensure_local(store, models_dir, version)
    loaded = bundles.load(models_dir, version)  # raises a one-line BundleError if unreadable
    async with db.transaction() as conn:
        names = await catalogue.genre_names(conn)
        mapped = await model_versions.replace_genre_buckets(conn, loaded.taxonomy.mapping(names))
        await model_versions.set_active_version(conn, version)
    return Activation(version, previous, mapped)


async def prune(
    db: Database, models_dir: Path, keep: int, store: ModelStore | None = None
) -> list[str]:
    """Remove versions beyond the newest `keep` ready ones (never the active one), and
    whatever the store holds of versions that are not kept (failed, pruned, unknown)."""
    store = store or open_store(None, db)
    async with db.connection() as conn:
        rows = await model_versions.list_model_versions(conn)
        active = await model_versions.active_version(conn)
    ready = [r["version"] for r in rows if r["status"] == "ready"]  # newest first
    doomed = [v for v in ready[keep:] if v != active]
    for version in doomed:
        async with db.transaction() as conn:
            await model_versions.delete_version_rows(conn, version)
            await model_versions.set_model_status(conn, version, "pruned")
        await store.delete(version)
        bundles.remove(models_dir, version)
    await _clean_store(db, store)
    return doomed


async def _statuses(db: Database) -> dict[str, str]:
    async with db.connection() as conn:
        return {r["version"]: r["status"] for r in await model_versions.list_model_versions(conn)}


async def _clean_store(db: Database, store: ModelStore) -> None:
    """Remove stored versions that are neither ready nor training. The store is listed
    before the statuses are read: a version's row exists before anything it stores, so
    a training that starts meanwhile is never mistaken for a leftover."""
    stored = await store.versions()
    status = await _statuses(db)
    for version in sorted(stored):
        if status.get(version) not in ("ready", "training"):
            await store.delete(version)


async def discard(
    db: Database, models_dir: Path, version: str, error: str, store: ModelStore | None = None
) -> None:
    """Record a failed version and remove what it had written (best effort)."""
    async with db.transaction() as conn:
        await model_versions.delete_version_rows(conn, version)
        await model_versions.finish_model_version(conn, version, status="failed", error=error)
    bundles.remove(models_dir, version)
    await (store or open_store(None, db)).delete(version)


async def remove(
    db: Database, models_dir: Path, version: str, store: ModelStore | None = None
) -> None:
    """Remove a version that was never meant to serve (the evaluation's)."""
    async with db.transaction() as conn:
        await model_versions.delete_version_rows(conn, version)
        await model_versions.set_model_status(conn, version, "pruned")
    bundles.remove(models_dir, version)
    await (store or open_store(None, db)).delete(version)


async def recover(db: Database, models_dir: Path, store: ModelStore | None = None) -> list[str]:
    """Clean what killed or failed trainings left behind; returns the versions closed.

    A version still `training` whose process is gone (its `train:<version>` lease
    expired, or its process id vanished from this host) is marked failed, its rows,
    folders and stored objects removed; rows of versions that are neither ready nor
    training, their local folders, and the staging folders of dead processes go too.
    """
    store = store or open_store(None, db)
    async with db.connection() as conn:
        rows = await model_versions.list_model_versions(conn)
        alive = await liveness.alive_names(conn, "train:")
    status = {r["version"]: r["status"] for r in rows}
    dead = [v for v, s in status.items() if s == "training" and f"train:{v}" not in alive]
    for version in dead:
        await discard(db, models_dir, version, "abandoned: the training process stopped", store)
        status[version] = "failed"
    async with db.transaction() as conn:
        await liveness.drop(conn, [f"train:{v}" for v in dead])
    # Leftovers: what is listed first, the statuses read after (see _clean_store).
    entries = _listing(Path(models_dir))
    async with db.transaction() as conn:
        with_rows = await model_versions.versions_with_rows(conn)
        status = {r["version"]: r["status"] for r in await model_versions.list_model_versions(conn)}
        for version in with_rows:
            if status.get(version) not in ("ready", "training"):
                await model_versions.delete_version_rows(conn, version)
    await _clean_store(db, store)
    _clean_folders(entries, status)
    return dead


def _listing(root: Path) -> list[Path]:
    return list(root.iterdir()) if root.is_dir() else []


def _clean_folders(entries: list[Path], status: dict[str, str]) -> None:
    """Local folders of failed or pruned versions, and staging left by dead processes."""
    for entry in entries:
        name = entry.name
        if name.startswith(".") and ".fetch-" in name:  # .<version>.fetch-<pid>
            version, pid = name[1:].rsplit(".fetch-", 1)
            gone = not pid.isdigit() or liveness.pid_gone(int(pid))
            if gone or status.get(version) not in ("ready", None):
                bundles.remove_path(entry)
        elif name.startswith(".") and name.endswith(".partial"):  # a save cut short
            if status.get(name[1 : -len(".partial")]) != "training":
                bundles.remove_path(entry)
        elif status.get(name) in ("failed", "pruned"):
            bundles.remove_path(entry)
