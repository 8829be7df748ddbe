"""The one base of every error an operator or admin can fix.

``str(exc)`` is the whole message: the CLI prints it as one line (exit 2) and the console shows it
as is, never with a traceback. Anything that does not inherit from :class:`FootageSearchError` is a
bug, and is reported as one (logged with its traceback).

Subclasses keep a builtin base where callers rely on it (``except ValueError`` around parsing,
``KeyError`` for an unknown camera), so adding the base changes no ``except`` clause.
"""

from __future__ import annotations


class FootageSearchError(Exception):
    """An error the user can fix; its message says what went wrong and what to do."""


class UserError(FootageSearchError):
    """Bad input on the command line or in the console (a missing folder, a bad flag combination)."""


class MissingFileError(FootageSearchError, FileNotFoundError):
    """A file or folder the user named (or configured) does not exist."""
