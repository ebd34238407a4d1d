"""The emulator's REST API, one module per route family, wired up by ``app.build_app``."""
