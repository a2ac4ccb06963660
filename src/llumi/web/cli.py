"""`llumi serve`, `llumi users`, `llumi keys`, `llumi audit`: the web app's commands."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import click

# llumi.cli imports this module to register its commands, so its helpers are imported late here.
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")


def emit(summary: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    from llumi.cli import emit as _emit

    _emit(summary, as_json, human)

ADMIN_PASSWORD_FILE = "admin-password.txt"


def _db(ws):
    from llumi.web.db import open_db

    return open_db(ws)


def first_admin(ws, db) -> Path | None:
    """With no enabled admin yet, create one (``admin``) with a generated password, written to a 0600 file
    in the workspace; returns the file's path (None when an admin exists). Other users do not count: the
    quickstart's scripted raters are disabled supporters nobody can sign in as."""
    if any(u["role"] == "admin" and not u["disabled"] for u in db.users()):
        return None
    name, n = "admin", 2
    while db.user_by_name(name):
        name, n = f"admin{n}", n + 1
    password = secrets.token_urlsafe(16)
    db.add_user(name, password, "admin")
    path = ws.root / ADMIN_PASSWORD_FILE
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"user: {name}\npassword: {password}\n")
    db.audit("user.create", None, created=name, role="admin", by="first serve")
    return path


def build_app(ws, *, host: str = "127.0.0.1", gm_run: str | None = "latest", im_run: str | None = "latest",
              backend: str | None = None, model: str | None = None, allow_remote: bool = False,
              config_path: str | None = None, overrides: dict[str, Any] | None = None, workers: int = 4,
              echo=click.echo):
    """Everything `llumi serve` does before listening: the bind check, the first admin, the models,
    the app. Returns the FastAPI app."""
    import dataclasses

    from llumi import config as cfgmod
    from llumi.assist.generate import AssistConfig
    from llumi.web.app import ServeSettings, create_app
    from llumi.web.security import check_bind
    from llumi.web.service import load_assistant

    overrides = dict(overrides or {})
    serve_keys = {f.name for f in dataclasses.fields(ServeSettings)}
    settings = cfgmod.load(ServeSettings, None, {k: v for k, v in overrides.items() if k in serve_keys})
    assist_opts = {k: v for k, v in overrides.items() if k not in serve_keys}
    if backend is None and "backend" not in assist_opts:
        backend = "llamacpp" if _has_llamacpp() else "transformers"
    if backend:
        assist_opts["backend"] = backend
    if model:
        assist_opts.update(model=model, run=None)
    assist_opts.setdefault("parallel", workers)
    cfg = cfgmod.load(AssistConfig, config_path, assist_opts)
    db = _db(ws)
    check_bind(host, db.count_users(), allow_remote)
    assistant = load_assistant(ws, cfg, gm_run=None if model else gm_run, im_run=None if model else im_run,
                               workers=workers, flush=settings.stream_flush)
    path = first_admin(ws, db)
    if path:
        echo(f"Created the first user, admin; its password is in {path} (mode 0600). Sign in, then change "
             "it with `llumi users passwd admin` and delete the file.")
    elif (ws.root / ADMIN_PASSWORD_FILE).exists():
        echo(f"The first admin's password is still in {ws.root / ADMIN_PASSWORD_FILE}; delete the file once "
             "you have changed it.")
    for kind, s in assistant.available().items():
        echo(f"Serving {'llumi-gm' if kind == 'generate' else 'llumi-im'}: {s.version}")
    return create_app(db, assistant, settings)


def _has_llamacpp() -> bool:
    import importlib.util

    return importlib.util.find_spec("xllamacpp") is not None


def serve_workspace(ws, host: str = "127.0.0.1", port: int = 8000, **kw: Any) -> None:
    """Build the app and listen until interrupted (what `llumi serve` and the quickstart call)."""
    import uvicorn

    app = build_app(ws, host=host, **kw)
    click.echo(f"LLUMI is listening on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; another than loopback needs a user to exist (or --allow-remote).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--gm-run", default="latest", show_default=True, help="Training run (folder or name) of the GM to serve.")
@click.option("--im-run", default="latest", show_default=True, help="Training run (folder or name) of the IM to serve.")
@click.option("--model", help="Serve an untuned base model as both (packaged name, HF folder or id, GGUF).")
@click.option("--backend", type=click.Choice(["llamacpp", "transformers", "openai"]), default=None,
              help="Generation backend (default: llamacpp when installed, else transformers).")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Generations at once (thread pool; llama.cpp slots).")
@click.option("--allow-remote", is_flag=True, help="Listen on a non-loopback address even with no user yet.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML of generation settings (as for `llumi generate`).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="A generation or server setting, e.g. --set max_body_bytes=131072 --set audit_text=true.")
@click.pass_obj
def serve(ws, host, port, gm_run, im_run, model, backend, workers, allow_remote, config_path, overrides):
    """Serve the web app and the OpenAI-compatible API (llumi-gm, llumi-im) from the workspace.

    The GM and IM are the workspace's latest trained runs unless --gm-run / --im-run name others. The
    first serve with no user creates an admin with a generated password in a 0600 file in the
    workspace. Binds 127.0.0.1 unless told otherwise.

    \b
    Examples:
      llumi serve
      llumi serve --backend transformers --port 8080
      llumi users add ana --role supporter && llumi serve --host 0.0.0.0
    """
    from llumi import config as cfgmod

    serve_workspace(ws, host=host, port=port, gm_run=gm_run, im_run=im_run, backend=backend, model=model,
                    allow_remote=allow_remote, config_path=config_path, overrides=cfgmod.parse_overrides(overrides),
                    workers=workers)


# --- users -------------------------------------------------------------------------------------

@click.group()
def users() -> None:
    """Users of the web app (roles: supporter, admin)."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["supporter", "admin"]), default="supporter", show_default=True)
@click.option("--generate", "generate_pw", is_flag=True, help="Generate a password and print it once.")
@json_option
@click.pass_obj
def users_add(ws, username, role, generate_pw, as_json):
    """Add a user; the password comes from a prompt (typed twice), or --generate prints one once."""
    password = secrets.token_urlsafe(12) if generate_pw else click.prompt(
        "Password (10+ characters)", hide_input=True, confirmation_prompt=True, err=True)
    db = _db(ws)
    user = db.add_user(username, password, role)
    db.audit("user.create", None, created=user["username"], role=role, by="cli")
    summary = {"username": user["username"], "role": role, **({"password": password} if generate_pw else {})}
    emit(summary, as_json, f"Added {role} {user['username']}." +
         (f"\nPassword (shown once): {password}" if generate_pw else ""))


@users.command("list")
@json_option
@click.pass_obj
def users_list(ws, as_json):
    """List users."""
    rows = _db(ws).users()
    emit({"users": rows}, as_json, "\n".join(
        f"{u['username']:<24} {u['role']:<10} {'disabled' if u['disabled'] else 'active'}" for u in rows) or "no users")


@users.command("passwd")
@click.argument("username")
@click.option("--generate", "generate_pw", is_flag=True, help="Generate a password and print it once.")
@click.pass_obj
def users_passwd(ws, username, generate_pw):
    """Set a user's password (ends their sessions)."""
    password = secrets.token_urlsafe(12) if generate_pw else click.prompt(
        "New password (10+ characters)", hide_input=True, confirmation_prompt=True, err=True)
    db = _db(ws)
    db.set_password(username, password)
    db.audit("user.passwd", None, user=username, by="cli")
    click.echo(f"Password of {username} changed." + (f"\nPassword (shown once): {password}" if generate_pw else ""))


@users.command("disable")
@click.argument("username")
@click.pass_obj
def users_disable(ws, username):
    """Disable a user: ends their sessions and revokes their API keys."""
    db = _db(ws)
    db.set_disabled(username, True)
    db.audit("user.disable", None, disabled=username, by="cli")
    click.echo(f"Disabled {username}.")


# --- keys --------------------------------------------------------------------------------------

@click.group()
def keys() -> None:
    """API keys for the OpenAI-compatible API (stored hashed; shown once)."""


@keys.command("create")
@click.option("--user", "username", required=True, help="The user the key acts as.")
@click.option("--name", default="default", show_default=True, help="A label for the key.")
@json_option
@click.pass_obj
def keys_create(ws, username, name, as_json):
    """Create an API key and print it once (use it as the OpenAI client's api_key)."""
    db = _db(ws)
    key, row = db.create_key(username, name)
    db.audit("key.create", None, key_id=row["id"], owner=row["username"], by="cli")
    emit({"key": key, "id": row["id"], "user": row["username"], "name": name}, as_json,
         f"API key {row['id']} for {row['username']} (shown once, store it now):\n{key}")


@keys.command("list")
@json_option
@click.pass_obj
def keys_list(ws, as_json):
    """List API keys (their first characters only)."""
    rows = _db(ws).keys()
    emit({"keys": rows}, as_json, "\n".join(
        f"{k['id']:>4} {k['username']:<20} {k['name']:<16} {k['prefix']}... {'revoked' if k['revoked'] else 'active'}"
        for k in rows) or "no keys")


@keys.command("revoke")
@click.argument("key_id", type=int)
@click.pass_obj
def keys_revoke(ws, key_id):
    """Revoke an API key by its id."""
    db = _db(ws)
    db.revoke_key(key_id)
    db.audit("key.revoke", None, key_id=key_id, by="cli")
    click.echo(f"Revoked key {key_id}.")


# --- audit -------------------------------------------------------------------------------------

@click.group()
def audit() -> None:
    """The append-only, hash-chained audit log of triage, guard verdicts, escalations and sign-ins."""


@audit.command("verify")
@json_option
@click.pass_obj
def audit_verify(ws, as_json):
    """Check the hash chain; exit code 1 if any row was changed, inserted or deleted."""
    result = _db(ws).verify_audit()
    human = (f"Audit chain verified: {result['checked']} rows" + (
        f" from anchor row {result['anchor']['seq']}" if result.get("anchor") else "") if result["ok"]
        else f"Audit chain BROKEN at row {result['broken_at']}: {result['problem']}")
    emit(result, as_json, human)
    if not result["ok"]:
        raise SystemExit(1)


@audit.command("purge")
@click.option("--older-than", required=True, help="Delete events older than this (30d, 12h, ...).")
@json_option
@click.pass_obj
def audit_purge(ws, older_than, as_json):
    """Apply retention: delete old events; the chain stays verifiable from the recorded anchor hash."""
    from llumi.web.db import parse_age

    result = _db(ws).purge_audit(parse_age(older_than))
    emit(result, as_json, f"Purged {result['purged']} events" + (
        f"; the chain now starts after row {result['anchor_seq']} (anchor {result['anchor_hash'][:16]}...)"
        if result["anchor_seq"] else ""))


@audit.command("show")
@click.option("--event", help="Only this event (triage, guard, escalation, signin, ...).")
@click.option("--user", "username", help="Only this user.")
@click.option("--tier", type=click.Choice(["none", "low", "moderate", "high", "imminent"]))
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_obj
def audit_show(ws, event, username, tier, limit, as_json):
    """The latest events, newest first."""
    import json

    rows = _db(ws).audit_rows(event=event, username=username, tier=tier, limit=limit)
    emit({"events": rows}, as_json, "\n".join(
        f"{r['seq']:>6} {r['time']} {r['event']:<12} {r['username'] or '-':<16} {json.dumps(r['details'])}"
        for r in rows) or "no events")


COMMANDS = (serve, users, keys, audit)
