"""Case files served by permission, not by path: exported reports (and any later case file).

Each export goes into a folder named by an unguessable token, ``exports/<token>/``, with a small
record beside the files (``owner.json``: who exported which files for which case). The console links
to ``case-files/<token>/<name>``, a route of its own (:func:`routes`), which serves a file only to the
user who exported it and to admins, and writes every download (``download``) and every refusal
(``download_denied``) to the audit log with the file, case, user and client address:

* not signed in, or signed in but neither the exporter nor an admin → 403;
* a token or file name this console never wrote → 404 (a guessed token: nothing to tell apart);
* Gradio's own file route never serves anything under ``exports/`` (:class:`CaseFileGuard` refuses
  and audits an attempt: 403).

Everything lives in the console's own folder (``core.state_paths.console_cache_dir``, 0700, files
0600), and so does Gradio's upload/cache folder (:func:`gradio_folder`), so two consoles on one host
never see each other's files. The identity comes from Gradio's own session cookie, resolved by
Gradio's own ``/gradio_api/user`` endpoint; in open mode it is the one local user.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from core.atomic_file import write_atomic
from core.auth import Identity, Role
from ui.access import AccessDenied
from ui.thumbnails import private_dir

if TYPE_CHECKING:
    from ui.console import Console

ROUTE = "case-files"  # served at /case-files/<token>/<name>; the page links to it relatively
RECORD = "owner.json"
TOKEN_BYTES = 24  # secrets.token_urlsafe: 32 characters, 192 random bits
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
GRADIO_API = "/gradio_api"  # gradio.route_utils.API_PREFIX, without importing Gradio here
# Gradio's file routes (the current one and its aliases): a request for a case file through them is refused.
_GRADIO_FILE = re.compile(r"^(?:/gradio_api)?/file[=/](.*)$", re.S)
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class CaseFileRecord:
    """Who exported the files in one token folder, for which case (``owner.json``)."""

    token: str
    case: str
    purpose: str
    user: str
    role: str
    created: str
    files: tuple[str, ...]

    def may_download(self, who: Identity) -> bool:
        return who.name == self.user or who.role is Role.ADMIN


class CaseFileStore:
    """The console's ``exports`` folder: one 0700 token folder per export, files 0600."""

    def __init__(self, root: str | Path):
        self.root = private_dir(root)

    def new_folder(self) -> Path:
        folder = self.root / secrets.token_urlsafe(TOKEN_BYTES)
        folder.mkdir(mode=0o700)  # a fresh token never exists: an existing one is an error, not a reuse
        return folder

    def register(self, folder: Path, who: Identity, case: str, purpose: str, files: Sequence[Path]) -> CaseFileRecord:
        """Record who may download ``files`` (all in ``folder``, made by :meth:`new_folder`)."""
        folder = Path(folder)
        if folder.parent != self.root or not _TOKEN.match(folder.name):
            raise ValueError(f"{folder} is not a case-file folder of {self.root}")
        names = tuple(Path(f).name for f in files)
        if any(Path(f).parent != folder or n == RECORD for f, n in zip(files, names, strict=True)):
            raise ValueError(f"case files must be written into {folder}")
        record = CaseFileRecord(token=folder.name, case=case, purpose=purpose, user=who.name, role=who.role.value,
                                created=datetime.now(UTC).isoformat(timespec="seconds"), files=names)
        write_atomic(folder / RECORD, json.dumps(asdict(record), indent=1).encode(), mode=0o600)
        return record

    def lookup(self, token: str) -> CaseFileRecord | None:
        """The record of ``token``, or None for anything this console did not write."""
        if not _TOKEN.match(token or ""):
            return None
        try:
            data = json.loads((self.root / token / RECORD).read_text(encoding="utf-8"))
            return CaseFileRecord(**{**data, "files": tuple(data["files"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def contains(self, path: str | Path) -> bool:
        """Whether ``path`` (as a request names it) points into this store."""
        target = Path(os.path.abspath(path))
        root = Path(os.path.abspath(self.root))
        return target == root or root in target.parents or self.root.resolve() in target.resolve().parents

    def url(self, path: Path) -> str:
        path = Path(path)
        if path.parent.parent != self.root:
            raise ValueError(f"{path} is not a case file of {self.root}")
        return f"{ROUTE}/{path.parent.name}/{quote(path.name)}"

    def links_html(self, paths: Sequence[Path]) -> str:
        """Download links for the page; each click goes through the permission check and the audit log."""
        items = "".join(f'<li><a href="{escape(self.url(p))}" download="{escape(p.name)}">{escape(p.name)}</a> '
                        f"({max(1, round(p.stat().st_size / 1024))} kB)</li>" for p in paths)
        return (f'<ul class="fs-downloads">{items}</ul><p class="fs-note">Only you and administrators can '
                "download these files; every download is logged.</p>")


def gradio_folder(console: Console) -> Path:
    """The console's own Gradio upload/cache folder (``GRADIO_TEMP_DIR``), inside its 0700 folder."""
    return private_dir(console.cache_dir / "gradio")


# ------------------------------------------------------------------------------------------- serving


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _audit(console: Console, who: Identity | None, client: str, record: CaseFileRecord | None, event: str,
           **details: Any) -> None:
    # Written here rather than through ui.policy.audit: the console builds this module's store, so this
    # module stays below ui.console and ui.policy. Nobody signed in: no account, but the address is logged.
    assert console.audit is not None
    console.audit.write(event, who, client=client if who is None else None,
                        case=record.case if record else "", purpose=record.purpose if record else "",
                        details=details)


def fetch(console: Console, who: Identity | None, token: str, name: str, client: str = "",
          why_not_signed_in: str = "") -> Path:
    """The case file ``token/name`` for ``who`` (None: not signed in), audited; raises :class:`Refused`."""
    record = console.case_files.lookup(token)
    details: dict[str, Any] = {"file": name[:200], "token": token[:64]}
    if record is not None:
        details["owner"] = record.user
    if who is None:
        _audit(console, None, client, record, "download_denied", **details,
               reason=why_not_signed_in or "not signed in")
        raise Refused(403, "Sign in to the console to download case files.")
    if record is None:
        _audit(console, who, client, None, "download_denied", **details, reason="unknown case file")
        raise Refused(404, "No such case file.")
    if not record.may_download(who):  # before the name: a foreign folder's contents are not confirmed either
        _audit(console, who, client, record, "download_denied", **details,
               reason="only the exporting user and admins may download it")
        raise Refused(403, "This case file was exported by another user: ask them or an administrator.")
    if name not in record.files or not (console.case_files.root / token / name).is_file():
        _audit(console, who, client, record, "download_denied", **details, reason="unknown case file")
        raise Refused(404, "No such case file.")
    path = console.case_files.root / token / name
    details["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    _audit(console, who, client, record, "download", **details)
    return path


async def gradio_username(request: Request) -> str | None:
    """The signed-in user behind a request, as Gradio resolves it (its ``/gradio_api/user`` endpoint:
    session cookie → name, or the app's ``auth_dependency``)."""
    for route in _all_routes(request.app.routes):
        if getattr(route, "path", None) == f"{GRADIO_API}/user":
            user = route.endpoint(request)
            return await user if inspect.isawaitable(user) else user
    raise RuntimeError("Gradio's /gradio_api/user endpoint is missing: cannot tell who is signed in")


def _all_routes(routes: Iterable[Any]) -> Iterator[Any]:
    # FastAPI keeps an included router (Gradio's /gradio_api one) as a wrapper around the original
    for route in routes:
        yield route
        yield from _all_routes(getattr(getattr(route, "original_router", None), "routes", None) or ())


async def _identify(console: Console, request: Request) -> tuple[Identity | None, str, str]:
    """(identity or None, why None, client address) for one request."""
    assert console.access is not None
    client = request.client.host if request.client else ""
    username = None if console.access.open_mode else await gradio_username(request)
    try:
        return await run_in_threadpool(console.access.identify, username, client), "", client
    except AccessDenied as exc:
        return None, str(exc), client


def routes(console: Console) -> list[BaseRoute]:
    """The download route, for ``gr.Blocks.launch(app_kwargs={"routes": ...})``."""

    async def download(request: Request) -> Response:
        token, name = request.path_params["token"], request.path_params["name"]
        who, why, client = await _identify(console, request)
        try:
            path = await run_in_threadpool(fetch, console, who, token, name, client, why)
        except Refused as refused:
            return PlainTextResponse(str(refused), status_code=refused.status, headers=_NO_STORE)
        # attachment: a report is never rendered inside the console's own origin
        return FileResponse(path, filename=name, content_disposition_type="attachment", headers=_NO_STORE)

    return [Route(f"/{ROUTE}/{{token}}/{{name}}", download, methods=["GET"])]


class CaseFileGuard:
    """Pure ASGI: Gradio's ``/gradio_api/file=`` never serves a case file; an attempt is refused and audited.

    Gradio would refuse it too (the exports folder is not among its allowed paths); this makes the
    attempt visible in the audit log.
    """

    def __init__(self, app: Any, console: Console):
        self.app = app
        self.console = console

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        match = _GRADIO_FILE.match(str(scope.get("path", ""))) if scope.get("type") == "http" else None
        if match is None or not self.console.case_files.contains(match.group(1)):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        who, why, client = await _identify(self.console, request)
        target = Path(match.group(1))
        token = target.parent.name if target.parent != self.console.case_files.root else ""
        record = self.console.case_files.lookup(token)
        details: dict[str, Any] = {"file": target.name[:200], "token": token[:64], "via": "gradio file route",
                                   "reason": why or "case files are only served through case-files/…"}
        if record is not None:
            details["owner"] = record.user
        await run_in_threadpool(_audit, self.console, who, client, record, "download_denied", **details)
        await PlainTextResponse("File not allowed.", status_code=403, headers=_NO_STORE)(scope, receive, send)
