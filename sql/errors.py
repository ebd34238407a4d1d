"""Expected failures. Every layer raises these with a one-line message fit for a user.

They live at the bottom layer so that `pipeline`, `recommender` and `bot` share one base
class and the command line and the Discord bot can tell an expected failure (one line,
no traceback) from a bug.
"""


class TuneclusterError(Exception):
    """An expected failure whose message is one line, safe to show to a user."""


class DatabaseUnavailable(TuneclusterError):
    """The database cannot be reached (down, wrong port, wrong credentials)."""


class DatabaseUrlError(TuneclusterError):
    """The database URL cannot be used (unparseable, unsupported driver)."""


class DatabaseTimeout(DatabaseUnavailable):
    """The database accepted the connection but did not answer within its timeout."""
