"""Health, metrics and forged input, end to end: the bot on the loopback Discord with
`TUNECLUSTER_METRICS_PORT`, scraped over loopback HTTP, sent what Discord's client would
never send (options outside their declared ranges, choices nobody offered)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bot.app import TuneclusterBot
from sql.database import Database
from sql.schema import recommendation_log
from tests.fakes.discord_emulator import DiscordEmulator, GuildSpec, UserSpec
from tests.support.bot_world import running_bot, trained_demo
from tests.support.jobs import until

GUILD = GuildSpec("Metrics")


@dataclass
class World:
    emu: DiscordEmulator
    bot: TuneclusterBot
    db: Database
    tracks: list[str]

    @property
    def base(self) -> str:
        assert self.bot.monitor is not None
        return f"http://127.0.0.1:{self.bot.monitor.port}"


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("metrics")
    url = f"sqlite+aiosqlite:///{tmp / 'bot.db'}"
    tracks = await trained_demo(url, tmp / "models", tracks=600, seed=3)
    db = Database(url)
    async with (
        DiscordEmulator(guilds=[GUILD]) as emu,
        running_bot(
            emu,
            database_url=url,
            models_dir=tmp / "models",
            dev_guild_id=GUILD.id,
            recommend_cooldown_seconds=0,
            run_jobs=False,
            metrics_port=0,
        ) as bot,
    ):
        try:
            yield World(emu, bot, db, tracks)
        finally:
            await db.dispose()


async def _get(world: World, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(world.base + path) as response:
        return response.status, await response.text()


async def _samples(world: World) -> dict[tuple[str, tuple], float]:
    status, text = await _get(world, "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_healthz_reports_gateway_database_and_model(world: World) -> None:
    seen: list[dict] = []

    async def healthy() -> bool:
        status, text = await _get(world, "/healthz")
        seen.append(json.loads(text))
        return status == 200

    await until(healthy, 20, "a healthy /healthz (the model warms up in a thread)")
    body = seen[-1]
    assert body["gateway"]["connected"] and body["gateway"]["shards"] == {"0": True}
    assert body["database"]["reachable"]
    assert body["model"]["ready"] and body["model"]["active"] == body["model"]["loaded"]


async def test_metrics_count_interactions_picks_and_the_model(world: World) -> None:
    before = await _samples(world)
    ix = await world.emu.send_command(
        "recommend", {"track": world.tracks[3], "count": 2}, user=UserSpec("m1")
    )
    await ix.wait_done(timeout=20)
    assert not ix.ephemeral
    after = await _samples(world)
    ok = dict(command="recommend", outcome="ok")
    assert _value(after, "tunecluster_interactions_total", **ok) == (
        _value(before, "tunecluster_interactions_total", **ok) + 1
    )
    count = "tunecluster_interaction_seconds_count"
    assert _value(after, count, **ok) == _value(before, count, **ok) + 1
    strategy = world.bot.settings.strategy
    picked = _value(after, "tunecluster_picks_total", strategy=strategy)
    assert picked == _value(before, "tunecluster_picks_total", strategy=strategy) + len(
        ix.followups[0]["embeds"][1:]
    )
    versions = [labels for (name, labels) in after if name == "tunecluster_model_info"]
    assert len(versions) == 1
    assert _value(after, "tunecluster_up", part="database") == 1.0
    assert _value(after, "tunecluster_model_age_seconds") > 0
    assert any(name == "process_resident_memory_bytes" for name, _ in after)
    assert any(name == "tunecluster_outside_requests_total" or name.startswith(
        "tunecluster_outside_throttled") for name, _ in after)  # fmt: skip


@pytest.mark.parametrize("count", [0, 10, 50])
async def test_a_forged_count_is_refused_in_one_ephemeral_line(
    world: World, count: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with world.db.connection() as conn:
        logged = await conn.scalar(select(func.count()).select_from(recommendation_log))
    before = await _samples(world)
    with caplog.at_level(logging.INFO):
        ix = await world.emu.send_command(
            "recommend", {"track": world.tracks[5], "count": count}, user=UserSpec("forger")
        )
        await ix.wait_done(timeout=20)
    assert ix.ephemeral
    (text,) = [m["content"] for m in ix.messages if m.get("content")]
    assert "count must be a whole number from 1 to 5" in text and "\n" not in text
    assert not any(m.get("embeds") for m in ix.messages)
    async with world.db.connection() as conn:
        assert await conn.scalar(select(func.count()).select_from(recommendation_log)) == logged
    assert not any(r.exc_info for r in caplog.records)
    after = await _samples(world)
    refused = dict(command="recommend", outcome="refused")
    assert _value(after, "tunecluster_interactions_total", **refused) == (
        _value(before, "tunecluster_interactions_total", **refused) + 1
    )


async def test_a_forged_choice_is_one_ephemeral_line_without_a_traceback(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        ix = await world.emu.send_command(
            "recommend",
            {"track": world.tracks[5], "bucket": "no-such-genre"},
            user=UserSpec("chooser"),
        )
        await ix.wait_done(timeout=20)
    assert ix.ephemeral
    (text,) = [m["content"] for m in ix.messages if m.get("content")]
    assert "not one of the choices" in text and "\n" not in text
    assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records]


async def test_forged_text_too_long_is_refused(world: World) -> None:
    ix = await world.emu.send_command("recommend", {"track": "x" * 2000}, user=UserSpec("longtext"))
    await ix.wait_done(timeout=20)
    assert ix.ephemeral
    assert "too long" in ix.messages[0]["content"]


async def test_healthz_says_503_when_the_database_is_gone(
    tmp_path, world: World
) -> None:  # a fresh bot whose database file does not hold a schema
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    async with (
        DiscordEmulator(guilds=[GuildSpec("Empty")]) as emu,
        running_bot(
            emu, database_url=url, models_dir=tmp_path / "m", run_jobs=False, metrics_port=0
        ) as bot,
    ):
        assert bot.monitor is not None
        port = bot.monitor.port
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            body = await response.json()
            assert response.status == 503
    assert body["gateway"]["connected"]
    assert not body["database"]["reachable"] and body["database"]["error"]
    assert not body["model"]["ready"]


async def test_forged_text_too_long_for_genres_is_refused(world: World) -> None:
    ix = await world.emu.send_command("genres", {"track": "y" * 900}, user=UserSpec("g"))
    await ix.wait_done(timeout=20)
    assert ix.ephemeral and "too long" in ix.messages[0]["content"]
