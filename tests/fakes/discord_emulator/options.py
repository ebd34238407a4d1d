"""An interaction's ``data``: which synced command a name invokes, and its options.

Why the synced command: discord.py's tree finds a command by ``data.id``/``guild_id`` and
transforms each option by its declared type, so the emulator types a test's plain Python
values the way the bot declared them (inferring from the value only for unknown options).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tests.fakes.discord_emulator.protocol import Json, new_id

if TYPE_CHECKING:
    from tests.fakes.discord_emulator.state import DiscordState


def command_data(
    state: DiscordState,
    name: str,
    options: Mapping[str, Any],
    guild_id: int | None,
    focused: str | None,
    resolved: Json | None,
) -> Json:
    """``data`` of a command or autocomplete interaction; ``name`` may be "group sub"."""
    top, *path = name.split()
    command, scope = _find_synced(state, top, guild_id)
    if command is not None:
        command_id = int(command["id"])
    else:
        command_id = state.fake_command_ids.setdefault(top, new_id())
    schema = command.get("options", []) if command else []
    data: Json = {
        "id": str(command_id),
        "name": top,
        "type": 1,
        "options": _build_options(path, options, schema, focused),
    }
    if scope is not None:
        data["guild_id"] = str(scope)  # discord.py's tree looks guild commands up by it
    if resolved:
        data["resolved"] = resolved
    return data


def _find_synced(
    state: DiscordState, name: str, guild_id: int | None
) -> tuple[Json | None, int | None]:
    """The synced slash command ``name`` invokes (guild first), and its guild scope."""
    for scope in (guild_id, None) if guild_id is not None else (None,):
        for command in state.commands.get(scope, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, scope
    return None, None


def _infer_option_type(value: Any) -> int:
    """Discord's option type for a value no synced command declares."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _find_option(schema: Sequence[Json], name: str) -> Json | None:
    return next((option for option in schema if option.get("name") == name), None)


def _build_options(
    path: Sequence[str], values: Mapping[str, Any], schema: Sequence[Json], focused: str | None
) -> list[Json]:
    """Interaction ``data.options``: subcommand groups/subcommands nest the leaf options."""
    if path:
        head, *rest = path
        spec = _find_option(schema, head)
        kind = spec["type"] if spec else (2 if rest else 1)
        nested = spec.get("options", []) if spec else []
        return [
            {"name": head, "type": kind, "options": _build_options(rest, values, nested, focused)}
        ]
    built = []
    for name, value in values.items():
        spec = _find_option(schema, name)
        option: Json = {
            "name": name,
            "type": spec["type"] if spec else _infer_option_type(value),
            "value": value,
        }
        if name == focused:
            option["focused"] = True
        built.append(option)
    return built
