"""Messages as Discord stores them: created, edited, with their attachments, and delivered.

Why one place: a channel post, an interaction response, a follow-up and a user's message
are the same object to discord.py, and edits must resolve a deferred ("thinking") message
the same way whichever route makes them.
"""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.fakes.discord_emulator.protocol import (
    DM_MESSAGES_INTENT,
    GUILD_MESSAGES_INTENT,
    LOADING,
    MESSAGE_CONTENT_INTENT,
    Json,
    as_int,
    new_id,
    now_iso,
)
from tests.fakes.discord_emulator.records import UploadedFile

if TYPE_CHECKING:
    from tests.fakes.discord_emulator.state import DiscordState


def new_message(
    state: DiscordState,
    channel_id: int,
    body: Mapping[str, Any],
    files: list[UploadedFile],
    *,
    author: Json,
    flags: int = 0,
    msg_type: int = 0,
    webhook: bool = False,
) -> Json:
    """Store a message made from a create body; ``webhook`` marks an interaction's answer."""
    message_id = new_id()
    message: Json = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": body.get("content") or "",
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": bool(body.get("tts")),
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": _make_attachments(state, channel_id, body, files, []),
        "embeds": _embeds(body.get("embeds")),
        "components": list(body.get("components") or []),
        "pinned": False,
        "type": msg_type,
        "flags": flags | (body.get("flags") or 0),
    }
    if body.get("nonce") is not None:
        message["nonce"] = body["nonce"]
    if webhook:
        message["webhook_id"] = str(state.application_id)
        message["application_id"] = str(state.application_id)
    state.messages[message_id] = message
    return message


def edit_message(
    state: DiscordState, message: Json, body: Mapping[str, Any], files: list[UploadedFile]
) -> Json:
    """Apply an edit in place; editing a deferred ("thinking") message resolves it."""
    if "content" in body:
        message["content"] = body["content"] or ""
    if "embeds" in body:
        message["embeds"] = _embeds(body["embeds"])
    if "components" in body:
        message["components"] = list(body["components"] or [])
    if files or "attachments" in body:
        channel_id = int(message["channel_id"])
        kept = message["attachments"]
        message["attachments"] = _make_attachments(state, channel_id, body, files, kept)
    if message["flags"] & LOADING:
        message["flags"] &= ~LOADING
    else:
        message["edited_timestamp"] = now_iso()
    return message


def _make_attachments(
    state: DiscordState,
    channel_id: int,
    body: Mapping[str, Any],
    files: list[UploadedFile],
    existing: list[Json],
) -> list[Json]:
    """Keep the existing attachments ``body.attachments`` still lists, add uploads."""
    described = {str(a.get("id")): a for a in body.get("attachments") or []}
    kept = [a for a in existing if a["id"] in described] if "attachments" in body else existing
    added = []
    for position, upload in enumerate(files):
        index = upload.index if upload.index is not None else position
        meta = described.get(str(index), {})
        added.append(_stored_attachment(state, channel_id, upload, index, meta))
    return list(kept) + added


def _stored_attachment(
    state: DiscordState, channel_id: int, upload: UploadedFile, index: int, meta: Json
) -> Json:
    """Keep an upload's bytes, served back at the URL its attachment object names."""
    filename = meta.get("filename") or upload.filename or f"file{index}"
    attachment_id = new_id()
    state.attachments[attachment_id] = upload.data
    url = f"{state.http_url}/attachments/{channel_id}/{attachment_id}/{filename}"
    guessed = mimetypes.guess_type(filename)[0]
    return {
        "id": str(attachment_id),
        "filename": filename,
        "description": meta.get("description"),
        "content_type": guessed or upload.content_type,
        "size": len(upload.data),
        "url": url,
        "proxy_url": url,
    }


def _embeds(raw: Any) -> list[Json]:
    """Embeds as Discord echoes them: each gets a type, ``rich`` unless it says otherwise."""
    return [{**embed, "type": embed.get("type", "rich")} for embed in raw or []]


async def post_message(
    state: DiscordState,
    channel_id: int,
    body: Mapping[str, Any],
    files: list[UploadedFile],
    author: Json,
) -> Json:
    """A message posted in a channel (by the bot or a user): stored, listed, delivered."""
    message = new_message(state, channel_id, body, files, author=author)
    state.messages_by_channel.setdefault(channel_id, []).append(message)
    await _deliver_message_create(state, message)
    return message


async def _deliver_message_create(state: DiscordState, message: Json) -> None:
    """MESSAGE_CREATE to the bot when its intents ask for it (content needs its intent)."""
    channel = state.channels.get(int(message["channel_id"]), {})
    guild_id = as_int(channel.get("guild_id"))
    try:
        session = state.live_session(guild_id)
    except RuntimeError:
        return
    needed = GUILD_MESSAGES_INTENT if guild_id else DM_MESSAGES_INTENT
    if not session.intents & needed:
        return
    event = copy.deepcopy(message)
    from_bot = message["author"]["id"] == str(state.bot_user.id)
    if guild_id:
        event["guild_id"] = str(guild_id)
        member = state.guilds[guild_id].member(int(message["author"]["id"]))
        if member is not None:
            event["member"] = {k: v for k, v in member.payload().items() if k != "user"}
        if not from_bot and not session.intents & MESSAGE_CONTENT_INTENT:
            event.update(content="", embeds=[], attachments=[], components=[])
    await state.dispatch(session, "MESSAGE_CREATE", event)
