"""The rating pages: raters declare a credential, consent, and rate blind; admins create studies and read
reports. Plain HTML forms (no script needed): every answer is one POST, saved in one transaction.

    /rate                       studies, the rater's credential and progress; admins: create, reports
    /rate/credential      POST  declare clinician | peer | lay
    /rate/new                   (admin) a study from the workspace's `llumi generate` outputs
    /rate/s/NAME                consent page, then the next post to rate, then "done"
    /rate/s/NAME/consent  POST
    /rate/s/NAME/answer   POST  scores (+ preferences, rationale), or skip
    /rate/s/NAME/report         (admin) means, win rates, agreement, all split by credential
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from llumi.errors import InputError, LlumiError
from llumi.rate.study import Studies, StudyConfig
from llumi.workspace import Workspace

CREDENTIAL_TEXT = {
    "clinician": "Licensed clinician (for example psychologist, psychiatrist, counsellor, mental-health nurse)",
    "peer": "Trained peer supporter (completed a peer-support or crisis-line training)",
    "lay": "Neither (a member of the public or the community)",
}
_FIELD = re.compile(r"^r_(\d+)_(\w+)$")
_PAIR = re.compile(r"^p_(\d+)_(\d+)$")


def output_files(ws: Workspace) -> list[dict[str, str]]:
    """The GM outputs in the workspace that a study can compare: ``outputs/*/generate.jsonl``."""
    return [{"name": p.parent.name.removeprefix("generate-"), "path": str(p)}
            for p in sorted((ws.root / "outputs").glob("*/generate.jsonl"))]


def add_rating_routes(app: FastAPI, *, db, ws: Workspace, page: Callable[..., HTMLResponse], session_of,
                      principal, admin, audit, api_error) -> None:
    studies = Studies(db)

    def signed_in(request: Request):
        who = session_of(request)
        if who is None:
            raise api_error(401, "sign in first", "not_authenticated")
        return who

    @app.get("/rate", response_class=HTMLResponse, include_in_schema=False)
    async def rate_home(request: Request, notice: str | None = None):
        who = signed_in(request)
        credential = studies.credential(who.user_id)
        rows = [r for r in studies.list() if r["status"] == "open" or who.role == "admin"]
        for r in rows:
            r["mine"] = studies.progress(r["name"], who.user_id) if credential else None
        return page(request, "rate_home.html", user=who, csrf=who.csrf, credential=credential,
                    credentials=CREDENTIAL_TEXT, studies=rows, notice=notice)

    @app.post("/rate/credential", include_in_schema=False)
    async def rate_credential(request: Request, who=Depends(principal)):
        form = await request.form()
        studies.declare(who.user_id, str(form.get("credential", "")))
        audit("rater.declare", who, credential=str(form.get("credential")))
        return RedirectResponse("/rate", status_code=303)

    @app.get("/rate/new", response_class=HTMLResponse, include_in_schema=False)
    async def rate_new_page(request: Request, error: str | None = None):
        who = signed_in(request)
        if who.role != "admin":
            raise api_error(403, "creating a study needs an admin", "forbidden")
        return page(request, "rate_new.html", user=who, csrf=who.csrf, files=output_files(ws), error=error,
                    defaults=StudyConfig())

    @app.post("/rate/new", include_in_schema=False)
    async def rate_new(request: Request, who=Depends(admin)):
        from llumi.assist.generate import split_inputs
        from llumi.rate.cli import read_outputs

        form = await request.form()
        files = {f["name"]: f["path"] for f in output_files(ws)}
        chosen = [n for n in form.getlist("system") if n in files]
        try:
            outputs = {n: read_outputs(files[n])[0] for n in chosen}
            posts = split_inputs(ws, "generate", "test")
            if form.get("human"):
                outputs["human"] = {str(r["id"]): r["reference"] for r in posts}
            limit = int(form.get("limit") or 0)
            if limit > 0:
                posts = posts[:limit]
            cfg = StudyConfig(raters_per_item=int(form.get("raters_per_item") or 2),
                              pairwise=bool(form.get("pairwise")))
            summary = studies.create(str(form.get("name", "")), [{"id": str(p["id"]), "title": p["title"],
                                                                   "text": p["text"]} for p in posts], outputs, cfg)
        except (LlumiError, ValueError) as e:   # e.g. no `llumi pairs` yet: say so on the page
            resp = page(request, "rate_new.html", user=who, csrf=who.csrf, files=output_files(ws), error=str(e),
                        defaults=StudyConfig())
            resp.status_code = 400
            return resp
        audit("study.create", who, study=summary["study"], posts=summary["posts"], systems=summary["systems"])
        return RedirectResponse(f"/rate?notice={quote('Created study ' + summary['study'])}", status_code=303)

    @app.get("/rate/s/{name}", response_class=HTMLResponse, include_in_schema=False)
    async def rate_study(request: Request, name: str):
        who = signed_in(request)
        study = studies.get(name)
        if studies.credential(who.user_id) is None:
            return RedirectResponse("/rate", status_code=303)
        if not studies.has_consented(name, who.user_id):
            return page(request, "rate_consent.html", user=who, csrf=who.csrf, study=study,
                        cfg=study["config"], progress=studies.progress(name, who.user_id))
        task = studies.next_task(name, who.user_id)
        if task is None:
            return page(request, "rate_done.html", user=who, csrf=who.csrf, study=study,
                        progress=studies.progress(name, who.user_id))
        return page(request, "rate_task.html", user=who, csrf=who.csrf, study=study, task=task,
                    labels={r["item"]: r["label"] for r in task["replies"]})

    @app.post("/rate/s/{name}/consent", include_in_schema=False)
    async def rate_consent(request: Request, name: str, who=Depends(principal)):
        studies.consent(name, who.user_id)
        audit("study.consent", who, study=name)
        return RedirectResponse(f"/rate/s/{quote(name)}", status_code=303)

    @app.post("/rate/s/{name}/answer", include_in_schema=False)
    async def rate_answer(request: Request, name: str, who=Depends(principal)):
        form = await request.form()
        post = str(form.get("post", ""))
        if form.get("action") == "skip":
            result = studies.submit(name, who.user_id, post, skip=True)
        else:
            ratings: dict[int, dict[str, int]] = {}
            prefs: dict[tuple[int, int], str] = {}
            for key, value in form.multi_items():
                if m := _FIELD.match(key):
                    ratings.setdefault(int(m.group(1)), {})[m.group(2)] = _int(value)
                elif m := _PAIR.match(key):
                    prefs[(int(m.group(1)), int(m.group(2)))] = str(value)
            task = studies.task(name, who.user_id, post)
            for r in task["replies"]:   # a reply left without any score: say so instead of a bare error
                ratings.setdefault(r["item"], {})
            try:
                result = studies.submit(name, who.user_id, post, ratings=ratings, preferences=prefs,
                                        rationale=str(form.get("rationale") or ""))
            except InputError as e:
                resp = page(request, "rate_task.html", user=who, csrf=who.csrf, study=studies.get(name), task=task,
                            labels={r["item"]: r["label"] for r in task["replies"]}, error=str(e),
                            previous={k: str(v) for k, v in form.multi_items()})
                resp.status_code = 400
                return resp
        audit("study.answer", who, study=name, saved=result["saved"], skipped=form.get("action") == "skip")
        return RedirectResponse(f"/rate/s/{quote(name)}", status_code=303)

    @app.get("/rate/s/{name}/report", response_class=HTMLResponse, include_in_schema=False)
    async def rate_report(request: Request, name: str):
        from llumi.rate.report import render_body, write_report

        who = signed_in(request)
        if who.role != "admin":
            raise api_error(403, "study reports need an admin", "forbidden")
        summary = write_report(ws, studies, name)
        return page(request, "rate_report.html", user=who, csrf=who.csrf, study_name=name,
                    body=render_body(name, summary["summary"], summary["counts"]))


def _int(value: Any) -> Any:
    try:
        return int(str(value))
    except ValueError:
        return value


def workspace_of(db) -> Workspace:
    """The workspace a web database lives in (``<workspace>/web.db``)."""
    return Workspace(Path(db.path).parent)
