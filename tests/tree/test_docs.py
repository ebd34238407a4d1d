"""The documentation stays true to the code."""

from __future__ import annotations

from bot.settings import Settings
from tests.support.environment import ROOT


def test_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [
        f"TUNECLUSTER_{name.upper()}"
        for name in Settings.model_fields
        if f"TUNECLUSTER_{name.upper()}" not in readme
    ]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in readme
    assert "scripts/test" in ci


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    missing = [
        f"TUNECLUSTER_{name.upper()}="
        for name in Settings.model_fields
        if f"TUNECLUSTER_{name.upper()}=" not in example
    ]
    assert missing == []


def test_discord_guide_names_the_scopes_and_permissions_the_bot_asks_for() -> None:
    from bot.app import PERMISSIONS, SCOPES

    guide = (ROOT / "docs" / "discord.md").read_text()
    assert all(f"`{scope}`" in guide for scope in SCOPES)
    assert f"permissions={PERMISSIONS.value}" in guide and f"(`{PERMISSIONS.value}`)" in guide
    named = {"view_channel": "View Channel", "send_messages": "Send Messages"}
    named["embed_links"] = "Embed Links"
    assert all(getattr(PERMISSIONS, flag) for flag in named)
    assert sum(1 for _, on in PERMISSIONS if on) in (len(named), len(named) + 1)  # + alias
    assert all(f"| {label} |" in guide for label in named.values())
