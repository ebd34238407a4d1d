"""The base install without the optional extras (`mpd`: pyarrow, msgspec; `plot`:
matplotlib): the bot, the demo and the other commands load; the commands that need an
extra say which in one line. The extras are hidden from a child interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.cli import settings_env

HIDE = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('pyarrow', 'msgspec', 'matplotlib'):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
"""


def _python(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDE + code, *args],
        cwd=cwd, env=settings_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_bot_and_the_demo_load_without_the_extras(tmp_path: Path) -> None:
    code = (
        "import bot.app, bot.cogs.recommend, bot.cogs.discovery, bot.cogs.admin, "
        "bot.cogs.genres, bot.services.demo, bot.services.jobs, bot.services.setup, "
        "bot.cli\nprint('loaded')"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded"


def test_commands_needing_an_extra_name_it_in_one_line(tmp_path: Path) -> None:
    run = "import sys; from bot.cli import main; sys.argv = ['tunecluster', *sys.argv[1:]]; main()"
    (tmp_path / "slice").mkdir()
    mpd = _python(run, tmp_path, "ingest-mpd", str(tmp_path / "slice"))
    assert mpd.returncode == 1
    assert mpd.stderr.strip().splitlines() == [
        "error: the Million Playlist Dataset reader needs the optional extra `mpd`: "
        "pip install 'tunecluster[mpd]' (pyarrow is not installed)"
    ]
    eda = _python(run, tmp_path, "eda", "--out", str(tmp_path / "eda"))
    assert eda.returncode == 1
    assert "pip install 'tunecluster[plot]'" in eda.stderr
    assert len(eda.stderr.strip().splitlines()) == 1
