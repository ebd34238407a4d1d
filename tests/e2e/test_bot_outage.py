"""A database outage while the bot runs: it stays connected, answers 'unavailable', and
recovers by itself when the database is back. The outage is staged by a TCP proxy between
the bot and the real MariaDB server (which other tests share and must not stop)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.replies import NOT_ANSWERING, UNAVAILABLE
from sql.database import Database
from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec, UserSpec
from tests.fakes.tcp_proxy import TcpProxy
from tests.support.bot_world import running_bot, trained_demo

EPHEMERAL = 64
LISTENER = UserSpec("listener")


async def _recommend(emu: DiscordEmulator, track: str) -> dict:
    ix = await emu.send_command("recommend", {"track": track, "count": 1}, user=LISTENER)
    await ix.wait_done(timeout=30)
    return ix.followups[0]


async def test_database_outage_and_recovery(mysql_database: str, tmp_path: Path) -> None:
    server = make_url(mysql_database)
    own = server.set(database=f"{server.database}_outage")
    tracks = await trained_demo(
        own.render_as_string(hide_password=False), tmp_path / "models", tracks=400, seed=3
    )
    track = tracks[0]
    guild = GuildSpec("Music", members=[LISTENER])
    try:
        async with (
            TcpProxy(server.host or "127.0.0.1", server.port or 3306) as proxy,
            DiscordEmulator(guilds=[guild]) as emu,
        ):
            through_proxy = own.set(host="127.0.0.1", port=proxy.port)
            async with running_bot(
                emu,
                database_url=through_proxy.render_as_string(hide_password=False),
                models_dir=tmp_path / "models",
                dev_guild_id=guild.id,
                recommend_cooldown_seconds=0,
                run_jobs=False,  # the background jobs have tests of their own
            ) as bot:
                assert (await _recommend(emu, track))["embeds"]

                proxy.cut()
                down = await _recommend(emu, track)
                assert down["flags"] & EPHEMERAL
                assert down["content"] == UNAVAILABLE
                assert not bot.is_closed() and len(emu.sessions) == 1

                proxy.restore()
                back = await _recommend(emu, track)
                assert back["embeds"] and not back["flags"] & EPHEMERAL
                assert len(emu.sessions) == 1  # the same gateway session throughout
    finally:
        db = Database(mysql_database)
        async with db.transaction() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{own.database}`"))
        await db.dispose()


async def test_silent_database_answers_in_time_and_recovers(
    mysql_database: str, tmp_path: Path
) -> None:
    """A server that accepts and never answers: the answer, the autocomplete and the
    genres lookup each end within their timeout with one line; back without a restart."""
    server = make_url(mysql_database)
    own = server.set(database=f"{server.database}_silent")
    tracks = await trained_demo(
        own.render_as_string(hide_password=False), tmp_path / "models", tracks=400, seed=3
    )
    track = tracks[0]
    guild = GuildSpec("Music", members=[LISTENER])
    try:
        async with (
            TcpProxy(server.host or "127.0.0.1", server.port or 3306) as proxy,
            DiscordEmulator(guilds=[guild]) as emu,
        ):
            through_proxy = own.set(host="127.0.0.1", port=proxy.port)
            async with running_bot(
                emu,
                database_url=through_proxy.render_as_string(hide_password=False),
                models_dir=tmp_path / "models",
                dev_guild_id=guild.id,
                recommend_cooldown_seconds=0,
                run_jobs=False,
                db_connect_timeout_seconds=1,
                db_statement_timeout_seconds=2,
            ) as bot:
                assert (await _recommend(emu, track))["embeds"]

                proxy.silence()
                down = await _recommend(emu, track)
                assert down["flags"] & EPHEMERAL and down["content"] == NOT_ANSWERING
                genres = await emu.send_command("genres", {"track": track}, user=LISTENER)
                await genres.wait_done(timeout=30)
                assert genres.followups[0]["content"] == NOT_ANSWERING
                typed = await emu.send_autocomplete(
                    "recommend", {"track": "abc"}, focused="track", user=LISTENER
                )
                await typed.wait_done(timeout=30)
                assert typed.callback_type == 8 and typed.choices == []
                assert not bot.is_closed() and len(emu.sessions) == 1

                proxy.restore()
                back = await _recommend(emu, track)
                assert back["embeds"] and not back["flags"] & EPHEMERAL
    finally:
        db = Database(mysql_database)
        async with db.transaction() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{own.database}`"))
        await db.dispose()
