"""Feedback without Discord: custom ids, arms, reactions and taste on both engines, the
report's statistics, and `tunecluster feedback report --json` on generated reactions with
a known like rate per arm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from bot.services import feedback
from bot.settings import ConfigError, load_settings
from recommender import demo_catalogue
from sql import model_versions
from sql import reactions as store
from sql.database import Database
from sql.migrate import init_schema
from sql.schema import artist_track, audio_features, feedback_pick, reaction, track
from tests.support.cli import run_cli_async, settings_env

GUILD, OTHER_GUILD = 111, 222
ALICE, BOB = 1, 2


async def _catalogue(db: Database, tracks: int = 40) -> list[dict]:
    demo = demo_catalogue.generate(tracks=tracks, seed=3)
    await demo_catalogue.write(db, demo)
    return demo.tracks


async def _show(db: Database, track_ids: list[str], *, guild: int = GUILD, arm: str = "off"):
    return await feedback.record_shown(
        db, guild_id=guild, user_id=ALICE, source="recommend", track_ids=track_ids,
        seed_track_id=track_ids[0], strategy="cluster-nearest", arm=arm, model_version="v1",
    )  # fmt: skip


def _click(action: str, shown: feedback.Shown, position: int) -> feedback.Click:
    return feedback.parse_custom_id(
        feedback.custom_id(action, shown.answer_id, position, shown.track_ids[position])
    )


# --- custom ids and arms ------------------------------------------------------------------------


def test_custom_ids_round_trip_and_refuse_anything_else() -> None:
    text = feedback.custom_id("dislike", 2**62 - 1, 4, "4uLU6hMCjMI75M1A2tKUQC")
    assert len(text) <= 100
    assert feedback.parse_custom_id(text) == feedback.Click(
        "dislike", 2**62 - 1, 4, "4uLU6hMCjMI75M1A2tKUQC"
    )
    for bad in (
        "",
        "tc:",
        "tc:q:1:0:abc",
        "tc:l:-1:0:abc",
        "tc:l:1:0:",
        "tc:l:1:0:a b",
        "x:l:1:0:a",
    ):
        with pytest.raises(feedback.FeedbackRefused, match="not one of mine"):
            feedback.parse_custom_id(bad)


def test_arms_by_a_stable_hash_with_their_shares() -> None:
    arms = ("cluster-nearest", "cluster-random")
    assert feedback.arm_of(GUILD, ()) == "off"
    assigned = [feedback.arm_of(g, arms, (3, 1)) for g in range(1, 4001)]
    assert [feedback.arm_of(g, arms, (3, 1)) for g in range(1, 4001)] == assigned  # stable
    share = assigned.count("cluster-nearest") / len(assigned)
    assert 0.72 < share < 0.78
    equal = [feedback.arm_of(g, arms) for g in range(1, 4001)]
    assert 0.46 < equal.count("cluster-random") / len(equal) < 0.54
    # a fixed guild keeps its arm across processes and versions (sha256, not hash())
    assert feedback.arm_of(1234567890123, arms) == feedback.arm_of(1234567890123, arms)
    config = feedback.FeedbackSettings(arms=arms, default_strategy="cluster-random")
    assert feedback.strategy_for("off", config) == "cluster-random"
    assert feedback.strategy_for("cluster-nearest", config) == "cluster-nearest"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"strategy_arms": "cluster-nearest,nope"}, "unknown strategy 'nope'"),
        ({"strategy_arms": "cluster-nearest,cluster-nearest"}, "one arm only"),
        ({"strategy_arms": "cluster-nearest", "strategy_arm_shares": "1,1"}, "2 shares for 1"),
        ({"strategy_arms": "cluster-nearest", "strategy_arm_shares": "-1"}, "weights"),
        ({"dislike_artist_after": 0}, "DISLIKE_ARTIST_AFTER"),
    ],
)
def test_bad_feedback_settings_are_one_line(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(**values)


# --- reactions and taste -----------------------------------------------------------------------


async def test_a_click_is_stored_once_per_member_and_pick(db: Database) -> None:
    tracks = [t["track_id"] for t in (await _catalogue(db))[:3]]
    shown = await _show(db, tracks)
    first = await feedback.react(db, _click("like", shown, 0), guild_id=GUILD, user_id=ALICE)
    assert first.previous is None and first.track_name
    changed = await feedback.react(db, _click("dislike", shown, 0), guild_id=GUILD, user_id=ALICE)
    assert changed.previous == "like"
    await feedback.react(db, _click("more", shown, 0), guild_id=GUILD, user_id=ALICE)
    await feedback.react(db, _click("like", shown, 0), guild_id=GUILD, user_id=BOB)
    async with db.connection() as conn:
        rows = (await conn.execute(select(reaction).order_by(reaction.c.user_id))).mappings().all()
    assert [(r["user_id"], r["verdict"], r["more"]) for r in rows] == [
        (ALICE, "dislike", True),  # the verdict changed; "more like this" kept it
        (BOB, "like", False),
    ]
    alice = rows[0]
    assert (alice["seed_track_id"], alice["strategy"], alice["arm"], alice["model_version"]) == (
        tracks[0], "cluster-nearest", "off", "v1",
    )  # fmt: skip
    assert alice["artist_id"] and alice["position"] == 0 and alice["guild_id"] == GUILD


async def test_refused_clicks_store_nothing(db: Database) -> None:
    tracks = [t["track_id"] for t in (await _catalogue(db))[:3]]
    shown = await _show(db, tracks)
    cases = [
        (feedback.Click("like", shown.answer_id + 1, 0, tracks[0]), GUILD, "no longer know"),
        (_click("like", shown, 0), OTHER_GUILD, "another server"),
        (_click("like", shown, 0), None, "another server"),  # a direct message
        (feedback.Click("like", shown.answer_id, 0, tracks[1]), GUILD, "not one of mine"),
    ]
    for click, guild, message in cases:
        with pytest.raises(feedback.FeedbackRefused, match=message):
            await feedback.react(db, click, guild_id=guild, user_id=ALICE)
    async with db.transaction() as conn:
        for table in (artist_track, audio_features):
            await conn.execute(delete(table).where(table.c.track_id == tracks[2]))
        await conn.execute(delete(track).where(track.c.track_id == tracks[2]))
    with pytest.raises(feedback.FeedbackRefused, match="no longer in the catalogue"):
        await feedback.react(db, _click("like", shown, 2), guild_id=GUILD, user_id=ALICE)
    async with db.connection() as conn:
        assert await conn.scalar(select(func.count()).select_from(reaction)) == 0


async def test_taste_dislikes_tracks_then_artists_and_likes_become_seeds(db: Database) -> None:
    rows = await _catalogue(db, tracks=80)
    by_artist: dict[str, list[str]] = {}
    async with db.connection() as conn:
        for track_id, artist_id in await conn.execute(
            select(artist_track.c.track_id, artist_track.c.artist_id).where(
                artist_track.c.position == 0
            )
        ):
            by_artist.setdefault(artist_id, []).append(track_id)
    artist, own = next((a, t) for a, t in by_artist.items() if len(t) >= 3)
    liked = next(r["track_id"] for r in rows if r["track_id"] not in own)
    shown = await _show(db, [own[0], own[1], liked])
    await feedback.react(db, _click("dislike", shown, 0), guild_id=GUILD, user_id=ALICE)
    one = await feedback.taste_of(db, GUILD, ALICE, 2)
    assert one.disliked == [own[0]] and one.disliked_artists == []
    await feedback.react(db, _click("dislike", shown, 1), guild_id=GUILD, user_id=ALICE)
    await feedback.react(db, _click("like", shown, 2), guild_id=GUILD, user_id=ALICE)
    tracks, artists = await feedback.exclusions(db, GUILD, ALICE, 2)
    assert tracks == {own[0], own[1]} and artists == {artist}  # repeated 👎: the artist goes
    shown_taste = await feedback.taste_of(db, GUILD, ALICE, 2)
    assert shown_taste.names[artist]  # /taste show names the artist
    assert await feedback.exclusions(db, OTHER_GUILD, ALICE, 2) == (frozenset(), frozenset())
    assert await feedback.exclusions(db, GUILD, None, 2) == (frozenset(), frozenset())
    assert await feedback.taste_seed(db, GUILD, ALICE, 2) == liked
    with pytest.raises(feedback.NoTaste):
        await feedback.taste_seed(db, GUILD, BOB, 2)
    async with db.connection() as conn:
        sessions = await store.liked_sessions_frame(conn)
    assert list(sessions.columns) == ["playlist_id", "track_id", "position"]
    assert sessions.to_dict("records") == [
        {"playlist_id": f"taste:{GUILD}:{ALICE}", "track_id": liked, "position": 0}
    ]
    assert await feedback.reset_taste(db, GUILD, ALICE) == 3
    assert (await feedback.taste_of(db, GUILD, ALICE, 2)).empty


def test_fold_taste_keeps_the_newest_verdict_per_track() -> None:
    rows = [  # newest first
        {"track_id": "a", "artist_id": "x", "verdict": "like", "more": False},
        {"track_id": "a", "artist_id": "x", "verdict": "dislike", "more": True},
        {"track_id": "b", "artist_id": "x", "verdict": "dislike", "more": False},
        {"track_id": "c", "artist_id": None, "verdict": None, "more": True},
    ]
    taste = feedback.fold_taste(rows, 2)
    assert taste.liked == ["a"] and taste.disliked == ["b"] and taste.disliked_artists == []
    assert taste.more == 2
    assert feedback.fold_taste(rows[1:], 2).disliked_artists == ["x"]


async def test_deleting_a_guild_leaves_the_others(db: Database) -> None:
    tracks = [t["track_id"] for t in (await _catalogue(db))[:2]]
    mine = await _show(db, tracks)
    theirs = await _show(db, tracks, guild=OTHER_GUILD)
    await feedback.react(db, _click("like", mine, 0), guild_id=GUILD, user_id=ALICE)
    await feedback.react(db, _click("like", theirs, 0), guild_id=OTHER_GUILD, user_id=ALICE)
    removed = await feedback.delete_guild_data(db, GUILD)
    assert removed["reaction"] == 1 and removed["feedback_pick"] == 2
    async with db.connection() as conn:
        left = (await conn.execute(select(feedback_pick.c.guild_id).distinct())).scalars().all()
        reacted = (await conn.execute(select(reaction.c.guild_id))).scalars().all()
    assert left == [OTHER_GUILD] and reacted == [OTHER_GUILD]
    with pytest.raises(feedback.FeedbackRefused, match="no longer know"):
        await feedback.react(db, _click("like", mine, 1), guild_id=GUILD, user_id=ALICE)


# --- the report ------------------------------------------------------------------------------------


def test_statistics_against_known_values() -> None:
    low, high = feedback.wilson(10, 100)
    assert (round(low, 4), round(high, 4)) == (0.0552, 0.1744)  # Wilson 95 %, 10 of 100
    assert feedback.wilson(0, 0) == (0.0, 1.0)
    assert feedback.needed_per_arm(0.2, 0.3) == 294  # Fleiss, 5 % two-sided, 80 % power
    assert feedback.needed_per_arm(0.2, 0.2) is None
    assert feedback.two_sided_p(50, 100, 50, 100) == 1.0
    assert feedback.two_sided_p(20, 100, 40, 100) < 0.01


TRUE_RATES = {"cluster-nearest": (0.40, 0.10, 0.15), "cluster-random": (0.25, 0.20, 0.05)}


async def _generated(db: Database, picks_per_arm: int, rng: np.random.Generator) -> None:
    """Answers of 3 picks in many guilds, one member each; exactly the arm's share of its
    picks is liked, disliked and asked "more" (at random positions), so the true rates
    are known exactly."""
    tracks = [t["track_id"] for t in (await _catalogue(db, tracks=40))]
    for arm, (like, dislike, more) in TRUE_RATES.items():
        n_like, n_dislike = round(like * picks_per_arm), round(dislike * picks_per_arm)
        verdicts = ["like"] * n_like + ["dislike"] * n_dislike
        verdicts += [None] * (picks_per_arm - len(verdicts))
        verdicts = list(rng.permutation(np.array(verdicts, dtype=object)))
        mores = rng.permutation(np.arange(picks_per_arm) < round(more * picks_per_arm))
        for answer in range(picks_per_arm // 3):
            chosen = list(rng.choice(tracks, size=3, replace=False))
            guild = 1000 + answer
            shown = await feedback.record_shown(
                db, guild_id=guild, user_id=ALICE, source="recommend", track_ids=chosen,
                seed_track_id=None, strategy=arm, arm=arm, model_version="v1",
            )  # fmt: skip
            for position in range(3):
                index = answer * 3 + position
                member = ALICE + answer
                if verdicts[index]:
                    click = _click(verdicts[index], shown, position)
                    await feedback.react(db, click, guild_id=guild, user_id=member)
                if mores[index]:
                    click = _click("more", shown, position)
                    await feedback.react(db, click, guild_id=guild, user_id=member)


async def test_feedback_report_json_recovers_known_rates(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'report.db'}"
    db = Database(url)
    try:
        await init_schema(db)
        await _generated(db, 600, np.random.default_rng(5))
    finally:
        await db.dispose()
    env = settings_env(database_url=url, strategy_arms="cluster-nearest,cluster-random")
    code, out, err = await run_cli_async("feedback", "report", "--json", env=env, cwd=tmp_path)
    assert code == 0, err
    report = json.loads(out)
    groups = {g["arm"]: g for g in report["groups"]}
    assert set(groups) == set(TRUE_RATES)
    for arm, truths in TRUE_RATES.items():
        group = groups[arm]
        assert group["picks"] == 600 and group["answers"] == 200 and group["strategy"] == arm
        for name, truth in zip(("like", "dislike", "more"), truths, strict=True):
            low, high = group["rates"][name]["ci95"]
            assert group["rates"][name]["rate"] == pytest.approx(truth)
            assert low <= truth <= high, (arm, name, low, truth, high)
            assert high - low < 0.08  # 600 picks: about ±3.9 points at most
    like = next(c for c in report["comparisons"] if c["rate"] == "like")
    assert like["control"] == "cluster-nearest" and like["arm"] == "cluster-random"
    assert like["p_value"] < 0.001
    assert 100 < like["picks_per_arm_needed"] < 600 and like["enough"]


async def test_liked_tracks_become_sessions_of_the_association_behind_the_setting(
    tmp_path: Path,
) -> None:
    """TUNECLUSTER_LEARN_FROM_REACTIONS: each member's liked tracks are one more session
    the playlist-learned association model is fitted on."""
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from bot.services.train import TrainSettings, train

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'learn.db'}")
    try:
        await init_schema(db)
        await demo_catalogue.write(db, demo_catalogue.generate(tracks=400, seed=4))
        config = TrainSettings.from_settings(load_settings(models_dir=tmp_path / "models", k_max=4))
        assert config.learn_from_reactions is False  # off by default
        with ThreadPoolExecutor(1) as pool:
            without = await train(db, config, executor=pool, activate=False)
            async with db.connection() as conn:  # trained tracks: the association's universe
                trained = sorted(
                    {t for t, _, _ in await model_versions.assignments(conn, without.version)}
                )
            for member, liked in ((ALICE, trained[:3]), (BOB, trained[3:5])):
                shown = await _show(db, liked)
                for position in range(len(liked)):
                    await feedback.react(
                        db, _click("like", shown, position), guild_id=GUILD, user_id=member
                    )
            learned = await train(
                db, replace(config, learn_from_reactions=True), executor=pool, activate=False
            )
    finally:
        await db.dispose()
    before, after = without.meta["association"], learned.meta["association"]
    assert after["sessions"] == before["sessions"] + 2  # one per member
    assert after["entries"] == before["entries"] + 5


async def test_the_operator_commands(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    db = Database(url)
    try:
        await init_schema(db)
        tracks = [t["track_id"] for t in (await _catalogue(db))[:2]]
        shown = await _show(db, tracks)
        await feedback.react(db, _click("like", shown, 0), guild_id=GUILD, user_id=ALICE)
    finally:
        await db.dispose()
    env = settings_env(database_url=url)
    code, out, _ = await run_cli_async("feedback", "report", env=env, cwd=tmp_path)
    assert code == 0 and "off" in out and "Wilson 95 %" in out
    code, _, err = await run_cli_async(
        "feedback", "delete-guild", str(GUILD), env=env, cwd=tmp_path
    )
    assert code == 1 and err.strip().startswith("error: ") and "--yes" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = await run_cli_async(
        "feedback", "delete-guild", str(GUILD), "--yes", "--json", env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert json.loads(out)["deleted"] == {
        "reaction": 1,
        "feedback_pick": 2,
        "recommendation_log": 0,
        "guild_settings": 0,
    }
