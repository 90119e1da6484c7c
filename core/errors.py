"""Errors shared by the command handlers (kept apart so ``python -m app.cli`` sees one class)."""


class UsageError(Exception):
    """Bad input from the command line or a file it names: exit 2 with the message."""
