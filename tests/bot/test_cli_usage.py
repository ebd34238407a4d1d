"""The command line as a newcomer meets it: usage errors exit 2 naming the option,
unknown commands suggest the nearest, completion, workflow order with examples,
`recommend --from-file` and the bot's default count, optional extras named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import extras
from tests.support.cli import run_cli, settings_env


def _cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**settings_env(), **env}, cwd=cwd, timeout=300)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("recommend", "x", "-n", "60"), "error: `-n` must be at most 50"),
        (("recommend", "x", "-n", "0"), "error: `-n` must be at least 1"),
        (("recommend", "x", "-n", "many"), "error: `-n` must be a whole number"),
        (("recommend",), "error: give LINK-OR-QUERY or --from-file PATH (one of them)"),
        (("import",), "error: missing FORMAT (see --help)"),
    ],
)
def test_usage_errors_exit_2_and_name_the_option(tmp_path: Path, args, line: str) -> None:
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[0].startswith(line.split(" (one")[0])
    assert len(done.stderr.strip().splitlines()) == 1


def test_unknown_command_suggests_the_nearest(tmp_path: Path) -> None:
    done = _cli("recomend", "x", cwd=tmp_path)
    assert done.returncode == 2
    assert "Did you mean 'recommend'?" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_shell_completion(tmp_path: Path) -> None:
    done = _cli(
        cwd=tmp_path,
        _TUNECLUSTER_COMPLETE="complete_bash",
        COMP_WORDS="tunecluster rec",
        COMP_CWORD="1",
    )
    assert "recommend" in done.stdout.split()
    assert "--install-completion" in _cli("--help", cwd=tmp_path).stdout


def test_help_lists_commands_in_workflow_order_with_examples(tmp_path: Path) -> None:
    out = _cli("--help", cwd=tmp_path, COLUMNS="200").stdout
    order = ["setup", "demo", "import", "ingest-mpd", "enrich", "train", "recommend", "run"]
    places = [out.index(f" {name} ") for name in order]
    assert places == sorted(places)
    assert out.index("1. Get started") < out.index("3. Train and try")
    assert "Example: tunecluster recommend" in _cli("recommend", "--help", cwd=tmp_path).stdout


def test_recommend_defaults_to_the_bots_count() -> None:
    import inspect

    from bot.cli import recommend as cli
    from bot.cogs import recommend as cog
    from bot.services.recommend import DEFAULT_PICKS

    assert cli.DEFAULT_PICKS == DEFAULT_PICKS
    assert inspect.signature(cli.recommend).parameters["n"].default == DEFAULT_PICKS
    command = cog.Recommend.recommend
    count = next(p for p in command.parameters if p.name == "count")
    assert count.default == DEFAULT_PICKS


def test_recommend_from_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    env = {"TUNECLUSTER_DATABASE_URL": url, "TUNECLUSTER_MODELS_DIR": str(tmp_path / "m")}
    import asyncio

    from tests.support.bot_world import trained_demo

    ids = asyncio.run(trained_demo(url, tmp_path / "m", tracks=400, seed=3))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"# two seeds and a miss\n{ids[0]}\n\n{ids[1]}\nno such song anywhere\n")
    done = _cli("recommend", "--from-file", str(seeds), "--json", cwd=tmp_path, **env)
    assert done.returncode == 1  # one seed failed; the others were answered
    import json

    results = json.loads(done.stdout)
    assert [r["input"] for r in results] == [ids[0], ids[1], "no such song anywhere"]
    assert all(len(r["picks"]) == 3 for r in results[:2])
    assert "no track" in results[2]["error"]
    missing = _cli("recommend", "--from-file", str(tmp_path / "nope.txt"), cwd=tmp_path, **env)
    assert missing.returncode == 1 and missing.stderr.startswith("error: cannot read")


def test_a_missing_extra_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    error = ModuleNotFoundError("No module named 'pyarrow'", name="pyarrow")
    text = str(extras.missing_extra(error))
    assert "pip install 'tunecluster[mpd]'" in text and "\n" not in text
    assert "tunecluster[plot]" in str(extras.missing_extra(ModuleNotFoundError(name="matplotlib")))
    assert extras.missing_extra(ModuleNotFoundError(name="numpy")) is None
    monkeypatch.setitem(extras.EXTRA_OF, "surely_not_installed_module", "plot")
    with pytest.raises(extras.MissingExtra, match=r"tunecluster\[plot\]"):
        extras.load("surely_not_installed_module.sub")
    with pytest.raises(ModuleNotFoundError):  # not an extra's: a real failure
        extras.load("another_module_that_is_not_there")


def test_enrich_types_named_in_the_cli_are_the_pipelines() -> None:
    from bot.cli import enrich as cli
    from pipeline.enrichment import TYPES

    assert cli.TYPES == TYPES


def test_help_loads_no_database_http_or_settings_library(tmp_path: Path) -> None:
    code = (
        "import sys, runpy; sys.argv = ['tunecluster', '--help']\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ' '.join(m for m in ('aiohttp', 'alembic', 'discord', 'pandas',"
        " 'pooch', 'pydantic_settings') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "LOADED:"
