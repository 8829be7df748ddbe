"""The Index tab, Gradio-free: what the index holds, the reindex an admin starts from the console,
and the users file (add, remove, list; admins only).

The role is checked here on the server even though the page hides these controls from operators: a
crafted request reaches the same functions and is refused (and audited as ``denied``) the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from html import escape

from core.auth import Permission, Role
from core.index_status import index_status
from ui.console import Console, ConsoleError, Session, status_box
from ui.index_panel import ReindexProgress, reindex_progress_html, status_html
from ui.policy import audit, authorize


def index_status_view(console: Console, session: Session | None = None) -> str:
    if session is not None:
        authorize(console, session, Permission.SEARCH, "see the index status")
    return status_html(index_status(console.cfg), console.registry)


def reindex(console: Console, session: Session, on_progress: Callable[[int, int, float], None] | None = None) -> str:
    authorize(console, session, Permission.REINDEX, "start a reindex")
    audit(console, session, "reindex_start", archive=str(console.archive) if console.archive else None)
    # A running engine needs no reopening: it follows the index's writes (IndexDB follow_writes).
    try:
        summary = console.reindexer.run(on_progress)
    except Exception as exc:
        audit(console, session, "reindex_end", error=str(exc)[:300])
        raise
    audit(console, session, "reindex_end", indexed=summary.indexed, failed=len(summary.failed),
          unchanged=summary.unchanged)
    lines = summary.lines()
    kind = "warn" if summary.failed else "ok"
    return status_box("<b>Reindex finished.</b><br>" + "<br>".join(escape(line) for line in lines), kind)


def models_view(console: Console, session: Session | None = None) -> str:
    """Which models load, what is unavailable and what an admin does (the Index tab's section)."""
    if session is not None:
        authorize(console, session, Permission.SEARCH, "see the index status")
    return console.models.index_html()


def retry_models(console: Console, session: Session) -> str:
    """Load the models again after an admin fixed their files (searches never retry on their own)."""
    authorize(console, session, Permission.REINDEX, "reload the models")
    if not console.models.retry():
        return status_box("The models are already loading: wait for it to finish.", "warn")
    audit(console, session, "models_retry")
    return status_box("Loading the models again in the background…")


def start_reindex(console: Console, session: Session) -> str:
    """Start a reindex in the background (admins); its progress is polled with :func:`reindex_view`."""
    authorize(console, session, Permission.REINDEX, "start a reindex")
    who = replace(session)  # the start's user and case, for the record written when it ends

    def on_end(p: ReindexProgress) -> None:
        s = p.summary
        if p.error:
            audit(console, who, "reindex_end", error=p.error[:300])
        else:
            audit(console, who, "reindex_end", indexed=s.indexed, failed=len(s.failed),  # type: ignore[union-attr]
                  unchanged=s.unchanged)  # type: ignore[union-attr]

    audit(console, session, "reindex_start", archive=str(console.archive) if console.archive else None)
    try:
        progress = console.reindexer.start(on_end)
    except Exception as exc:  # busy, or no archive: refused before anything ran
        audit(console, session, "reindex_end", error=str(exc)[:300])
        raise
    return reindex_progress_html(progress)


def reindex_view(console: Console, session: Session) -> tuple[str, bool]:
    """The last reindex's progress or result, and whether it is still running."""
    authorize(console, session, Permission.REINDEX, "see the reindex")
    p = console.reindexer.progress
    return reindex_progress_html(p), p is not None and p.running


def users_view(console: Console, session: Session) -> str:
    authorize(console, session, Permission.MANAGE_USERS, "manage users")
    assert console.access is not None
    store = console.access.authenticator.store
    users = sorted(store.users().values(), key=lambda u: u.name)
    rows = "".join(f"<tr><td>{escape(u.name)}</td><td>{escape(u.role.value)}</td><td>{escape(u.created)}</td>"
                   f"<td>{escape(u.created_by)}</td></tr>" for u in users)
    note = ("" if not console.access.open_mode else
            "<p class='fs-note'>The console is open (no users when it started): restart it after adding the first "
            "user to require a login.</p>")
    return (f"<p class='fs-note'>Users file <code>{escape(str(store.path))}</code></p>"
            "<table class='fs-table fs-users'><tr><th>User</th><th>Role</th><th>Created</th><th>By</th></tr>"
            f"{rows or '<tr><td colspan=4>no users</td></tr>'}</table>{note}")


def add_user(console: Console, session: Session, name: str, role: str, password: str) -> str:
    authorize(console, session, Permission.MANAGE_USERS, "manage users")
    assert console.access is not None and session.user is not None
    user = console.access.authenticator.store.add(name, role or Role.OPERATOR.value, password or "",
                                                  created_by=session.user.name)
    audit(console, session, "user_add", name=user.name, role=user.role.value)
    return status_box(f"User <b>{escape(user.name)}</b> ({escape(user.role.value)}) added.", "ok")


def remove_user(console: Console, session: Session, name: str) -> str:
    who = authorize(console, session, Permission.MANAGE_USERS, "manage users")
    assert console.access is not None
    if (name or "").strip() == who.name:
        raise ConsoleError("You cannot remove your own account while signed in with it.")
    gone = console.access.authenticator.store.remove(name)
    audit(console, session, "user_remove", name=gone.name, role=gone.role.value)
    return status_box(f"User <b>{escape(gone.name)}</b> removed.", "ok")
