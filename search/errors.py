"""Errors raised by search and route for input an operator can fix.

The CLI prints :class:`SearchInputError` as one line without a traceback, and the console shows its
message next to the field that caused it, so every message says what was wrong and what to do.
"""

from __future__ import annotations

from core.errors import FootageSearchError


class SearchInputError(FootageSearchError, ValueError):
    """Bad search or route input: empty query, unknown camera/district, bad time window, unusable photo..."""
