"""The web app's state: one SQLite file in the workspace (``web.db``, WAL), with numbered migrations.

Tables: users (argon2 password hashes, role supporter | admin), api_keys (SHA-256 of the key: keys are
32 random bytes, so a fast hash is safe where a password needs argon2, and every API request can check
one), sessions (SHA-256 of the cookie's session id, with its CSRF token), settings (the cookie signing
secret), and the audit log.

The audit log is append-only and hash-chained: each row's ``hash`` is SHA-256 over the previous row's
hash and the row's own fields, so changing, inserting or deleting a row breaks the chain from there on
(``verify_audit``). Triggers refuse UPDATE and DELETE; retention (``purge_audit``) deletes the oldest
rows in one transaction and records the last deleted row's hash as the anchor the chain now starts
from, so the rest stays verifiable. Rows hold tiers, rule ids, actions, model versions and user names;
post and reply text only when the operator turns ``audit_text`` on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import json
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from llumi.errors import ConfigError, InputError
from llumi.rate.study import MIGRATION as RATE_MIGRATION

ROLES = ("supporter", "admin")
GENESIS = "0" * 64
KEY_PREFIX = "llumi_"

MIGRATIONS: list[str] = [
    # 1: users, keys, sessions, settings, the audit chain
    """
    create table users (
        id integer primary key,
        username text not null unique collate nocase,
        password_hash text not null,
        role text not null check (role in ('supporter', 'admin')),
        created real not null,
        disabled integer not null default 0
    );
    create table api_keys (
        id integer primary key,
        user_id integer not null references users(id),
        name text not null,
        prefix text not null,
        key_hash text not null unique,
        created real not null,
        last_used real,
        revoked integer not null default 0
    );
    create table sessions (
        id_hash text primary key,
        user_id integer not null references users(id),
        csrf text not null,
        created real not null,
        expires real not null
    );
    create table settings (key text primary key, value text not null);
    create table audit (
        seq integer primary key,
        ts real not null,
        event text not null,
        username text,
        details text not null,
        prev_hash text not null,
        hash text not null
    );
    create index audit_ts on audit(ts);
    create index audit_event on audit(event);
    create table audit_anchor (id integer primary key check (id = 1), seq integer not null, hash text not null,
                               purged_at real not null);
    create table audit_purging (id integer primary key);
    create trigger audit_no_update before update on audit
        begin select raise(abort, 'the audit log is append-only'); end;
    create trigger audit_no_delete before delete on audit
        when (select count(*) from audit_purging) = 0
        begin select raise(abort, 'the audit log is append-only: use llumi audit purge'); end;
    """,
    # 2: rating studies (llumi.rate.study): raters' credentials, studies, items, consents, answers
    RATE_MIGRATION,
]


def _now() -> float:
    return time.time()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _row_hash(prev: str, seq: int, ts: float, event: str, username: str | None, details: str) -> str:
    body = json.dumps([prev, seq, repr(ts), event, username, details], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def parse_age(text: str) -> float:
    """'30d', '12h', '90m', '45s' -> seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].replace(".", "", 1).isdigit():
        raise ConfigError(f"age {text!r} is not like 30d, 12h, 90m or 45s")
    return float(text[:-1]) * units[text[-1]]


class Database:
    """One connection shared by the server's threads behind a lock (SQLite serialises writes anyway)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        if not self.path.exists():  # password hashes, key hashes and the audit log: owner only
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.con.row_factory = sqlite3.Row
        self.con.execute("pragma journal_mode=wal")
        self.con.execute("pragma foreign_keys=on")
        self.con.execute("pragma synchronous=normal")
        self.migrate()

    @property
    def lock(self) -> threading.RLock:
        """Held around every use of ``con`` (other modules' tables use it too: llumi.rate.study)."""
        return self._lock

    def close(self) -> None:
        with self._lock:
            self.con.close()

    # --- schema --------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._lock:
            self.con.execute("create table if not exists schema_version (version integer not null)")
            row = self.con.execute("select max(version) from schema_version").fetchone()
            return row[0] or 0

    def migrate(self) -> int:
        with self._lock:
            current = self.schema_version()
            if current > len(MIGRATIONS):
                raise ConfigError(f"{self.path} has schema version {current}, newer than this LLUMI "
                                  f"({len(MIGRATIONS)}): upgrade LLUMI")
            for version in range(current + 1, len(MIGRATIONS) + 1):
                self.con.execute("begin immediate")
                try:
                    for stmt in _statements(MIGRATIONS[version - 1]):
                        self.con.execute(stmt)
                    self.con.execute("insert into schema_version values (?)", (version,))
                    self.con.execute("commit")
                except BaseException:
                    self.con.execute("rollback")
                    raise
            return len(MIGRATIONS)

    def _one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self.con.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.con.execute(sql, args).fetchall()

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.con.execute(sql, args)

    # --- settings ------------------------------------------------------------------------
    def secret(self, name: str = "cookie_secret") -> str:
        """A random secret kept in the database (created on first use)."""
        with self._lock:
            row = self._one("select value from settings where key = ?", (name,))
            if row:
                return row[0]
            value = secrets.token_hex(32)
            self._exec("insert into settings values (?, ?)", (name, value))
            return value

    # --- users ---------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: str = "supporter") -> dict[str, Any]:
        from llumi.web.security import hash_password

        username = (username or "").strip()
        if not username or len(username) > 64 or any(c.isspace() for c in username):
            raise InputError("a user name is 1-64 characters without spaces")
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if len(password) < 10:
            raise InputError("a password needs at least 10 characters")
        with self._lock:
            if self._one("select 1 from users where username = ?", (username,)):
                raise InputError(f"user {username!r} exists already")
            cur = self._exec("insert into users (username, password_hash, role, created) values (?, ?, ?, ?)",
                             (username, hash_password(password), role, _now()))
        return self.user(cur.lastrowid)

    def user(self, user_id: int) -> dict[str, Any] | None:
        row = self._one("select id, username, role, created, disabled from users where id = ?", (user_id,))
        return dict(row) if row else None

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        row = self._one("select id, username, role, created, disabled from users where username = ?", (username,))
        return dict(row) if row else None

    def users(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._all("select id, username, role, created, disabled from users order by id")]

    def count_users(self) -> int:
        return self._one("select count(*) from users where disabled = 0")[0]

    def check_password(self, username: str, password: str) -> dict[str, Any] | None:
        """The user, if the name exists, is enabled and the password is right; else None (constant work)."""
        from llumi.web.security import verify_password

        row = self._one("select id, password_hash, disabled from users where username = ?", (username or "",))
        ok = verify_password(row["password_hash"] if row else None, password or "")
        if not row or not ok or row["disabled"]:
            return None
        return self.user(row["id"])

    def set_password(self, username: str, password: str) -> None:
        from llumi.web.security import hash_password

        if len(password) < 10:
            raise InputError("a password needs at least 10 characters")
        u = self._require(username)
        self._exec("update users set password_hash = ? where id = ?", (hash_password(password), u["id"]))
        self._exec("delete from sessions where user_id = ?", (u["id"],))

    def set_disabled(self, username: str, disabled: bool) -> None:
        u = self._require(username)
        self._exec("update users set disabled = ? where id = ?", (int(disabled), u["id"]))
        if disabled:
            self._exec("delete from sessions where user_id = ?", (u["id"],))
            self._exec("update api_keys set revoked = 1 where user_id = ?", (u["id"],))

    def _require(self, username: str) -> dict[str, Any]:
        u = self.user_by_name(username)
        if u is None:
            raise InputError(f"no user {username!r} (see `llumi users list`)")
        return u

    # --- API keys ------------------------------------------------------------------------
    def create_key(self, username: str, name: str = "default") -> tuple[str, dict[str, Any]]:
        """A new key for the user: (the key, shown once; its row). Only its hash is stored."""
        u = self._require(username)
        if u["disabled"]:
            raise InputError(f"user {username!r} is disabled")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        cur = self._exec("insert into api_keys (user_id, name, prefix, key_hash, created) values (?, ?, ?, ?, ?)",
                         (u["id"], name, key[:12], hash_key(key), _now()))
        return key, self.key(cur.lastrowid)

    def key(self, key_id: int) -> dict[str, Any] | None:
        row = self._one("select k.id, k.name, k.prefix, k.created, k.last_used, k.revoked, u.username, u.role "
                        "from api_keys k join users u on u.id = k.user_id where k.id = ?", (key_id,))
        return dict(row) if row else None

    def keys(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._all(
            "select k.id, k.name, k.prefix, k.created, k.last_used, k.revoked, u.username, u.role "
            "from api_keys k join users u on u.id = k.user_id order by k.id")]

    def revoke_key(self, key_id: int) -> None:
        if self._exec("update api_keys set revoked = 1 where id = ?", (key_id,)).rowcount == 0:
            raise InputError(f"no API key {key_id}")

    def check_key(self, key: str) -> dict[str, Any] | None:
        """The key's owner (with ``key_id``) for a valid, unrevoked key of an enabled user; else None."""
        if not key or not key.startswith(KEY_PREFIX):
            return None
        row = self._one("select k.id as key_id, u.id, u.username, u.role from api_keys k join users u "
                        "on u.id = k.user_id where k.key_hash = ? and k.revoked = 0 and u.disabled = 0",
                        (hash_key(key),))
        if row is None:
            return None
        self._exec("update api_keys set last_used = ? where id = ?", (_now(), row["key_id"]))
        return dict(row)

    # --- sessions ------------------------------------------------------------------------
    def create_session(self, user_id: int, max_age_s: float) -> tuple[str, str]:
        """(session id for the signed cookie, CSRF token bound to it)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        with self._lock:
            self._exec("delete from sessions where expires < ?", (now,))
            self._exec("insert into sessions values (?, ?, ?, ?, ?)", (hash_key(sid), user_id, csrf, now, now + max_age_s))
        return sid, csrf

    def session(self, sid: str) -> dict[str, Any] | None:
        row = self._one("select s.csrf, s.expires, u.id, u.username, u.role from sessions s join users u "
                        "on u.id = s.user_id where s.id_hash = ? and u.disabled = 0", (hash_key(sid),))
        if row is None or row["expires"] < _now():
            return None
        return dict(row)

    def end_session(self, sid: str) -> None:
        self._exec("delete from sessions where id_hash = ?", (hash_key(sid),))

    # --- the audit log -------------------------------------------------------------------
    def audit(self, event: str, username: str | None, **details: Any) -> int:
        """Append one event; returns its sequence number."""
        body = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)
        with self._lock:
            self.con.execute("begin immediate")
            try:
                last = self.con.execute("select seq, hash from audit order by seq desc limit 1").fetchone()
                if last is None:
                    anchor = self.con.execute("select seq, hash from audit_anchor").fetchone()
                    last = anchor if anchor else (0, GENESIS)
                seq, ts = last[0] + 1, _now()
                h = _row_hash(last[1], seq, ts, event, username, body)
                self.con.execute("insert into audit values (?, ?, ?, ?, ?, ?, ?)",
                                 (seq, ts, event, username, body, last[1], h))
                self.con.execute("commit")
            except BaseException:
                self.con.execute("rollback")
                raise
        return seq

    def audit_rows(self, *, event: str | None = None, username: str | None = None, tier: str | None = None,
                   since: float | None = None, limit: int = 200) -> list[dict[str, Any]]:
        sql, args = "select seq, ts, event, username, details, hash from audit where 1=1", []
        if event:
            sql += " and event = ?"
            args.append(event)
        if username:
            sql += " and username = ?"
            args.append(username)
        if tier:
            sql += " and json_extract(details, '$.tier') = ?"
            args.append(tier)
        if since is not None:
            sql += " and ts >= ?"
            args.append(since)
        sql += " order by seq desc limit ?"
        args.append(int(limit))
        out = []
        for r in self._all(sql, tuple(args)):
            d = dict(r)
            d["details"] = json.loads(d["details"])
            d["time"] = dt.datetime.fromtimestamp(d["ts"], dt.timezone.utc).isoformat(timespec="seconds")
            out.append(d)
        return out

    def verify_audit(self) -> dict[str, Any]:
        """Walk the chain from its anchor: ``ok``, rows checked, and the first broken row if any."""
        with self._lock:
            anchor = self._one("select seq, hash from audit_anchor")
            seq, prev = (anchor["seq"], anchor["hash"]) if anchor else (0, GENESIS)
            checked = 0
            for r in self.con.execute("select seq, ts, event, username, details, prev_hash, hash from audit order by seq"):
                problem = None
                if r["seq"] != seq + 1:
                    problem = f"row {seq + 1} is missing (next row is {r['seq']})"
                elif r["prev_hash"] != prev:
                    problem = "its previous-hash does not match the row before it"
                elif _row_hash(prev, r["seq"], r["ts"], r["event"], r["username"], r["details"]) != r["hash"]:
                    problem = "its contents do not match its hash (changed after writing)"
                if problem:
                    return {"ok": False, "checked": checked, "broken_at": r["seq"], "problem": problem,
                            "anchor": dict(anchor) if anchor else None}
                seq, prev = r["seq"], r["hash"]
                checked += 1
        return {"ok": True, "checked": checked, "last_seq": seq, "last_hash": prev,
                "anchor": dict(anchor) if anchor else None}

    def purge_audit(self, older_than_s: float) -> dict[str, Any]:
        """Delete rows older than the age; the last deleted row's hash becomes the chain's anchor."""
        cutoff = _now() - older_than_s
        check = self.verify_audit()
        if not check["ok"]:  # purging a broken chain would launder the tampering into the anchor
            raise InputError(f"the audit chain is broken at row {check['broken_at']} ({check['problem']}); "
                             "nothing purged: keep the file as evidence and investigate")
        with self._lock:
            self.con.execute("begin immediate")
            try:
                last = self.con.execute("select seq, hash from audit where ts < ? order by seq desc limit 1",
                                        (cutoff,)).fetchone()
                n = 0
                if last is not None:
                    self.con.execute("insert into audit_purging values (1)")
                    n = self.con.execute("delete from audit where seq <= ?", (last["seq"],)).rowcount
                    self.con.execute("delete from audit_purging")
                    self.con.execute("insert or replace into audit_anchor values (1, ?, ?, ?)",
                                     (last["seq"], last["hash"], _now()))
                self.con.execute("commit")
            except BaseException:
                self.con.execute("rollback")
                raise
        summary = {"purged": n, "anchor_seq": last["seq"] if last else None,
                   "anchor_hash": last["hash"] if last else None}
        self.audit("audit.purge", None, older_than_s=older_than_s, **summary)
        return summary


def _statements(script: str) -> list[str]:
    """Split a migration into statements (triggers hold semicolons inside begin ... end)."""
    out, buf = [], ""
    for line in script.strip().splitlines():
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def open_db(ws) -> Database:
    """The workspace's web database (``<workspace>/web.db``)."""
    ws.ensure()
    return Database(ws.root / "web.db")
