"""Who may use the console: login mode or open loopback mode, and the checks around ``launch``.

* **Login mode** (the users file has at least one user): Gradio's login page, checked by
  :meth:`ConsoleAccess.gradio_auth` against the scrypt hashes, rate limited and audited; every event
  then knows the signed-in user (``gr.Request.username``), whose role is looked up again on each
  action, so a removed user or a changed role takes effect at once (and :mod:`ui.http_guard` checks the
  session on every other HTTP request too).
* **Open mode** (no users at all): no login, for the demo on one machine. Everyone acts as ``local``
  with the admin role, and the console says so in its header. Only allowed on a loopback address:
  :func:`check_bind` refuses anything else.

Nothing here imports Gradio: the login callable is plain Python. The HTTP side (the client address,
a live session on every request, the one API by name) is :mod:`ui.http_guard`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from core.audit import AuditLog
from core.auth import Authenticator, Identity, Role, users_file_for
from core.config import Config, ConfigError
from core.errors import FootageSearchError

OPEN_USER = "local"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}

# The login request's client address, set by ui.http_guard.HttpGuard for the duration of that request
# only: Gradio calls the auth function with just a name and a password.
login_client: ContextVar[str] = ContextVar("footage_search_login_client", default="")


class AccessDenied(FootageSearchError):
    """Not signed in, or the role does not allow the action; shown to the operator as is."""


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ConsoleAccess:
    authenticator: Authenticator
    audit: AuditLog
    open_mode: bool  # decided when the console starts: adding the first user needs a restart

    @classmethod
    def for_config(cls, cfg: Config, audit: AuditLog) -> ConsoleAccess:
        auth = Authenticator.for_config(cfg, audit)
        return cls(auth, audit, open_mode=not auth.store)

    @property
    def users_file(self) -> Path:
        return self.authenticator.store.path

    def identify(self, username: str | None, client: str = "") -> Identity:
        """The identity behind one request; raises :class:`AccessDenied` for no or an unknown user."""
        if self.open_mode:
            return Identity(OPEN_USER, Role.ADMIN, authenticated=False, client=client)
        if not username:
            raise AccessDenied("You are not signed in: reload the page and sign in.")
        user = self.authenticator.store.get(username)
        if user is None:
            raise AccessDenied(f"The account {username!r} no longer exists: ask an administrator.")
        return Identity(user.name, user.role, True, client)

    async def gradio_auth(self, username: str, password: str) -> bool:
        """``launch(auth=...)``: scrypt runs in a worker thread, not on the server's event loop."""
        client = login_client.get()
        who = await asyncio.to_thread(self.authenticator.authenticate, username, password, client)
        return who is not None


def check_bind(host: str, access: ConsoleAccess) -> None:
    """Refuse to serve an open console to the network."""
    check_bind_mode(host, access.open_mode, access.users_file)


def check_bind_mode(host: str, open_mode: bool, users_file: Path) -> None:
    if open_mode and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host or 'all interfaces'} without login: anyone who can reach this machine "
            "could search the footage. Add a user first (footage-search users add NAME --role admin; users file "
            f"{users_file}), or listen on 127.0.0.1 (--host 127.0.0.1) for an open console on this machine only.")


def check_bind_config(host: str, cfg: Config) -> tuple[bool, Path]:
    """:func:`check_bind` before anything is loaded; returns (open mode, users file)."""
    from core.auth import UserStore

    path = users_file_for(cfg)
    open_mode = not UserStore(path)
    check_bind_mode(host, open_mode, path)
    return open_mode, path
