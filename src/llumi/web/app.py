"""The FastAPI app: the supporter pages, the admin page and the OpenAI-compatible API.

Every route but ``/healthz``, ``/signin`` and ``/static`` needs a signed-in user (a session cookie) or
an API key (``Authorization: Bearer llumi_...``). A request made with the session cookie that changes
anything (every POST) must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``). See docs/serve.md for the API and the safety rules of streaming.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field

from llumi import __version__
from llumi.errors import InputError, LlumiError
from llumi.safety import TIERS, guard, guidance_for, tier_at_least, triage
from llumi.web.db import Database
from llumi.web.security import GuardMiddleware, RateLimiter
from llumi.web.service import MODELS, Assistant, escalation_card, escalation_text, request_from_messages

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "llumi_session"
PRE_COOKIE = "llumi_presession"


@dataclass(frozen=True)
class ServeSettings:
    """Settings of the web app (YAML keys of `llumi serve --config`, or ``--set key=value``)."""

    max_body_bytes: int = 65536         # larger requests get 413
    requests_per_minute: float = 600    # per user or API key, every authenticated route (0: no limit)
    generations_per_minute: float = 30  # per user or API key, chat completions (0: no limit)
    signin_per_minute: float = 10       # sign-in attempts per address and user name (bursts of 5; 0: no limit)
    session_hours: float = 12
    audit_text: bool = False            # also keep post and reply text in the audit log (off: never)
    secure_cookies: str = "auto"        # auto (Secure when the request came over https) | always | never
    locale: str = "US"                  # crisis resources when a request names none
    stream_flush: str = "first-clause"  # guarded text per first-clause-then-sentence | sentence | clause (service.py)

    def __post_init__(self):
        if self.stream_flush not in ("first-clause", "sentence", "clause"):
            raise ValueError("stream_flush must be first-clause, sentence or clause")
        if self.secure_cookies not in ("auto", "always", "never"):
            raise ValueError("secure_cookies must be auto, always or never")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")


# --- API schemas (these make the OpenAPI document; the routes return exactly these) ---------------

class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # other OpenAI fields are accepted and ignored
    model: str = Field(description="llumi-gm (draft a reply to the post) or llumi-im (improve the supporter's draft)")
    messages: list[Message]
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=1024)
    max_completion_tokens: int | None = Field(None, ge=1, le=1024)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    n: int = Field(1, ge=1, le=1)
    llumi_locale: str | None = Field(None, description="country for crisis resources (US, GB, AU, ...)")


class ChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None


class Choice(BaseModel):
    index: int = 0
    message: ChoiceMessage
    finish_reason: Literal["stop", "length", "content_filter"]


class Safety(BaseModel):
    model_config = ConfigDict(extra="allow")
    tier: str
    triage_rules: list[str]
    withheld: bool
    action: Literal["allow", "rewrite", "block", "escalate"]
    guard_rules: list[str] = []
    text: str | None = Field(description="the only text a person may be shown (null: none)")
    replace: bool = Field(False, description="streaming: discard the streamed text and show `text` instead")
    guidance: dict[str, Any]
    model_version: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    llumi_safety: Safety


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "llumi"
    llumi_version: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class TriageIn(BaseModel):
    text: str = Field(min_length=1)
    locale: str | None = None


class TriageOut(BaseModel):
    tier: Literal["none", "low", "moderate", "high", "imminent"]
    rules: list[str]
    signals: list[dict[str, Any]]
    discounted: list[dict[str, Any]]
    withhold_draft: bool
    guidance: dict[str, Any]


class GuardIn(BaseModel):
    reply: str
    post: str | None = Field(None, description="the post the reply answers (triaged); or give tier")
    tier: Literal["none", "low", "moderate", "high", "imminent"] | None = None
    locale: str | None = None


class GuardOut(BaseModel):
    action: Literal["allow", "rewrite", "block", "escalate"]
    text: str | None
    tier: str
    locale: str | None
    rules: list[str]
    findings: list[dict[str, Any]]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    models: list[str]


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


ERRORS = {400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
          413: {"model": ErrorOut}, 429: {"model": ErrorOut}}


class APIError(Exception):
    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


@dataclass
class Principal:
    user_id: int
    username: str
    role: str
    via: str  # session | key
    key_id: int | None = None
    csrf: str | None = None

    @property
    def name(self) -> str:
        return f"key:{self.key_id}" if self.via == "key" else f"user:{self.user_id}"


# --- the app ------------------------------------------------------------------------------------

def create_app(db: Database, assistant: Assistant | None, settings: ServeSettings = ServeSettings()) -> FastAPI:
    app = FastAPI(title="LLUMI", version=__version__, docs_url=None, redoc_url=None,
                  description="OpenAI-compatible writing assistance for peer supporters, with a safety layer "
                              "on every post and every output. See docs/serve.md.")
    app.state.db, app.state.assistant, app.state.settings = db, assistant, settings
    signer = URLSafeTimedSerializer(db.secret(), salt="llumi-session")
    limits = RateLimiter(settings.requests_per_minute)
    gen_limits = RateLimiter(settings.generations_per_minute)
    signin_limits = RateLimiter(settings.signin_per_minute, burst=5)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(GuardMiddleware, max_body=settings.max_body_bytes)

    def audit(event: str, who: Principal | None, **details: Any) -> None:
        if who is not None:
            details.setdefault("via", who.via if who.via == "session" else f"key:{who.key_id}")
        db.audit(event, who.username if who else None, **details)

    # --- errors --------------------------------------------------------------------------
    @app.exception_handler(APIError)
    async def _api_error(request: Request, e: APIError):
        if e.status == 401 and _wants_html(request):
            return RedirectResponse("/signin", status_code=303)
        return JSONResponse({"error": {"message": e.message, "type": _etype(e.status), "code": e.code}},
                            status_code=e.status, headers=e.headers)

    @app.exception_handler(LlumiError)
    async def _llumi_error(request: Request, e: LlumiError):
        status = 400 if isinstance(e, InputError) else 500
        return JSONResponse({"error": {"message": str(e), "type": _etype(status), "code": type(e).__name__}},
                            status_code=status)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'][1:]) or 'body'}: {err['msg']}" for err in e.errors())
        return JSONResponse({"error": {"message": problems, "type": "invalid_request_error", "code": "invalid_request"}},
                            status_code=400)

    # --- who is asking -------------------------------------------------------------------
    def session_of(request: Request) -> Principal | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            sid = signer.loads(raw, max_age=settings.session_hours * 3600)
        except BadSignature:
            return None
        s = db.session(sid)
        if s is None:
            return None
        return Principal(s["id"], s["username"], s["role"], "session", csrf=s["csrf"])

    async def principal(request: Request) -> Principal:
        auth = request.headers.get("authorization", "")
        who = None
        if auth.lower().startswith("bearer "):
            k = db.check_key(auth[7:].strip())
            if k is None:
                raise APIError(401, "invalid or revoked API key", "invalid_api_key")
            who = Principal(k["id"], k["username"], k["role"], "key", key_id=k["key_id"])
        else:
            who = session_of(request)
            if who is None:
                raise APIError(401, "sign in, or send an API key as 'Authorization: Bearer llumi_...'",
                               "not_authenticated")
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                token = request.headers.get("x-csrf-token")
                if token is None and request.headers.get("content-type", "").startswith(
                        ("application/x-www-form-urlencoded", "multipart/form-data")):
                    token = (await request.form()).get("csrf_token")
                if not token or not secrets.compare_digest(str(token), who.csrf or ""):
                    raise APIError(403, "missing or wrong CSRF token: reload the page", "csrf_failed")
        ok, wait = limits.allow(who.name)
        if not ok:
            raise APIError(429, f"rate limit: {settings.requests_per_minute:g} requests a minute; retry in "
                                f"{wait:.1f}s", "rate_limited", {"Retry-After": str(max(1, round(wait)))})
        request.state.principal = who
        return who

    async def admin(who: Principal = Depends(principal)) -> Principal:
        if who.role != "admin":
            raise APIError(403, "this needs an admin", "forbidden")
        return who

    # --- API -----------------------------------------------------------------------------
    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        return Health(status="ok", version=__version__,
                      models=[m for m, k in MODELS.items() if assistant and k in assistant.available()])

    @app.get("/v1/models", response_model=ModelList, responses=ERRORS, tags=["openai"])
    async def models(who: Principal = Depends(principal)) -> ModelList:
        now = int(time.time())
        avail = assistant.available() if assistant else {}
        return ModelList(data=[ModelCard(id=m, created=now, llumi_version=avail[k].version)
                               for m, k in MODELS.items() if k in avail])

    @app.post("/v1/safety/triage", response_model=TriageOut, responses=ERRORS, tags=["safety"])
    async def safety_triage(body: TriageIn, who: Principal = Depends(principal)) -> TriageOut:
        t = triage(body.text)
        locale = body.locale or settings.locale
        withhold = tier_at_least(t.tier, "high")
        card = escalation_card(t, locale) if withhold else guidance_for(t, locale).to_dict()
        audit("triage", who, tier=t.tier, rules=list(t.rules), route="safety", **_text(settings, post=body.text))
        if withhold:
            audit("escalation", who, tier=t.tier, rules=list(t.rules), route="safety")
        d = t.to_dict()
        return TriageOut(tier=t.tier, rules=d["rules"], signals=d["signals"], discounted=d["discounted"],
                         withhold_draft=withhold, guidance=card)

    @app.post("/v1/safety/guard", response_model=GuardOut, responses=ERRORS, tags=["safety"])
    async def safety_guard(body: GuardIn, who: Principal = Depends(principal)) -> GuardOut:
        if body.post is None and body.tier is None:
            raise APIError(400, "give the post the reply answers (post) or its tier (tier)", "invalid_request")
        t = triage(body.post) if body.post is not None else body.tier
        v = guard(body.reply, t, body.locale or settings.locale)
        audit("guard", who, tier=v.tier, action=v.action, rules=list(v.rules), route="safety",
              **_text(settings, post=body.post, reply=body.reply))
        return GuardOut(**v.to_dict())

    @app.post("/v1/chat/completions", response_model=ChatCompletion, responses={
        **ERRORS, 200: {"description": "a chat completion, or with stream=true server-sent events of "
                                       "chat.completion.chunk objects; the last carries llumi_safety",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}}}}, tags=["openai"])
    async def chat_completions(body: ChatRequest, who: Principal = Depends(principal)):
        if assistant is None:
            raise APIError(404, "this server serves no model", "model_not_found")
        if body.model not in MODELS:
            raise APIError(404, f"unknown model {body.model!r}: use one of {', '.join(MODELS)}", "model_not_found")
        if MODELS[body.model] not in assistant.available():
            raise APIError(404, f"{body.model} is not loaded on this server (no trained run)", "model_not_found")
        req = request_from_messages(body.model, [m.model_dump() for m in body.messages],
                                    max_new_tokens=body.max_completion_tokens or body.max_tokens,
                                    temperature=body.temperature, top_p=body.top_p, seed=body.seed,
                                    locale=body.llumi_locale or settings.locale)
        ok, wait = gen_limits.allow(who.name)
        if not ok:
            raise APIError(429, f"rate limit: {settings.generations_per_minute:g} generations a minute; retry in "
                                f"{wait:.1f}s", "rate_limited", {"Retry-After": str(max(1, round(wait)))})
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not body.stream:
            row = await assistant.complete_async(req)
            _audit_row(audit, who, req, row, settings)
            safety = _safety(row, req, settings)
            content = row["text"] if not row["withheld"] else escalation_text(row["guidance"])
            finish = "stop" if row["action"] in ("allow", "rewrite") else "content_filter"
            return ChatCompletion(id=cid, created=created, model=body.model, llumi_safety=Safety(**safety),
                                  choices=[Choice(message=ChoiceMessage(content=content), finish_reason=finish)])

        async def events():
            def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
                obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
                return f"data: {json.dumps(obj)}\n\n"

            yield chunk({"role": "assistant", "content": ""})
            try:
                async for event in assistant.stream_async(req):
                    if "delta" in event:
                        yield chunk({"content": event["delta"]})
                        continue
                    row = event["final"]
                    _audit_row(audit, who, req, row, settings)
                    safety = Safety(**_safety(row, req, settings)).model_dump()
                    if row["withheld"]:
                        yield chunk({"content": escalation_text(row["guidance"])})
                    finish = "content_filter" if (row["withheld"] or row["replace"]
                                                  or row["action"] in ("block", "escalate")) else "stop"
                    yield chunk({}, finish, llumi_safety=safety)
            except LlumiError as e:
                yield f"data: {json.dumps({'error': {'message': str(e), 'type': 'server_error'}})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    # --- pages ---------------------------------------------------------------------------
    def page(request: Request, name: str, **ctx: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"version": __version__, **ctx})

    def set_cookie(response, request: Request, name: str, value: str, max_age: int) -> None:
        secure = settings.secure_cookies == "always" or (
            settings.secure_cookies == "auto" and request.url.scheme == "https")
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/")

    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    async def signin_page(request: Request, error: str | None = None):
        token = secrets.token_urlsafe(32)
        resp = page(request, "signin.html", csrf=token, error=error)
        set_cookie(resp, request, PRE_COOKIE, signer.dumps(token), 3600)
        return resp

    @app.post("/signin", include_in_schema=False)
    async def signin(request: Request, username: str = Form(""), password: str = Form(""),
                     csrf_token: str = Form("")):
        try:
            expected = signer.loads(request.cookies.get(PRE_COOKIE, ""), max_age=3600)
        except BadSignature:
            expected = None
        if not expected or not secrets.compare_digest(expected, csrf_token):
            raise APIError(403, "missing or wrong CSRF token: reload the sign-in page", "csrf_failed")
        ip = request.client.host if request.client else "?"
        ok, _ = signin_limits.allow(f"{ip}:{username.lower()}")
        if not ok:
            raise APIError(429, "too many sign-in attempts; wait a minute", "rate_limited", {"Retry-After": "60"})
        import asyncio

        user = await asyncio.get_running_loop().run_in_executor(None, db.check_password, username, password)
        db.audit("signin", username[:64] or None, ok=user is not None)
        if user is None:
            resp = page(request, "signin.html", csrf=expected, error="Wrong user name or password.")
            resp.status_code = 401
            return resp
        sid, _ = db.create_session(user["id"], settings.session_hours * 3600)
        resp = RedirectResponse("/", status_code=303)
        set_cookie(resp, request, SESSION_COOKIE, signer.dumps(sid), int(settings.session_hours * 3600))
        resp.delete_cookie(PRE_COOKIE, path="/")
        return resp

    @app.post("/signout", include_in_schema=False)
    async def signout(request: Request, who: Principal = Depends(principal)):
        try:
            db.end_session(signer.loads(request.cookies.get(SESSION_COOKIE, "")))
        except BadSignature:
            pass
        db.audit("signout", who.username)
        resp = RedirectResponse("/signin", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request):
        who = session_of(request)
        if who is None:
            return RedirectResponse("/signin", status_code=303)
        avail = assistant.available() if assistant else {}
        return page(request, "assistant.html", user=who, csrf=who.csrf, tiers=TIERS,
                    has_gm="generate" in avail, has_im="improve" in avail)

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    async def admin_page(request: Request, event: str | None = None, username: str | None = None,
                         tier: str | None = None, shown: str | None = None):
        who = session_of(request)
        if who is None:
            return RedirectResponse("/signin", status_code=303)
        if who.role != "admin":
            raise APIError(403, "this page needs an admin", "forbidden")
        served = {k: {"version": s.version, **{a: b for a, b in s.info.items() if b is not None}}
                  for k, s in (assistant.available().items() if assistant else [])}
        return page(request, "admin.html", user=who, csrf=who.csrf, users=db.users(), keys=db.keys(),
                    audit=db.audit_rows(event=event or None, username=username or None, tier=tier or None),
                    filters={"event": event or "", "username": username or "", "tier": tier or ""},
                    served=served, chain=db.verify_audit(), shown=shown, settings=settings, tiers=TIERS)

    @app.post("/admin/users", response_class=HTMLResponse, include_in_schema=False)
    async def admin_add_user(request: Request, who: Principal = Depends(admin)):
        form = await request.form()
        password = str(form.get("password") or "") or secrets.token_urlsafe(12)
        try:
            user = db.add_user(str(form.get("username", "")), password, str(form.get("role", "supporter")))
        except LlumiError as e:
            return await admin_page(request, shown=f"Not added: {e}")
        audit("user.create", who, created=user["username"], role=user["role"])
        shown = None if form.get("password") else f"Password for {user['username']} (shown once): {password}"
        return await admin_page(request, shown=shown)

    @app.post("/admin/users/{username}/disable", include_in_schema=False)
    async def admin_disable_user(request: Request, username: str, who: Principal = Depends(admin)):
        if username.lower() == who.username.lower():
            raise APIError(400, "you cannot disable yourself", "invalid_request")
        db.set_disabled(username, True)
        audit("user.disable", who, disabled=username)
        return RedirectResponse("/admin", status_code=303)

    @app.post("/admin/keys", response_class=HTMLResponse, include_in_schema=False)
    async def admin_create_key(request: Request, who: Principal = Depends(admin)):
        form = await request.form()
        try:
            key, row = db.create_key(str(form.get("username") or who.username), str(form.get("name") or "default"))
        except LlumiError as e:
            return await admin_page(request, shown=f"No key made: {e}")
        audit("key.create", who, key_id=row["id"], owner=row["username"])
        return await admin_page(request, shown=f"API key for {row['username']} (shown once): {key}")

    @app.post("/admin/keys/{key_id}/revoke", include_in_schema=False)
    async def admin_revoke_key(request: Request, key_id: int, who: Principal = Depends(admin)):
        db.revoke_key(key_id)
        audit("key.revoke", who, key_id=key_id)
        return RedirectResponse("/admin", status_code=303)

    from llumi.web.rating import add_rating_routes, workspace_of

    add_rating_routes(app, db=db, ws=workspace_of(db), page=page, session_of=session_of, principal=principal,
                      admin=admin, audit=audit, api_error=APIError)
    return app


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/v1/") and "text/html" in request.headers.get("accept", "")


def _etype(status: int) -> str:
    return {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
            404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error"}.get(status, "server_error")


def _text(settings: ServeSettings, **texts: str | None) -> dict[str, Any]:
    """Post / reply text for the audit log, only when the operator turned it on."""
    return {k: v for k, v in texts.items() if v is not None} if settings.audit_text else {}


def _safety(row: dict[str, Any], req, settings: ServeSettings) -> dict[str, Any]:
    """What a client learns about safety; never the unguarded model text."""
    out = {"tier": row["tier"], "triage_rules": row["triage_rules"], "withheld": row["withheld"],
           "action": row["action"], "guard_rules": row.get("guard_rules", []), "text": row["text"],
           "replace": bool(row.get("replace")), "model_version": row["model_version"],
           "guidance": row.get("guidance") or guidance_for(row["tier"], req.locale or settings.locale).to_dict()}
    if "changed" in row:
        out["changed"] = row["changed"]
    return out


def _audit_row(audit, who: Principal, req, row: dict[str, Any], settings: ServeSettings) -> None:
    model = "llumi-gm" if req.kind == "generate" else "llumi-im"
    audit("triage", who, tier=row["tier"], rules=row["triage_rules"], route=model, **_text(settings, post=req.post))
    if row["withheld"]:
        audit("escalation", who, tier=row["tier"], rules=row["triage_rules"], route=model,
              model_version=row["model_version"])
    else:
        audit("guard", who, tier=row["tier"], action=row["action"], rules=row.get("guard_rules", []), route=model,
              model_version=row["model_version"], **_text(settings, draft=req.draft, reply=row["text"]))
