"""The model store: every file of a version's folder round-trips through the database
(both engines) and an S3-compatible service (a loopback fake speaking S3), checked on
the way in; a host that trained nothing serves what another host trained, the previous
version serving while the new one is fetched; pruning and failures clean the store."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from bot.services import train as service
from bot.settings import DEFAULT_FEATURES
from pipeline.curation import CurationFilters
from recommender import bundle as bundles
from recommender import demo_catalogue
from recommender.serving import Options, Recommender
from recommender.store import (
    CHUNK,
    DatabaseStore,
    S3Store,
    StoreConfig,
    StoreError,
    open_store,
)
from sql import model_versions
from sql.database import Database
from sql.schema import model_chunk, model_file
from tests.fakes.s3 import ACCESS_KEY, SECRET_KEY, FakeS3

NO_FILTERS = CurationFilters(
    year_min=None, year_max=None, min_popularity=None, duration_quantile=None
)


@pytest.fixture(scope="module")
def worker() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def _folder(root: Path) -> Path:
    """A version folder as the lead's bundles may grow: several files, one over two
    chunks, one in a subfolder, one empty."""
    folder = root / "20260101-000000000-abcdef12"
    (folder / "assoc").mkdir(parents=True)
    (folder / "bundle.joblib").write_bytes(os.urandom(2 * CHUNK + 12345))
    (folder / "meta.json").write_text('{"version": "x"}\n')
    (folder / "assoc" / "pairs.npy").write_bytes(os.urandom(3000))
    (folder / "empty.bin").write_bytes(b"")
    return folder


def _same_tree(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    other = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    return files == other and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


async def _round_trip(store, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "hostA")
    version = folder.name
    stored = await store.put(version, folder)
    assert {f.name for f in stored} == {
        "bundle.joblib",
        "meta.json",
        "assoc/pairs.npy",
        "empty.bin",
    }
    assert version in await store.versions()

    fetched = await store.fetch(version, tmp_path / "hostB")
    assert fetched == tmp_path / "hostB" / version
    assert _same_tree(folder, fetched)
    assert [p.name for p in (tmp_path / "hostB").iterdir()] == [version]  # no staging left

    again = await store.put(version, folder)  # a rerun replaces, never duplicates
    assert again == stored
    await store.delete(version)
    assert await store.versions() == set()
    assert await store.manifest(version) is None
    with pytest.raises(StoreError, match="not in the"):
        await store.fetch(version, tmp_path / "hostC")


async def test_database_store_round_trip(db: Database, tmp_path: Path) -> None:
    store = DatabaseStore(db)
    await _round_trip(store, tmp_path)
    async with db.connection() as conn:
        for table in (model_file, model_chunk):
            assert await conn.scalar(select(func.count()).select_from(table)) == 0


async def test_database_store_chunks_stay_small_and_are_checked(
    db: Database, tmp_path: Path
) -> None:
    store = DatabaseStore(db)
    folder = _folder(tmp_path / "hostA")
    await store.put(folder.name, folder)
    async with db.connection() as conn:
        largest = await conn.scalar(select(func.max(func.length(model_chunk.c.data))))
        chunks = await conn.scalar(
            select(func.count())
            .select_from(model_chunk)
            .where(model_chunk.c.name == "bundle.joblib")
        )
    assert largest == CHUNK and chunks == 3  # 2 MiB + 12,345 bytes: three 1 MiB chunks
    async with db.transaction() as conn:  # one byte flipped in the store
        await conn.execute(
            model_chunk.update()
            .where(model_chunk.c.name == "bundle.joblib", model_chunk.c.seq == 1)
            .values(data=b"\0" * CHUNK)
        )
    with pytest.raises(StoreError, match=r"bundle\.joblib fails its checksum"):
        await store.fetch(folder.name, tmp_path / "hostB")
    assert list((tmp_path / "hostB").iterdir()) == []  # nothing half-fetched left behind


async def test_s3_store_round_trip_and_checksum(tmp_path: Path) -> None:
    async with FakeS3(page=2) as s3:  # a page of 2 keys: listing must follow continuations
        store = open_store(_s3_config(s3), db=None)  # type: ignore[arg-type]
        assert isinstance(store, S3Store)
        await _round_trip(store, tmp_path / "round")
        assert s3.requests["PUT"] >= 5 and s3.requests["GET"] > 0

        folder = _folder(tmp_path / "hostA")
        await store.put(folder.name, folder)
        key = f"models/{folder.name}/bundle.joblib"
        s3.objects["models"][key] = s3.objects["models"][key][:-1] + b"!"
        with pytest.raises(StoreError, match="fails its checksum"):
            await store.fetch(folder.name, tmp_path / "hostB")

        wrong = open_store(_s3_config(s3, bucket="absent"), db=None)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="NoSuchBucket"):
            await wrong.versions()
    with pytest.raises(StoreError, match="unreachable"):
        await store.versions()  # the service is gone: one line


def _s3_config(s3: FakeS3, bucket: str = "models") -> StoreConfig:
    return StoreConfig(
        kind="s3",
        s3_bucket=bucket,
        s3_prefix="models/",
        s3_endpoint_url=s3.url,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
    )


# --- across hosts -------------------------------------------------------------------------------


def _settings(models_dir: Path, store: StoreConfig | None = None) -> service.TrainSettings:
    return service.TrainSettings(
        models_dir=models_dir,
        models_keep=2,
        features=DEFAULT_FEATURES,
        k_max=8,
        curation=NO_FILTERS,
        store=store or StoreConfig(),
    )


async def _serve(recommender: Recommender, db: Database, track_id: str) -> str:
    async with db.connection() as conn:
        result = await recommender.recommend(
            conn, track_id, Options(n=2), rng=np.random.default_rng(0)
        )
    assert result.picks
    return result.version


async def _host_b_follows_host_a(db: Database, tmp_path: Path, worker, store_config) -> None:
    catalogue = demo_catalogue.generate(900, seed=3)
    await demo_catalogue.write(db, catalogue)
    seed = catalogue.tracks[0]["track_id"]
    host_a = _settings(tmp_path / "hostA", store_config)
    first = (await service.train(db, host_a, executor=worker)).version

    store = open_store(store_config, db)
    host_b = Recommender(tmp_path / "hostB", store)
    assert await _serve(host_b, db, seed) == first  # nothing loaded: it waits for the fetch
    assert bundles.on_disk(tmp_path / "hostB") == [first]

    second = await service.train(db, host_a, executor=worker)
    assert await store.versions() == {first, second.version}
    # The first answer after the switch is still the loaded version, while the new one
    # is fetched in the background; once it is in, the new version serves.
    assert await _serve(host_b, db, seed) == first
    fetching = list(host_b.loader._fetching.values())
    if fetching:
        await asyncio.wait(fetching)
    assert await _serve(host_b, db, seed) == second.version

    third = await service.train(db, host_a, executor=worker)
    assert third.pruned == [first]  # keep=2: the first version leaves the store too
    assert await store.versions() == {second.version, third.version}
    await _serve(host_b, db, seed)
    fetching = list(host_b.loader._fetching.values())
    if fetching:
        await asyncio.wait(fetching)
    assert await _serve(host_b, db, seed) == third.version
    # host B's cache follows the store: the pruned version is gone from it as well
    assert bundles.on_disk(tmp_path / "hostB") == sorted([second.version, third.version])


async def test_a_host_serves_what_another_trained_database_store(
    db: Database, tmp_path: Path, worker
) -> None:
    await _host_b_follows_host_a(db, tmp_path, worker, StoreConfig())


async def test_a_host_serves_what_another_trained_s3_store(
    db: Database, tmp_path: Path, worker
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("the S3 case is engine-independent: once is enough")
    async with FakeS3() as s3:
        await _host_b_follows_host_a(db, tmp_path, worker, _s3_config(s3))
        assert all(k.startswith("models/") for k in s3.objects["models"])


async def test_a_version_missing_everywhere_is_one_line(db: Database, tmp_path: Path) -> None:
    async with db.transaction() as conn:
        await model_versions.insert_model_version(
            conn, "v-gone", fingerprint="f", path="database:v-gone"
        )
        await model_versions.finish_model_version(conn, "v-gone", status="ready")
        await model_versions.set_active_version(conn, "v-gone")
    recommender = Recommender(tmp_path / "hostB", DatabaseStore(db))
    with pytest.raises(StoreError, match="not in the database model store") as raised:
        async with db.connection() as conn:
            await recommender.active(conn)
    assert "\n" not in str(raised.value) and str(tmp_path) not in str(raised.value)
