"""Thin cogs: parse, defer, call a service, format. The logic lives in `bot.services`.

Every module here is a discord.py extension (a cog and its `setup(bot)`), loaded at
start by `bot.app.cog_extensions`; shared helpers live beside them in `bot/`."""
