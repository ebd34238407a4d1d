"""`python -m bot` is the `tunecluster` command line."""

from bot.cli import main

main()
