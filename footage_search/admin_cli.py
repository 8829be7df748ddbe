"""``footage-search users``, ``footage-search audit verify|acknowledge`` and ``footage-search purge``.

Administration from a shell on the server: whoever can run these can read the users file and the
index anyway, so they need no console login; each is written to the audit log as ``cli:<os user>``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from core.config import Config


def register(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("users", help="console accounts: add, list, remove",
                       description="Manage the console's accounts in the users file (auth.users_file, default "
                                   "users.json beside the index folder). Passwords are stored as scrypt hashes.")
    u.add_argument("--file", type=Path, help="users file (overrides auth.users_file)")
    usub = u.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=("operator", "admin"), default="operator",
                     help="operator: search, route, export; admin: also reindex and manage users")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of stdin (scripts) instead of asking")
    add.add_argument("--replace", action="store_true", help="set a new password/role for an existing user")
    add.set_defaults(handler=run_users_add)
    ls = usub.add_parser("list", help="list users and roles")
    ls.set_defaults(handler=run_users_list)
    rm = usub.add_parser("remove", help="remove a user")
    rm.add_argument("name")
    rm.set_defaults(handler=run_users_remove)

    a = sub.add_parser("audit", help="check the audit log; acknowledge a refused one",
                       description="Check the audit log's hash chain and sealed head(s) (and HMACs when "
                                   "audit.hmac_key is set); record what was found when the log was refused.")
    asub = a.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    v = asub.add_parser("verify", help="verify the hash chain and head(s); exit 1 naming the first bad line")
    v.add_argument("--log", type=Path, help="audit log file (default audit.log_path)")
    v.set_defaults(handler=run_audit_verify)
    ack = asub.add_parser("acknowledge", help="after a refusal: write a tamper record saying what was found and "
                                              "why, and seal the log again",
                          description="When the log no longer matches its head (cut, head deleted, lines added), "
                                      "every audited action is refused. Check the log (audit verify), then record "
                                      "it here: a `tamper` record with your name, the reason, and each head's "
                                      "seal against the file's actual end; numbering goes on after the highest "
                                      "number ever sealed.")
    ack.add_argument("--reason", required=True, help="what happened, in a sentence (at least 10 characters)")
    ack.add_argument("--log", type=Path, help="audit log file (default audit.log_path)")
    ack.set_defaults(handler=run_audit_acknowledge)

    p = sub.add_parser("purge", help="delete sightings and pictures older than N days (retention)",
                       description="Delete sightings, frame vectors and the console's cached pictures of footage "
                                   "older than DAYS, while holding the indexer lock; purged videos are not "
                                   "reindexed unless they change or `index --retry-failed` is used. Audited.")
    p.add_argument("--older-than", type=float, metavar="DAYS",
                   help="age in days (default retention.days)")
    p.add_argument("--dry-run", action="store_true", help="only count what would go")
    p.add_argument("--index", dest="index_uri", help="index location (overrides storage.index_uri)")
    p.add_argument("--cache-dir", type=Path, action="append",
                   help="console cache folder to clean too (default ui.cache_dir or the console's default); "
                        "repeatable")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for a running indexer to finish")
    p.set_defaults(handler=run_purge)

    from footage_search.cli_options import add_global_options

    # the nested actions take the global options after them too (`users add kim --set ...`)
    for parser in (add, ls, rm, v, ack):
        add_global_options(parser, suppress=True)


def _store(args: argparse.Namespace, cfg: Config):
    from core.auth import UserStore, users_file_for

    return UserStore(args.file if args.file else users_file_for(cfg))


def _audit(cfg: Config):
    from core.audit import AuditLog

    return AuditLog.for_config(cfg)


def _read_password(args: argparse.Namespace) -> str:
    from core.errors import UserError

    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("--password-stdin: nothing on stdin")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the passwords differ")
    return first


def run_users_add(args: argparse.Namespace, cfg: Config) -> int:
    from core.auth import check_name, cli_identity

    check_name(args.name)  # before asking for a password
    store = _store(args, cfg)
    who = cli_identity()
    user = store.add(args.name, args.role, _read_password(args), created_by=who.name, replace=args.replace)
    _audit(cfg).write("user_add", who, details={"name": user.name, "role": user.role.value,
                                                          "replaced": bool(args.replace), "file": str(store.path)})
    print(f"{'updated' if args.replace else 'added'} {user.name} ({user.role.value}) in {store.path}")
    if len(store.users()) == 1:
        print("the first user: restart a running console (it runs open without users) to require a login")
    return 0


def run_users_list(args: argparse.Namespace, cfg: Config) -> int:

    store = _store(args, cfg)
    users = sorted(store.users().values(), key=lambda u: u.name)
    if not users:
        print(f"no users in {store.path}: the console runs open (loopback only)")
        return 0
    print(f"users in {store.path}:")
    for u in users:
        print(f"  {u.name:<24} {u.role.value:<9} created {u.created or '?'} by {u.created_by or '?'}")
    return 0


def run_users_remove(args: argparse.Namespace, cfg: Config) -> int:
    from core.auth import cli_identity

    store = _store(args, cfg)
    gone = store.remove(args.name)
    _audit(cfg).write("user_remove", cli_identity(), details={"name": gone.name, "role": gone.role.value,
                                                                         "file": str(store.path)})
    print(f"removed {gone.name} from {store.path}")
    return 0


def _audit_files(args: argparse.Namespace, cfg: Config) -> tuple[Path, Path | None]:
    """The log (``--log`` or audit.log_path) and its mirror head (only for the configured log)."""
    from core.audit import audit_log_path, head_mirror_path

    configured = audit_log_path(cfg)
    path = args.log if args.log else configured
    same = path.resolve() == configured.resolve()
    return path, head_mirror_path(cfg) if same else None


def run_audit_verify(args: argparse.Namespace, cfg: Config) -> int:
    from core.audit import audit_key
    from core.audit_verify import verify_log

    path, mirror = _audit_files(args, cfg)
    result = verify_log(path, audit_key(cfg), mirror)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    for line in result.acknowledged:
        print(f"  acknowledged: {line}")
    return 0 if result.ok else 1


def run_audit_acknowledge(args: argparse.Namespace, cfg: Config) -> int:
    from core.audit import AuditLog, audit_key
    from core.auth import cli_identity

    path, mirror = _audit_files(args, cfg)
    record = AuditLog(path, audit_key(cfg), mirror).acknowledge(cli_identity(), args.reason)
    for problem in record["details"]["found"]:
        print(f"found: {problem}")
    print(f"tamper record {record['seq']} written to {path} by {record['user']}; the log is sealed again and "
          "auditing goes on (footage-search audit verify lists the acknowledged gap)")
    return 0


def run_purge(args: argparse.Namespace, cfg: Config) -> int:
    from core.auth import cli_identity
    from core.errors import UserError
    from core.state_paths import default_cache_dir
    from footage_search.retention import purge

    if args.index_uri:
        cfg = cfg.with_overrides({"storage.index_uri": args.index_uri}, origin="command line", base_dir=Path.cwd())
    days = args.older_than if args.older_than is not None else cfg.retention.days
    if not days or days <= 0:
        raise UserError("say how old: --older-than DAYS (a positive number), or set retention.days")
    caches = args.cache_dir or [default_cache_dir(cfg)]
    report = purge(cfg, days, dry_run=args.dry_run, cache_dirs=caches, audit=_audit(cfg), actor=cli_identity(),
                   wait_s=args.wait)
    print("\n".join(report.lines()))
    return 0
