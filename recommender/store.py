"""The model store: every process, on every host, can read every version's bundle.

Training writes a version's folder (`models/<version>/`, every file in it, whatever the
bundle holds) to the store before the version may be marked `ready`; a process that
lacks a version fetches it into its local cache (`TUNECLUSTER_MODELS_DIR`), checks every
file's size and SHA-256, and only then renames it into place. Pruning removes a version
from the store as well as from the local cache.

Two backends share that logic:

* `DatabaseStore` (the default): files cut into 1 MiB chunks in `model_chunk`, far
  inside MariaDB's default `max_allowed_packet` (16 MiB), one chunk per statement,
  streamed in both directions; the `model_file` rows (the manifest) are written last.
* `S3Store`: one object per file under `<prefix><version>/`, and a manifest object
  written last, on any S3-compatible service (AWS, MinIO, Ceph, R2...).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sql import model_store as queries
from sql.database import Database
from sql.errors import TuneclusterError

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # 1 MiB: a database chunk, and the read size everywhere
CHUNKS_PER_TRANSACTION = 16
MANIFEST = ".manifest.json"  # the S3 backend's manifest object, written last


class StoreError(TuneclusterError):
    """The model store cannot be read or written, or a fetched file fails its checksum."""


@dataclass(frozen=True)
class StoredFile:
    name: str  # relative to the version's folder, with forward slashes
    size: int
    sha256: str
    chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256, "chunks": self.chunks}


@dataclass(frozen=True)
class StoreConfig:
    """Where bundles are shared: `database` (default) or `s3`."""

    kind: str = "database"
    s3_bucket: str | None = None
    s3_prefix: str = "tunecluster/models/"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> StoreConfig:
        secret = getattr(settings, "s3_secret_access_key", None)
        return cls(
            kind=getattr(settings, "model_store", "database"),
            s3_bucket=getattr(settings, "s3_bucket", None),
            s3_prefix=getattr(settings, "s3_prefix", cls.s3_prefix),
            s3_endpoint_url=getattr(settings, "s3_endpoint_url", None),
            s3_region=getattr(settings, "s3_region", cls.s3_region),
            s3_access_key_id=getattr(settings, "s3_access_key_id", None),
            s3_secret_access_key=secret.get_secret_value() if secret is not None else None,
        )


def open_store(config: StoreConfig | None, db: Database) -> ModelStore:
    config = config or StoreConfig()
    if config.kind == "s3":
        if not config.s3_bucket:
            raise StoreError("TUNECLUSTER_MODEL_STORE is s3 but TUNECLUSTER_S3_BUCKET is not set")
        return S3Store(config)
    return DatabaseStore(db)


def model_store(settings: Any, db: Database) -> ModelStore:
    """The store the settings name (`TUNECLUSTER_MODEL_STORE`)."""
    return open_store(StoreConfig.from_settings(settings), db)


# --- the folder -------------------------------------------------------------------------------


def folder_files(folder: Path) -> list[StoredFile]:
    """Every file under `folder` (recursively, hidden ones too), with size and SHA-256."""
    found = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
                size += len(block)
        name = path.relative_to(folder).as_posix()
        found.append(StoredFile(name, size, digest.hexdigest(), -(-size // CHUNK)))
    return found


def _write_block(handle: BinaryIO, digest: Any, block: bytes) -> None:
    digest.update(block)
    handle.write(block)


# --- the common logic ---------------------------------------------------------------------------


class ModelStore:
    """What every backend provides; `put` and `fetch` are the same for all of them."""

    kind = "abstract"

    async def put(self, version: str, folder: Path) -> list[StoredFile]:
        """Copy every file of `folder` into the store as `version` (replacing any part)."""
        files = await asyncio.to_thread(folder_files, Path(folder))
        if not files:
            raise StoreError(f"model bundle {version} has no files to store")
        async with self.scope():
            await self.delete(version)
            for stored in files:
                await self._write(version, stored, Path(folder) / stored.name)
            await self._commit(version, files)
        return files

    async def fetch(self, version: str, models_dir: Path) -> Path:
        """Copy `version` into the local cache, each file checked; returns its folder."""
        async with self.scope():
            return await self._fetch(version, Path(models_dir))

    async def _fetch(self, version: str, root: Path) -> Path:
        files = await self.manifest(version)
        if files is None:
            raise StoreError(f"model bundle {version} is not in the {self.kind} model store")
        final = root / version
        staging = root / f".{version}.fetch-{os.getpid()}"
        await asyncio.to_thread(shutil.rmtree, staging, True)
        staging.mkdir(parents=True)
        try:
            for stored in files:
                await self._fetch_file(version, stored, staging / stored.name)
            if not final.exists():
                with contextlib.suppress(OSError):  # another process on this cache won
                    staging.rename(final)
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)
        return final

    async def _fetch_file(self, version: str, stored: StoredFile, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with target.open("wb") as handle:
            async for block in self._read(version, stored):
                await asyncio.to_thread(_write_block, handle, digest, block)
                size += len(block)
        if size != stored.size or digest.hexdigest() != stored.sha256:
            raise StoreError(
                f"model bundle {version}: {stored.name} fails its checksum in the "
                f"{self.kind} model store ({size} bytes read, {stored.size} expected)"
            )

    # backends
    @contextlib.asynccontextmanager
    async def scope(self) -> AsyncIterator[None]:
        """One connection (client) for the several requests of one operation."""
        yield

    async def manifest(self, version: str) -> list[StoredFile] | None:
        raise NotImplementedError

    async def versions(self) -> set[str]:
        """Every version with anything stored (complete or not)."""
        raise NotImplementedError

    async def delete(self, version: str) -> None:
        raise NotImplementedError

    def where(self, version: str) -> str:
        raise NotImplementedError

    async def _write(self, version: str, stored: StoredFile, path: Path) -> None:
        raise NotImplementedError

    async def _commit(self, version: str, files: list[StoredFile]) -> None:
        raise NotImplementedError

    def _read(self, version: str, stored: StoredFile) -> AsyncIterator[bytes]:
        raise NotImplementedError


# --- in the database ------------------------------------------------------------------------------


class DatabaseStore(ModelStore):
    kind = "database"

    def __init__(self, db: Database) -> None:
        self.db = db

    def where(self, version: str) -> str:
        return f"database:{version}"

    async def _write(self, version: str, stored: StoredFile, path: Path) -> None:
        with path.open("rb") as handle:
            seq = 0
            while True:
                blocks = []
                for _ in range(CHUNKS_PER_TRANSACTION):
                    block = await asyncio.to_thread(handle.read, CHUNK)
                    if not block:
                        break
                    blocks.append(block)
                if not blocks:
                    break
                async with self.db.transaction() as conn:
                    for block in blocks:
                        await queries.put_chunk(conn, version, stored.name, seq, block)
                        seq += 1
                if len(blocks) < CHUNKS_PER_TRANSACTION:
                    break

    async def _commit(self, version: str, files: list[StoredFile]) -> None:
        async with self.db.transaction() as conn:
            await queries.put_files(conn, version, [f.to_dict() for f in files])

    async def manifest(self, version: str) -> list[StoredFile] | None:
        async with self.db.connection() as conn:
            rows = await queries.files(conn, version)
        return [StoredFile(**r) for r in rows] or None

    async def _read(self, version: str, stored: StoredFile) -> AsyncIterator[bytes]:
        for seq in range(stored.chunks):
            async with self.db.connection() as conn:
                block = await queries.chunk(conn, version, stored.name, seq)
            if block is None:
                raise StoreError(f"model bundle {version}: chunk {seq} of {stored.name} is missing")
            yield bytes(block)

    async def versions(self) -> set[str]:
        async with self.db.connection() as conn:
            return await queries.stored_versions(conn)

    async def delete(self, version: str) -> None:
        """The manifest first (the version is no longer complete), then the chunks in
        small transactions."""
        async with self.db.transaction() as conn:
            await queries.delete_manifest(conn, version)
            keys = await queries.chunk_keys(conn, version)
        tops: dict[str, int] = {}
        for name, seq in keys:
            tops[name] = max(tops.get(name, 0), seq + 1)
        for name, top in tops.items():
            for upto in range(
                CHUNKS_PER_TRANSACTION, top + CHUNKS_PER_TRANSACTION, CHUNKS_PER_TRANSACTION
            ):
                async with self.db.transaction() as conn:
                    await queries.delete_chunks(conn, version, name, upto)


# --- on an S3-compatible service ------------------------------------------------------------------


_S3_CLIENT: contextvars.ContextVar[Any] = contextvars.ContextVar("s3_client", default=None)


class S3Store(ModelStore):
    kind = "S3"

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.bucket = config.s3_bucket or ""
        self.prefix = config.s3_prefix
        self._session: Any = None  # one botocore session: its service model loads once

    def where(self, version: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{version}/"

    def _key(self, version: str, name: str) -> str:
        return f"{self.prefix}{version}/{name}"

    @contextlib.asynccontextmanager
    async def scope(self) -> AsyncIterator[None]:
        if _S3_CLIENT.get() is not None:
            yield
            return
        async with self._client() as client:
            token = _S3_CLIENT.set(client)
            try:
                yield
            finally:
                _S3_CLIENT.reset(token)

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[Any]:
        shared = _S3_CLIENT.get()
        if shared is not None:  # inside `scope`: errors are translated by the outer one
            yield shared
            return
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session
        from botocore.exceptions import BotoCoreError, ClientError

        config = AioConfig(
            s3={"addressing_style": "path"} if self.config.s3_endpoint_url else {},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        if self._session is None:
            self._session = get_session()
        try:
            async with self._session.create_client(
                "s3",
                region_name=self.config.s3_region,
                endpoint_url=self.config.s3_endpoint_url,
                aws_access_key_id=self.config.s3_access_key_id,
                aws_secret_access_key=self.config.s3_secret_access_key,
                config=config,
            ) as client:
                yield client
        except ClientError as error:
            detail = error.response.get("Error", {})
            raise StoreError(
                f"the S3 model store at {self.where('')} answered "
                f"{detail.get('Code', '?')}: {detail.get('Message', '')}".rstrip(": ")
            ) from None
        except (BotoCoreError, OSError) as error:
            raise StoreError(f"the S3 model store is unreachable: {error}") from None

    async def _write(self, version: str, stored: StoredFile, path: Path) -> None:
        async with self._client() as client:
            with path.open("rb") as body:
                await client.put_object(
                    Bucket=self.bucket, Key=self._key(version, stored.name), Body=body
                )

    async def _commit(self, version: str, files: list[StoredFile]) -> None:
        body = json.dumps({"version": version, "files": [f.to_dict() for f in files]})
        async with self._client() as client:
            await client.put_object(
                Bucket=self.bucket, Key=self._key(version, MANIFEST), Body=body.encode()
            )

    async def manifest(self, version: str) -> list[StoredFile] | None:
        from botocore.exceptions import ClientError

        async with self._client() as client:
            try:
                answer = await client.get_object(
                    Bucket=self.bucket, Key=self._key(version, MANIFEST)
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            async with answer["Body"] as body:
                content = json.loads(await body.read())
        return [StoredFile(**f) for f in content["files"]]

    async def _read(self, version: str, stored: StoredFile) -> AsyncIterator[bytes]:
        async with self._client() as client:
            answer = await client.get_object(
                Bucket=self.bucket, Key=self._key(version, stored.name)
            )
            async with answer["Body"] as body:
                async for block in body.iter_chunks(CHUNK):
                    yield block

    async def _keys(self, client: Any, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    async def versions(self) -> set[str]:
        async with self._client() as client:
            keys = await self._keys(client, self.prefix)
        return {
            k[len(self.prefix) :].split("/", 1)[0] for k in keys if "/" in k[len(self.prefix) :]
        }

    async def delete(self, version: str) -> None:
        async with self._client() as client:
            await client.delete_object(Bucket=self.bucket, Key=self._key(version, MANIFEST))
            for key in await self._keys(client, self._key(version, "")):
                await client.delete_object(Bucket=self.bucket, Key=key)
