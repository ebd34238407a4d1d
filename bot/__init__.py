"""The application face: the `tunecluster` command line, settings, the Discord bot."""

__version__ = "0.1.0"
