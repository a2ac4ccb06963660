"""The web database: migrations, the hash-chained audit log (tamper detection, retention), and the
`llumi users`, `llumi keys`, `llumi audit` commands, on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import stat

import pytest

import llumi.web.db as webdb
from llumi.web.cli import first_admin
from llumi.web.db import Database, open_db, parse_age


@pytest.fixture
def db(ws):
    d = open_db(ws)
    yield d
    d.close()


def test_migrations_are_numbered_and_run_once(ws, db):
    n = len(webdb.MIGRATIONS)
    assert db.schema_version() == n >= 2
    assert db.con.execute("pragma journal_mode").fetchone()[0] == "wal"
    db.add_user("ana", "a-long-password")
    again = Database(ws.root / "web.db")  # reopening migrates nothing and keeps the data
    assert again.schema_version() == n and again.user_by_name("ana")
    assert again.con.execute("select count(*) from schema_version").fetchone()[0] == n


def test_an_older_database_is_migrated_and_keeps_its_data(ws, monkeypatch):
    monkeypatch.setattr(webdb, "MIGRATIONS", webdb.MIGRATIONS[:1])   # a database from before rating studies
    old = Database(ws.root / "old.db")
    old.add_user("ana", "a-long-password")
    old.audit("signin", "ana", ok=True)
    old.close()
    monkeypatch.undo()
    new = Database(ws.root / "old.db")
    assert new.schema_version() == len(webdb.MIGRATIONS) and new.user_by_name("ana")
    assert new.verify_audit()["ok"]
    assert new.con.execute("select count(*) from studies").fetchone()[0] == 0


def test_a_newer_schema_is_refused(ws, db):
    db.con.execute("insert into schema_version values (99)")
    with pytest.raises(Exception, match="newer than this LLUMI"):
        Database(ws.root / "web.db")


def test_the_chain_verifies_and_a_changed_row_is_found(db):
    for i in range(5):
        db.audit("triage", "ana", tier="low", rules=["wish_dead.x"], n=i)
    assert db.verify_audit() == {**db.verify_audit(), "ok": True, "checked": 5}
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.con.execute("update audit set details = '{}' where seq = 3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.con.execute("delete from audit where seq = 3")
    # someone with the file drops the trigger and edits a row: the chain breaks there
    db.con.execute("drop trigger audit_no_update")
    db.con.execute("""update audit set details = '{"n":2,"rules":[],"tier":"none"}' where seq = 3""")
    result = db.verify_audit()
    assert result["ok"] is False and result["broken_at"] == 3 and "changed" in result["problem"]


def test_a_deleted_row_breaks_the_chain(db):
    for i in range(4):
        db.audit("guard", "ana", action="allow", n=i)
    db.con.execute("drop trigger audit_no_delete")
    db.con.execute("delete from audit where seq = 2")
    result = db.verify_audit()
    assert result["ok"] is False and result["broken_at"] == 3 and "missing" in result["problem"]


def test_a_rehashed_row_is_still_found(db):
    """Recomputing a forged row's own hash is not enough: the next row's link breaks."""
    for i in range(3):
        db.audit("triage", "ana", tier="high", n=i)
    db.con.execute("drop trigger audit_no_update")
    row = db.con.execute("select * from audit where seq = 2").fetchone()
    forged = json.dumps({"n": 1, "tier": "none"}, sort_keys=True, separators=(",", ":"))
    h = webdb._row_hash(row["prev_hash"], 2, row["ts"], row["event"], row["username"], forged)
    db.con.execute("update audit set details = ?, hash = ? where seq = 2", (forged, h))
    result = db.verify_audit()
    assert result["ok"] is False and result["broken_at"] == 3


def test_purge_keeps_the_chain_verifiable_from_its_anchor(db, monkeypatch):
    now = webdb.time.time()
    monkeypatch.setattr(webdb, "_now", lambda: now - 40 * 86400)
    for i in range(3):
        db.audit("triage", "ana", tier="none", n=i)
    monkeypatch.setattr(webdb, "_now", lambda: now)
    for i in range(2):
        db.audit("triage", "ana", tier="low", n=i)
    result = db.purge_audit(parse_age("30d"))
    assert result["purged"] == 3 and result["anchor_seq"] == 3
    rows = db.audit_rows(limit=100)
    assert [r["seq"] for r in rows] == [6, 5, 4] and rows[0]["event"] == "audit.purge"
    assert rows[0]["details"]["anchor_hash"] == result["anchor_hash"]
    v = db.verify_audit()
    assert v["ok"] and v["checked"] == 3 and v["anchor"]["seq"] == 3
    db.audit("signin", "ana", ok=True)
    assert db.verify_audit()["ok"]
    db.con.execute("drop trigger audit_no_update")
    db.con.execute("update audit set username = 'eve' where seq = 4")
    assert db.verify_audit()["broken_at"] == 4


def test_ages():
    assert parse_age("30d") == 30 * 86400 and parse_age("12h") == 43200 and parse_age("90m") == 5400
    with pytest.raises(Exception, match="like 30d"):
        parse_age("soon")


def test_users_and_keys_commands(ws, run_cli):
    code, out, _ = run_cli("users", "add", "ana", "--role", "supporter", "--generate", "--json")
    assert code == 0
    password = json.loads(out)["password"]
    code, out, _ = run_cli("users", "add", "bob", "--role", "admin", input="a-long-password\na-long-password\n")
    assert code == 0 and "Added admin bob" in out
    code, out, _ = run_cli("users", "list", "--json")
    assert [(u["username"], u["role"]) for u in json.loads(out)["users"]] == [("ana", "supporter"), ("bob", "admin")]
    d = open_db(ws)
    assert d.check_password("ana", password) and not d.check_password("ana", "wrong-password")
    code, out, _ = run_cli("keys", "create", "--user", "ana", "--name", "laptop", "--json")
    key = json.loads(out)["key"]
    assert d.check_key(key)["username"] == "ana"
    code, out, _ = run_cli("keys", "list")
    assert key[:12] in out and key not in out
    code, out, _ = run_cli("keys", "revoke", "1")
    assert code == 0 and d.check_key(key) is None
    code, out, _ = run_cli("users", "passwd", "ana", "--generate")
    assert code == 0 and not d.check_password("ana", password)


def test_audit_commands(ws, run_cli):
    d = open_db(ws)
    d.audit("triage", "ana", tier="high", rules=["plan.timing"])
    code, out, _ = run_cli("audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = run_cli("audit", "show", "--tier", "high")
    assert "plan.timing" in out
    d.con.execute("drop trigger audit_no_update")
    d.con.execute("update audit set event = 'nothing' where seq = 1")
    from click.testing import CliRunner

    from llumi.cli import cli

    result = CliRunner().invoke(cli, ["--workspace", str(ws.root), "audit", "verify"])
    assert result.exit_code == 1 and "BROKEN at row 1" in result.output
    result = CliRunner().invoke(cli, ["--workspace", str(ws.root), "audit", "purge", "--older-than", "0s"])
    assert result.exit_code != 0 and d.con.execute("select count(*) from audit").fetchone()[0] == 1


def test_audit_purge_command(ws, run_cli):
    d = open_db(ws)
    d.audit("triage", "ana", tier="none")
    code, out, _ = run_cli("audit", "purge", "--older-than", "0s", "--json")
    assert json.loads(out)["purged"] == 1
    code, out, _ = run_cli("audit", "verify")
    assert code == 0 and "from anchor row 1" in out


def test_first_serve_creates_an_admin_with_a_private_password_file(ws, db):
    path = first_admin(ws, db)
    assert path == ws.root / "admin-password.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().split("password: ")[1].strip()
    assert db.check_password("admin", password)["role"] == "admin"
    assert first_admin(ws, db) is None  # only ever once


def test_an_admin_is_made_even_when_only_other_users_exist(ws, db):
    db.add_user("scripted-lay-1", "a-long-random-password", "supporter")   # e.g. the quickstart's raters
    db.set_disabled("scripted-lay-1", True)
    path = first_admin(ws, db)
    assert path is not None and "user: admin" in path.read_text()
    assert db.count_users() == 1     # disabled users do not count as a way to sign in
