"""Plain async services shared by the command line and the Discord bot.

Each one glues the layers for one use case (resolve → recommend → log, curate → train
→ activate, …) and takes plain values, so the CLI and the bot stay thin.
"""
