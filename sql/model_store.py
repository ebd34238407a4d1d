"""Queries of the model store kept in the database (`model_file`, `model_chunk`).

The logic (chunking, checksums, the local cache) lives in `recommender.store`; these
are the statements it sends, one chunk per statement so no packet comes near
`max_allowed_packet`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sql.schema import model_chunk, model_file


async def put_chunk(conn: AsyncConnection, version: str, name: str, seq: int, data: bytes) -> None:
    await conn.execute(
        insert(model_chunk).values(model_version=version, name=name, seq=seq, data=data)
    )


async def put_files(conn: AsyncConnection, version: str, files: list[dict[str, Any]]) -> None:
    """The manifest rows (name, size, sha256, chunks), written after every chunk."""
    await conn.execute(insert(model_file), [{"model_version": version, **f} for f in files])


async def files(conn: AsyncConnection, version: str) -> list[dict[str, Any]]:
    query = (
        select(model_file.c.name, model_file.c.size, model_file.c.sha256, model_file.c.chunks)
        .where(model_file.c.model_version == version)
        .order_by(model_file.c.name)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def chunk(conn: AsyncConnection, version: str, name: str, seq: int) -> bytes | None:
    return await conn.scalar(
        select(model_chunk.c.data).where(
            model_chunk.c.model_version == version,
            model_chunk.c.name == name,
            model_chunk.c.seq == seq,
        )
    )


async def stored_versions(conn: AsyncConnection) -> set[str]:
    """Versions with anything stored (complete or not: a crash can leave chunks alone)."""
    complete = select(model_file.c.model_version).distinct()
    partial = select(model_chunk.c.model_version).distinct()
    found = set((await conn.execute(complete)).scalars())
    return found | set((await conn.execute(partial)).scalars())


async def delete_manifest(conn: AsyncConnection, version: str) -> None:
    await conn.execute(delete(model_file).where(model_file.c.model_version == version))


async def chunk_keys(conn: AsyncConnection, version: str) -> list[tuple[str, int]]:
    query = select(model_chunk.c.name, model_chunk.c.seq).where(
        model_chunk.c.model_version == version
    )
    return [(r[0], r[1]) for r in (await conn.execute(query)).all()]


async def delete_chunks(conn: AsyncConnection, version: str, name: str, upto: int) -> int:
    """Delete a file's chunks below `upto`, by primary key (small transactions)."""
    result = await conn.execute(
        delete(model_chunk).where(
            model_chunk.c.model_version == version,
            model_chunk.c.name == name,
            model_chunk.c.seq < upto,
        )
    )
    return int(result.rowcount or 0)
