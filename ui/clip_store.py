"""The console's clips: cut once into its own folder, lent out by token, served only to whom they were lent.

:class:`ClipLibrary` keeps the clips in ``clips/`` of the console's private folder (0700, files 0600),
at most ``ui.clip_cache_mb`` of them (the oldest cut go first). A clip's file time is set to the
wall-clock time of its first frame, so ``footage-search purge`` (which deletes every cache file older
than its cutoff) removes clips of purged footage with the rest.

Playing a clip (``ui.clip_player``, which checks the role and case and audits the view) takes a
:class:`ClipGrant`: an unguessable token (``secrets.token_urlsafe``, 192 bits) for one signed-in user,
valid for :data:`GRANT_TTL_S`. The page's ``<video>`` fetches ``clips/<token>`` (:func:`routes`); the
route serves the file only to the user the token was lent to, looked up again on every request,
and writes every refusal to the audit log (``clip_denied``) and the first fetch of each token
(``clip_served``). Nothing of the request but the token is ever used: the file comes from the grant.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from core.auth import Identity, Permission
from ui.access import AccessDenied
from ui.case_files import gradio_username
from ui.clip_cut import ClipFormat, ClipInfo, clip_format, cut_clip
from ui.thumbnails import private_dir

if TYPE_CHECKING:
    from ui.console import Console

ROUTE = "clips"  # served at /clips/<token>; the page links to it relatively
TOKEN_BYTES = 24
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
GRANT_TTL_S = 3600.0  # a clip link outlives a look at it, not the operator's shift
MAX_GRANTS = 2000  # per console; the oldest go first
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass
class ClipGrant:
    """One clip lent to one user: who, for which case, which sighting of which video, and the file."""

    token: str
    user: str
    case: str
    purpose: str
    sighting_id: str
    video: str  # archive-relative, as the audit log names it
    offset_s: float
    path: Path
    media_type: str
    expires: float
    served: bool = False  # its first fetch is audited (a player's later range requests are not)


class ClipLibrary:
    """One console's clips and the tokens it has lent; safe to share between sessions."""

    def __init__(self, root: str | Path, max_bytes: int, fmt: ClipFormat | None = None):
        self.root = private_dir(root)
        self.max_bytes = max_bytes
        self.fmt = fmt or clip_format()
        self._grants: dict[str, ClipGrant] = {}
        self._lock = threading.Lock()
        self._cutting: dict[Path, threading.Lock] = {}

    # ------------------------------------------------------------------------------- the cache

    def clip(self, key: str, video: Path, start_s: float, end_s: float, first_frame_epoch: float) -> tuple[Path, bool]:
        """The clip of ``video`` [start_s, end_s) (cut now unless cached), and whether it was cached.

        ``key`` names the sighting; the file name also hashes the source file's identity and the window,
        so a changed or replaced video is never served from an older cut.
        """
        st = video.stat()
        ident = repr((str(video), st.st_size, st.st_mtime_ns, round(start_s, 3), round(end_s, 3), self.fmt.codec))
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:80].strip("._") or "clip"
        path = self.root / f"{stem}-{hashlib.sha1(ident.encode()).hexdigest()[:12]}{self.fmt.suffix}"
        with self._lock:
            lock = self._cutting.setdefault(path, threading.Lock())
        with lock:  # two sessions asking for the same clip: one cut
            if path.is_file():
                return path, True
            info: ClipInfo = cut_clip(video, start_s, end_s, path, self.fmt)
            # purge deletes cache files older than its cutoff: date the clip by the footage it shows
            when = first_frame_epoch + (info.start_s - start_s)
            os.utime(path, (when, when))
        with self._lock:
            self._cutting.pop(path, None)
        self._evict(keep=path)
        return path, False

    def _evict(self, keep: Path) -> None:
        """Drop the oldest cut clips (by inode change time: the mtime is the footage's) until under the bound."""
        files = []
        for p in self.root.iterdir():
            if p.is_file() and not p.name.startswith("."):
                st = p.stat()
                files.append((st.st_ctime, st.st_size, p))
        total = sum(size for _, size, _ in files)
        for _, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            if p != keep:
                p.unlink(missing_ok=True)
                total -= size

    # ------------------------------------------------------------------------------- the grants

    def lend(self, who: Identity, case: str, purpose: str, sighting_id: str, video: str, offset_s: float,
             path: Path) -> ClipGrant:
        now = time.time()
        grant = ClipGrant(token=secrets.token_urlsafe(TOKEN_BYTES), user=who.name, case=case, purpose=purpose,
                          sighting_id=sighting_id, video=video, offset_s=offset_s, path=path,
                          media_type=self.fmt.media_type, expires=now + GRANT_TTL_S)
        with self._lock:
            self._grants = {t: g for t, g in self._grants.items() if g.expires > now}
            while len(self._grants) >= MAX_GRANTS:
                self._grants.pop(next(iter(self._grants)))
            self._grants[grant.token] = grant
        return grant

    def grant(self, token: str) -> ClipGrant | None:
        if not _TOKEN.match(token or ""):
            return None
        with self._lock:
            g = self._grants.get(token)
        return g if g is not None and g.expires > time.time() else None

    def first_fetch(self, grant: ClipGrant) -> bool:
        with self._lock:
            first, grant.served = not grant.served, True
        return first

    @staticmethod
    def url(grant: ClipGrant) -> str:
        return f"{ROUTE}/{grant.token}"


# ------------------------------------------------------------------------------------------- serving


class ClipRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def fetch(console: Console, who: Identity | None, token: str, client: str = "",
          why_not_signed_in: str = "") -> ClipGrant:
    """The clip behind ``token`` for ``who`` (None: not signed in); refusals are audited and raised."""
    grant = console.clips.grant(token)
    details: dict[str, Any] = {"token": token[:64]}
    if grant is not None:
        details.update(owner=grant.user, sighting=grant.sighting_id, video=grant.video, offset_s=grant.offset_s)

    def refuse(status: int, reason: str, message: str) -> ClipRefused:
        assert console.audit is not None
        console.audit.write("clip_denied", who, client=client if who is None else None,
                            case=grant.case if grant else "", purpose=grant.purpose if grant else "",
                            details={**details, "reason": reason})
        return ClipRefused(status, message)

    if who is None:
        raise refuse(401, why_not_signed_in or "not signed in", "Sign in to the console to play clips.")
    if grant is None:
        raise refuse(404, "unknown or expired clip", "No such clip: press Play clip again.")
    if grant.user != who.name or not who.can(Permission.SEARCH):
        raise refuse(403, "the clip was lent to another user", "This clip was opened by another user.")
    if not grant.path.is_file():
        raise refuse(404, "the clip left the cache", "The clip is no longer cached: press Play clip again.")
    if console.clips.first_fetch(grant):
        assert console.audit is not None
        console.audit.write("clip_served", who, case=grant.case, purpose=grant.purpose, details=details)
    return grant


def routes(console: Console) -> list[BaseRoute]:
    """The clip route, for ``gr.Blocks.launch(app_kwargs={"routes": ...})``."""

    async def serve(request: Request) -> Response:
        assert console.access is not None
        client = request.client.host if request.client else ""
        username = None if console.access.open_mode else await gradio_username(request)
        try:
            who, why = await run_in_threadpool(console.access.identify, username, client), ""
        except AccessDenied as exc:
            who, why = None, str(exc)
        try:
            grant = await run_in_threadpool(fetch, console, who, request.path_params["token"], client, why)
        except ClipRefused as refused:
            return PlainTextResponse(str(refused), status_code=refused.status, headers=_NO_STORE)
        # inline (the page's <video> plays it); FileResponse answers the Range requests a player makes
        return FileResponse(grant.path, media_type=grant.media_type, headers=_NO_STORE,
                            content_disposition_type="inline", filename=f"clip{grant.path.suffix}")

    return [Route(f"/{ROUTE}/{{token}}", serve, methods=["GET"])]
