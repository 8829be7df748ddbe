"""The console's HTTP layer, in one pure ASGI middleware (:class:`HttpGuard`), in front of every Gradio route.

1. **One client address.** The socket's peer, whatever the headers say; ``X-Forwarded-For`` is honoured
   only when the peer is one of ``ui.trusted_proxies``, and then the client is the rightmost address in
   it that is not a trusted proxy. The guard writes that address into the ASGI scope, so the login
   lockout, the audit log's ``client`` and every ``gr.Request`` see the same one. Uvicorn, as Gradio
   starts it, would rewrite the client from ``X-Forwarded-For`` sent by any loopback peer: the guard
   switches that off on the running server (:func:`disarm_uvicorn_proxy_headers`) and refuses forwarded
   requests until it has.
2. **A live session on every request.** In login mode, a request carrying a Gradio session cookie is
   checked against the users file each time: a removed account, or one whose password was set again
   since that login, loses the session at once (401, and the token is revoked). Without a live session
   only the login page, the login POST and the files that page needs are served.
3. **One API by name.** ``/gradio_api/call|run|api/<name>`` only for the names in ``api_names`` (the
   console's ``/search``); the UI's events are reached only through the queue, as the page does.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from starlette.requests import HTTPConnection

from core.auth import AccountError
from core.config import ConfigError
from ui.access import ConsoleAccess, login_client

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
API_PREFIX = "/gradio_api"
# What the login page needs before anyone is signed in (what chromium fetches for it: the page, its
# theme and its scripts), signing in and out, and the call Gradio's launch() makes to itself. Anything
# else without a live session is refused here, whatever Gradio itself would allow.
PUBLIC_PATHS = frozenset({"/", "/login", "/login/", "/logout", "/theme.css", "/favicon.ico",
                          f"{API_PREFIX}/startup-events"})
PUBLIC_PREFIXES = ("/assets/", "/static/")
BY_NAME_ROUTES = ("call", "run", "api")  # /gradio_api/call/<name>, call/v2/<name>, run/<name>, api/<name>


def parse_ip(value: str) -> IPAddress | None:
    """An address as proxies write it ("1.2.3.4", "1.2.3.4:5678", "[::1]:80", "::1"); None if it is not one."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1:value.find("]")] if "]" in value else value
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: one client, one address.
    return ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str], setting: str = "ui.trusted_proxies") -> TrustedProxies:
        nets = []
        for entry in entries:
            try:
                nets.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise ConfigError(f"{setting}: {entry!r} is not an IP address or network (e.g. 10.0.0.5, "
                                  "10.0.0.0/24, ::1)") from None
        return cls(tuple(nets))

    def __contains__(self, ip: IPAddress | None) -> bool:
        return ip is not None and any(ip in net for net in self.networks)

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        """The client behind ``peer``: the peer itself unless it is a trusted proxy (see the module doc)."""
        peer_ip = parse_ip(peer)
        if peer_ip not in self or not forwarded_for:
            return str(peer_ip) if peer_ip is not None else peer
        hops = [parse_ip(v) for header in forwarded_for for v in header.split(",") if v.strip()]
        for hop in reversed(hops):
            if hop is None:  # a hop a trusted proxy did not write: trust nothing further left
                break
            if hop not in self:
                return str(hop)
        # only proxies (or garbage) in the header: the nearest address we know for certain
        return str(peer_ip)


def disarm_uvicorn_proxy_headers(blocks: Any) -> bool:
    """Stop uvicorn's ProxyHeadersMiddleware on Gradio's running server from rewriting the client.

    Gradio builds ``uvicorn.Config`` with ``proxy_headers`` on and uvicorn's default trust list
    (127.0.0.1, ::1), with no way to change either. The middleware instance is shared by every
    connection, so emptying its trust list in place takes effect at once. False: no running server
    found, or a uvicorn shape this does not know (then forwarded requests stay refused).
    """
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    config = getattr(getattr(blocks, "server", None), "config", None)
    if config is None or not getattr(config, "loaded", False):
        return False
    if not config.proxy_headers:
        return True
    app, found = config.loaded_app, False
    for _ in range(8):  # uvicorn wraps the app in at most a few of its own middlewares
        if isinstance(app, ProxyHeadersMiddleware):
            app.trusted_hosts = frozenset()  # `peer in trusted_hosts` is all it asks
            found = True
        app = getattr(app, "app", None)
        if app is None:
            break
    return found


def account_version(password_hash: str) -> str:
    # A fresh salt on every `users add` (and --replace): a new hash means a new account or password.
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:24]


class HttpGuard:
    """Pure ASGI middleware; see the module doc. Give it to Gradio through ``app_kwargs["middleware"]``."""

    def __init__(self, app: Any, access: ConsoleAccess, proxies: TrustedProxies = TrustedProxies(),
                 api_names: Iterable[str] = ("search",)):
        self.app = app
        self.access = access
        self.proxies = proxies
        self.api_names = frozenset(api_names)
        self._uvicorn_disarmed = False
        self._issued: dict[str, str] = {}  # session token -> account_version at its login

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        gradio_app = scope.get("app")
        forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"x-forwarded-for"]
        if not self._uvicorn_disarmed:
            self._uvicorn_disarmed = disarm_uvicorn_proxy_headers(_blocks(gradio_app))
            if not self._uvicorn_disarmed and forwarded:
                # uvicorn may already have replaced the peer with an address from the header
                await _refuse(scope, send, 503, "the console is still starting (or runs under a server it "
                                                "cannot secure): X-Forwarded-For is not accepted yet")
                return
        peer, port = (scope.get("client") or ("", 0))[:2]
        client = self.proxies.client(str(peer), forwarded)
        scope["client"] = (client, port if client == peer else 0)
        path = _path(scope)

        name = _called_by_name(path)
        if name is not None and name not in self.api_names:
            await _refuse(scope, send, 404, f"there is no API endpoint {name!r}: the console's API is "
                                            f"{', '.join('/' + n for n in sorted(self.api_names))} only")
            return
        if self.access.open_mode:
            await self._forward(scope, receive, send, client)
            return

        token, user = _session(gradio_app, scope)
        if user is not None:
            try:
                live = self._live(token, user)
            except AccountError as exc:
                await _refuse(scope, send, 503, str(exc))
                return
            if not live:
                _tokens(gradio_app).pop(token, None)  # for good: re-adding the name does not revive it
                self._issued.pop(token, None)
                user = None
                if not _public(path):
                    await _refuse(scope, send, 401, "this session has ended: the account was removed or its "
                                                    "password changed; sign in again")
                    return
        if user is None and not _public(path):
            await _refuse(scope, send, 401, "Not authenticated: sign in first")
            return
        await self._forward(scope, receive, send, client)

    def _live(self, token: str, name: str) -> bool:
        user = self.access.authenticator.store.get(name)
        if user is None:
            return False
        issued = self._issued.get(token)
        return issued is None or issued == account_version(user.password_hash)

    async def _forward(self, scope: dict, receive: Any, send: Any, client: str) -> None:
        if _path(scope) not in ("/login", "/login/") or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        gradio_app = scope.get("app")

        async def remember_login(message: dict) -> None:
            # Note which account version this new session belongs to (see _live).
            if message.get("type") == "http.response.start" and message.get("status") == 200:
                self._remember(gradio_app, message.get("headers", []))
            await send(message)

        reset = login_client.set(client)  # Gradio calls the auth function with a name and password only
        try:
            await self.app(scope, receive, remember_login)
        finally:
            login_client.reset(reset)

    def _remember(self, gradio_app: Any, headers: list[tuple[bytes, bytes]]) -> None:
        tokens = _tokens(gradio_app)
        for key, value in headers:
            if key.lower() != b"set-cookie":
                continue
            for morsel in SimpleCookie(value.decode("latin-1")).values():
                name = tokens.get(morsel.value)
                user = self.access.authenticator.store.get(name) if name else None
                if user is not None:
                    self._issued[morsel.value] = account_version(user.password_hash)
        if len(self._issued) > 2 * len(tokens) + 1000:  # logged-out sessions: forget them
            self._issued = {t: v for t, v in self._issued.items() if t in tokens}


def _blocks(gradio_app: Any) -> Any:
    get = getattr(gradio_app, "get_blocks", None)
    try:
        return get() if get else None
    except Exception:  # not configured yet
        return None


def _path(scope: dict) -> str:
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    return path[len(root):] or "/" if root and path.startswith(root) else path


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _called_by_name(path: str) -> str | None:
    """The endpoint name of a by-name call (``/gradio_api/call/search``, ``.../call/v2/x``, ``.../run/x``)."""
    if not path.startswith(API_PREFIX + "/"):
        return None
    parts = [p for p in path[len(API_PREFIX) + 1:].split("/") if p]
    if not parts or parts[0] not in BY_NAME_ROUTES or len(parts) < 2:
        return None
    if parts[0] == "call" and parts[1] == "v2":
        return parts[2] if len(parts) > 2 else ""
    return parts[1]


def _tokens(gradio_app: Any) -> dict[str, str]:
    # Gradio's session table (token -> user name); none at all means no session is ever valid
    tokens = getattr(gradio_app, "tokens", None)
    return tokens if isinstance(tokens, dict) else {}


def _session(gradio_app: Any, scope: dict) -> tuple[str, str | None]:
    """Gradio's own mapping (routes.py ``get_current_user``): its cookie, then ``app.tokens``."""
    cookies = HTTPConnection(scope).cookies
    cookie_id = getattr(gradio_app, "cookie_id", "")
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}") or ""
    return token, _tokens(gradio_app).get(token)


async def _refuse(scope: dict, send: Any, status: int, detail: str) -> None:
    if scope.get("type") == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
