"""Thin cogs: parse, defer, call a service, format. The logic lives in `bot.services`."""
