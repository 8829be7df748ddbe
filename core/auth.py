"""Console accounts: roles, scrypt password hashes, the users file, and login rate limiting.

Two roles. An **operator** searches, builds routes and exports case reports; an **admin** may also
start a reindex and manage accounts. The console checks the role in its handlers, on the server, for
every action (hiding a button is only a convenience).

Passwords are stored as ``scrypt$N$r$p$salt$hash`` (``hashlib.scrypt``, a fresh 16-byte salt per
user) and compared in constant time; the file holds no plain-text secret. Failed logins are counted
per user name and per client address; after ``auth.max_failures`` for a name (or
``auth.max_client_failures`` from one address) within ``auth.lockout_s``, further tries are refused,
whatever the password, until the window has passed. Every login, failure and refusal goes to the
audit log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from core.atomic_file import write_atomic
from core.config import Config
from core.errors import FootageSearchError
from core.state_paths import beside_index

if TYPE_CHECKING:
    from core.audit import AuditLog

USERS_FORMAT = "footage-search-users"
USERS_VERSION = 1
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10
# scrypt cost: N=2^14, r=8 is ~16 MiB and a few tens of ms per check, the usual interactive-login
# setting; stored with each hash so it can be raised later without invalidating old ones.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
MAX_SCRYPT_N = 2**20  # a tampered users file must not make one login cost gigabytes


class Role(StrEnum):
    OPERATOR = "operator"
    ADMIN = "admin"


class Permission(StrEnum):
    SEARCH = "search"
    ROUTE = "route"
    EXPORT = "export"
    REINDEX = "reindex"
    MANAGE_USERS = "manage users"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.SEARCH, Permission.ROUTE, Permission.EXPORT}),
    Role.ADMIN: frozenset(Permission),
}


class AccountError(FootageSearchError, ValueError):
    """A bad user name, role, password or users file; the message says which."""


@dataclass(frozen=True)
class Identity:
    """Who is acting: a signed-in user, the open loopback console, or a command-line administrator."""

    name: str
    role: Role
    authenticated: bool = True  # False: nobody signed in (open console, or a shell on the server)
    client: str = ""  # the client's address, for the audit log

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def cli_identity() -> Identity:
    """Whoever runs an admin command in a shell on the server (the OS account is all we know)."""
    try:
        import getpass

        who = getpass.getuser()
    except Exception:  # no passwd entry (containers)
        who = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return Identity(f"cli:{who}", Role.ADMIN, authenticated=False, client="local shell")


# ---------------------------------------------------------------------------------------- hashing


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_LEN,
                            maxmem=256 * 1024 * 1024)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n_s, r_s, p_s, salt_s, digest_s = stored.split("$")
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt, digest = base64.b64decode(salt_s, validate=True), base64.b64decode(digest_s, validate=True)
    except (ValueError, TypeError):
        return False
    if scheme != "scrypt" or not (2 <= n <= MAX_SCRYPT_N) or not (1 <= r <= 32) or not (1 <= p <= 16) or not digest:
        return False
    got = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(digest),
                         maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(got, digest)


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise AccountError(f"bad user name {name!r}: 1 to 64 letters, digits, '.', '_', '@' or '-', "
                        "starting with a letter or digit")
    return name


def check_role(role: str) -> Role:
    try:
        return Role((role or "").strip().lower())
    except ValueError:
        raise AccountError(f"bad role {role!r}: {' or '.join(r.value for r in Role)}") from None


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password != password.strip() or "\n" in password:
        raise AccountError("the password must not start or end with spaces or contain line breaks")
    return password


# ------------------------------------------------------------------------------------------ users


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str = field(repr=False)
    created: str = ""
    created_by: str = ""


def users_file_for(cfg: Config) -> Path:
    return beside_index(cfg, cfg.auth.users_file, "users.json", "auth.users_file")


class UserStore:
    """The users file: read on demand (re-read when it changes on disk), written atomically, mode 0600.

    The console and the ``users`` command share the file, so a user added or removed from a shell
    takes effect on that user's next action in a running console.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int], dict[str, User]] | None = None

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def users(self) -> dict[str, User]:
        with self._lock:
            stamp = self._stamp()
            if stamp is None:
                return {}
            if self._cache is None or self._cache[0] != stamp:
                self._cache = (stamp, self._read())
            return dict(self._cache[1])

    def get(self, name: str) -> User | None:
        # User names are matched exactly as stored; names differing only in case are refused at creation.
        return self.users().get((name or "").strip())

    def __bool__(self) -> bool:  # "are there any users", i.e. must the console ask for a login
        return bool(self.users())

    def _read(self) -> dict[str, User]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise AccountError(f"cannot read the users file {self.path}: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != USERS_FORMAT:
            raise AccountError(f"{self.path} is not a footage-search users file")
        out: dict[str, User] = {}
        for i, u in enumerate(doc.get("users", [])):
            try:
                user = User(name=check_name(u["name"]), role=check_role(u["role"]), password_hash=u["password"],
                            created=u.get("created", ""), created_by=u.get("created_by", ""))
            except (KeyError, TypeError, AccountError) as exc:
                raise AccountError(f"{self.path}: user entry {i + 1} is invalid ({exc})") from None
            out[user.name] = user
        return out

    def _write(self, users: Iterable[User]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"format": USERS_FORMAT, "version": USERS_VERSION,
               "users": [{"name": u.name, "role": u.role.value, "password": u.password_hash, "created": u.created,
                          "created_by": u.created_by} for u in sorted(users, key=lambda u: u.name)]}
        # 0600: hashes are still worth protecting from offline guessing
        write_atomic(self.path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"), prefix=".users-", mode=0o600)

    def _locked(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.path) + ".lock", timeout=30)

    def add(self, name: str, role: str | Role, password: str, *, created_by: str = "", replace: bool = False) -> User:
        name, role = check_name(name), check_role(role)
        check_password(password)
        with self._locked():
            users = self._read() if self.path.exists() else {}
            clash = next((u for u in users if u.lower() == name.lower()), None)
            if clash is not None and not replace:
                raise AccountError(f"user {clash!r} already exists (use --replace to set a new password or role)")
            if clash is not None and clash != name:
                raise AccountError(f"user {clash!r} already exists; names differing only in case are not allowed")
            if clash is not None and users[clash].role == Role.ADMIN and role != Role.ADMIN:
                _keep_an_admin(users, removing=clash)
            user = User(name, role, hash_password(password), time.strftime("%Y-%m-%dT%H:%M:%S%z"), created_by)
            users[name] = user
            self._write(users.values())
        return user

    def remove(self, name: str) -> User:
        name = (name or "").strip()
        with self._locked():
            users = self._read() if self.path.exists() else {}
            if name not in users:
                raise AccountError(f"no user {name!r} in {self.path}")
            if users[name].role == Role.ADMIN:
                _keep_an_admin(users, removing=name)
            gone = users.pop(name)
            self._write(users.values())
        return gone


def _keep_an_admin(users: dict[str, User], removing: str) -> None:
    # Without an admin nobody could reindex or manage accounts from the console any more.
    if not any(u.role == Role.ADMIN for n, u in users.items() if n != removing) and len(users) > 1:
        raise AccountError(f"{removing!r} is the last admin: add another admin first")


# ------------------------------------------------------------------------------------- rate limit


@dataclass
class LoginGuard:
    """Sliding-window counter of failed logins per key ("user:NAME", "client:ADDR").

    A client address gets a larger allowance than a user name: the operators of one control room often
    reach the console from one address (NAT, a proxy), and one person's typos must not lock them all out.
    """

    max_failures: int = 5
    window_s: float = 300.0
    max_client_failures: int = 20
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000  # bounded memory when someone sprays random names
    _fails: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            self._fails.pop(key, None)
        return q

    def blocked_for(self, *keys: str) -> float:
        """Seconds until these keys may try again (0: not blocked)."""
        with self._lock:
            now = self.clock()
            wait = 0.0
            for key in keys:
                q = self._recent(key, now)
                limit = self.max_client_failures if key.startswith("client:") else self.max_failures
                if limit > 0 and len(q) >= limit:
                    wait = max(wait, q[-limit] + self.window_s - now)
            return wait

    def failed(self, *keys: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._fails) >= self.max_keys:
                for key in list(self._fails):
                    self._recent(key, now)
            for key in keys:
                if key in self._fails or len(self._fails) < self.max_keys:
                    self._fails.setdefault(key, deque()).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


# ---------------------------------------------------------------------------------- authenticator


@dataclass
class Authenticator:
    """Checks a name and password against the users file, with rate limiting and an audit record."""

    store: UserStore
    guard: LoginGuard
    audit: AuditLog | None = None
    _dummy_hash: str = field(default="", repr=False)

    @classmethod
    def for_config(cls, cfg: Config, audit: AuditLog | None = None) -> Authenticator:
        guard = LoginGuard(cfg.auth.max_failures, cfg.auth.lockout_s, cfg.auth.max_client_failures)
        return cls(UserStore(users_file_for(cfg)), guard, audit)

    def _dummy(self) -> str:
        # Checking unknown names against a real hash costs the same time: no user-name oracle.
        if not self._dummy_hash:
            self._dummy_hash = hash_password(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _record(self, event: str, name: str, client: str, role: str = "", **details: object) -> None:
        if self.audit is not None:
            self.audit.write(event, None, user=name[:64], role=role, client=client, details=details)

    def authenticate(self, name: str, password: str, client: str = "") -> Identity | None:
        name = (name or "").strip()
        keys = [f"user:{name.lower()}"] + ([f"client:{client}"] if client else [])
        wait = self.guard.blocked_for(*keys)
        if wait > 0:
            self._record("login_refused", name, client, reason="too many failed logins", retry_after_s=round(wait))
            return None
        user = self.store.get(name)
        ok = verify_password(password or "", user.password_hash if user is not None else self._dummy())
        if user is None or not ok:
            self.guard.failed(*keys)
            self._record("login_failed", name, client, reason="unknown user" if user is None else "wrong password")
            return None
        self.guard.succeeded(keys[0])
        self._record("login", user.name, client, role=user.role.value)
        return Identity(user.name, user.role, True, client)
