"""The checks every handler makes before it acts, and the records it leaves.

On the server, whatever the page shows: each handler checks the role of ``session.user`` (set by
``ui.app`` from the signed-in user on every event) with :func:`authorize` before it acts; searches,
uploads, routes and exports need a case number and purpose (:func:`set_case`, :func:`require_case`);
and those acts are written to the audit log (:func:`audit`, :func:`audited_search`) before their
results are returned. :func:`readable_error` turns any exception into the one line an operator sees.
"""

from __future__ import annotations

import hashlib
import logging
import re
from html import escape
from typing import TYPE_CHECKING, Any

from core.auth import Identity, Permission
from core.errors import FootageSearchError
from ui.access import AccessDenied
from ui.console import CaseContext, Console, ConsoleError, Session

if TYPE_CHECKING:
    from search.result import SearchResult

log = logging.getLogger(__name__)


def readable_error(exc: BaseException) -> str:
    """One line for the operator. Unexpected errors are logged here with their traceback."""
    # A missing file the operator named is theirs to fix, whichever library raised it.
    if isinstance(exc, (FootageSearchError, FileNotFoundError)):
        return str(exc) or type(exc).__name__
    log.error("console handler failed", exc_info=exc)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (f"Something went wrong ({type(exc).__name__}{': ' + first if first else ''}). "
            "The details are in the console's server log; please tell your administrator.")


CASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#:()-]{1,47}$")
PURPOSE_MIN, PURPOSE_MAX = 10, 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def set_case(console: Console, session: Session, number: str | None, purpose: str | None) -> CaseContext:
    """Check the case number and purpose typed in the console and make them the session's case."""
    number = " ".join((number or "").split())
    purpose = " ".join((purpose or "").split())
    if not number:
        raise ConsoleError("Enter the case number first (e.g. 2026-SEO-0142): every search, photo, route and "
                           "export is logged with its case.")
    if not CASE_RE.match(number):
        raise ConsoleError(f"Case number {number[:60]!r} is not valid: 2 to 48 letters, digits, spaces "
                           "or . _ / # : ( ) -, starting with a letter or digit.")
    if len(purpose) < PURPOSE_MIN:
        raise ConsoleError(f"Enter the purpose of this search (at least {PURPOSE_MIN} characters, e.g. 'missing "
                           "child reported 09:10 near Seoul Station'): it is logged with every search.")
    if len(purpose) > PURPOSE_MAX or _CONTROL.search(purpose):
        raise ConsoleError(f"The purpose must be one line of at most {PURPOSE_MAX} characters.")
    session.case = CaseContext(number, purpose)
    return session.case


def require_case(session: Session) -> CaseContext:
    if session.case is None:
        raise ConsoleError("Enter the case number and purpose first: every search is logged with its case.")
    return session.case


def authorize(console: Console, session: Session, permission: Permission, action: str) -> Identity:
    """The acting user, if their role allows ``permission``; a refusal is audited and raised."""
    who = session.user
    if who is None:
        raise AccessDenied("You are not signed in: reload the page and sign in.")
    if not who.can(permission):
        audit(console, session, "denied", action=action, needs=permission.value)
        raise AccessDenied(f"Your role ({who.role.value}) may not {action}: ask an administrator.")
    return who


def audit(console: Console, session: Session, event: str, **details: Any) -> None:
    """Write one audit record for the session's user and case (fsynced before the caller goes on)."""
    assert console.audit is not None
    case = session.case
    console.audit.write(event, session.user, case=case.number if case else "", purpose=case.purpose if case else "",
                        details=details)


def photo_digest(session: Session) -> str | None:
    return hashlib.sha256(session.photo).hexdigest() if session.photo is not None else None


def audited_search(console: Console, session: Session, kind: str, request: dict, req: Any,
                    offset: int = 0) -> SearchResult:
    """Run one search and log it (with what it found, or why it failed) before anyone sees results."""
    details: dict[str, Any] = {"kind": kind, "query": request.get("text", ""), "offset": offset,
                               "filters": {k: v for k, v in request.items() if k != "text"},
                               "excluded": len(session.rejected)}
    if session.photo is not None and getattr(req, "photo", None) is not None:
        details["photo_sha256"] = photo_digest(session)
    if getattr(req, "like", None):
        details["like"] = req.like
    try:
        result = console.engine().search(req)
    except Exception as exc:
        audit(console, session, "search", **details, error=str(exc)[:300])
        raise
    audit(console, session, "search", **details, results=result.total, shown=len(result.sightings),
          no_result=result.no_result)
    return result


def header_html(console: Console, session: Session) -> str:
    """Who is signed in (with a sign-out link), or a plain warning that the console is open."""
    who = session.user
    if who is None:
        return ""
    if not who.authenticated:
        return ('<span class="fs-open" role="alert">OPEN CONSOLE: no login (no users configured), reachable from '
                "this machine only. Everyone acts as <b>local</b> (admin); every search is still audited. "
                "Add users with <code>footage-search users add</code> to require a login.</span>")
    return (f'<span class="fs-user">Signed in as <b>{escape(who.name)}</b> ({escape(who.role.value)}) · '
            '<a href="logout" id="fs-logout">Sign out</a></span>')
