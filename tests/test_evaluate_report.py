"""`llumi eval`: systems on the held-out posts, metrics.json, the HTML report (opened in a real
headless Chromium), malformed lines, the LLM judge and an external endpoint (a local fake HTTP server)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

import llumi
from llumi.assist.generate import AssistConfig, run as run_assist
from llumi.errors import ConfigError, InputError
from llumi.evaluate import evaluate_systems
from llumi.evaluate.judge import Judge, parse_choice, parse_score, rubric_messages
from llumi.workspace import Workspace, read_meta
from tests.conftest import REPO, read_jsonl

WARM = ["That sounds really hard, and I'm so sorry you're going through this. How have you been sleeping?",
        "I've been there too. It must be exhausting. Do you have anyone you can talk to about how you feel?"]
FLAT = ["Go outside.", "You should exercise more and drink water."]


class Scripted:
    """A generation backend that cycles through fixed replies (the systems under evaluation)."""

    def __init__(self, replies):
        self.replies, self.i = replies, 0

    def chat(self, conversations, **kw):
        out = []
        for _ in conversations:
            out.append(self.replies[self.i % len(self.replies)])
            self.i += 1
        return out

    def describe(self):
        return {"backend": "scripted"}


@pytest.fixture(scope="module")
def sample_ws(tmp_path_factory):
    """The bundled sample community, ingested, with pairs (held-out split) and two systems' outputs."""
    from llumi.data.ingest import ingest
    from llumi.data.pairs import PairsConfig, build_pairs

    root = tmp_path_factory.mktemp("evalws")
    ws = Workspace(root / "work").ensure()
    ingest(ws, sorted((Path(llumi.__file__).parent / "data" / "sample").glob("*.zst")), progress=False)
    build_pairs(ws, PairsConfig(similarity="lexical"), progress=False)
    outputs = {}
    for name, replies in (("warm", WARM), ("flat", FLAT)):
        s = run_assist(ws, "generate", AssistConfig(), split="test", output=str(root / name), backend=Scripted(replies),
                       progress=False)
        outputs[name] = Path(s["output"])
    return ws, outputs


def _cli(ws, *args):
    from llumi.cli import cli

    r = CliRunner().invoke(cli, ["--workspace", str(ws.root), *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_eval_compares_systems_on_the_held_out_posts(sample_ws, tmp_path):
    ws, outputs = sample_ws
    flat = tmp_path / "flat.jsonl"
    shutil.copy(outputs["flat"], flat)
    n_rows = len(read_jsonl(flat))
    with open(flat, "a") as f:
        f.write('{"id": "broken\n')
        f.write('[1, 2]\n')
        f.write('{"id": "x-no-text"}\n')
    code, out, err = _cli(ws, "eval", "--system", f"warm={outputs['warm']}", "--system", f"flat={flat}",
                          "--name", "t1", "--similarity", "off", "--reward", "off", "--json")
    assert code == 0
    s = json.loads(out)  # exactly one JSON object on stdout
    test_ids = {json.loads(l)["post_id"] for l in (ws.pairs / "gm-sft" / "test.jsonl").read_text().splitlines()}
    assert s["posts"] == len(test_ids) == n_rows
    assert set(s["systems"]) == {"human", "warm", "flat"}
    assert all(s["systems"][n]["matched"] == s["posts"] and s["systems"][n]["missing"] == 0 for n in s["systems"])
    bad = s["systems"]["flat"]["bad_lines"]
    assert [b["line"] for b in bad] == [n_rows + 1, n_rows + 2, n_rows + 3]
    assert "not JSON" in bad[0]["problem"] and "no 'text'" in bad[2]["problem"]
    m = {n: s["systems"][n]["measures"] for n in s["systems"]}
    assert m["warm"]["empathy_er"]["mean"] > m["flat"]["empathy_er"]["mean"] == 0
    assert m["flat"]["questions"]["mean"] == 0 and m["warm"]["questions"]["mean"] == 1
    assert m["human"]["length_words"]["mean"] > m["flat"]["length_words"]["mean"]
    # two replies cycled over the posts: almost no diversity, self-BLEU near 1
    assert s["systems"]["warm"]["diversity"]["self_bleu"] > 0.95 > s["systems"]["human"]["diversity"]["self_bleu"]
    assert s["systems"]["warm"]["diversity"]["distinct_2"] < s["systems"]["human"]["diversity"]["distinct_2"]
    c = s["comparisons"]["warm vs flat"]["empathy_ip"]
    assert c["diff"] > 0 and c["p_bootstrap"] < 0.05 and c["n"] == s["posts"]
    safety = s["systems"]["warm"]["safety"]
    assert safety["replies"] == s["posts"] and sum(safety["actions"].values()) == s["posts"]
    folder = ws.root / "eval" / "t1"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["inputs"]["system:warm"].startswith("sha256:") and "pairs/gm-sft/test.jsonl" in metrics["inputs"]
    assert metrics["scorers"]["empathy_lexicon"] and metrics["scorers"]["measures"] and metrics["scorers"]["textstat"]
    assert metrics["scorers"]["safety_resources"].startswith("sha256:")
    assert read_meta(folder)["stage"] == "eval"
    rows = read_jsonl(folder / "responses.jsonl")
    assert len(rows) == 3 * s["posts"] and {r["system"] for r in rows} == {"human", "warm", "flat"}


def test_ids_line_up_and_a_missing_reply_is_counted(sample_ws, tmp_path):
    ws, outputs = sample_ws
    rows = read_jsonl(outputs["warm"])
    part = tmp_path / "part.jsonl"
    part.write_text("".join(json.dumps(r) + "\n" for r in rows[:5]) + json.dumps({"id": "not-a-test-post", "text": "hi"}) + "\n")
    s = evaluate_systems(ws, {"part": part}, name="t2", similarity="off", reward="off", n_boot=200)
    assert s["systems"]["part"]["matched"] == 5 and s["systems"]["part"]["missing"] == s["posts"] - 5
    assert s["systems"]["part"]["unmatched_ids"] == 1
    assert s["systems"]["part"]["measures"]["lsm"]["n"] == 5
    assert s["comparisons"]["human vs part"]["lsm"]["n"] == 5


def test_evaluate_systems_errors_say_what_to_do(tmp_path, ws):
    with pytest.raises(InputError, match="no such file"):
        evaluate_systems(ws, {"x": tmp_path / "nope.jsonl"})
    with pytest.raises(ConfigError, match="kind"):
        evaluate_systems(ws, {}, kind="summarise")
    from llumi.errors import WorkspaceError

    with pytest.raises(WorkspaceError, match="llumi pairs"):
        evaluate_systems(ws, {})


def test_a_posts_file_and_rows_without_pairs(ws, tmp_path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text(json.dumps({"id": 1, "title": "New city", "text": "I moved and I know nobody.", "reference": "Moving is lonely. What do you enjoy doing?"}) + "\n"
                     + json.dumps({"id": 2, "text": "My exam went badly."}) + "\n")
    sys_file = tmp_path / "sys.jsonl"
    sys_file.write_text(json.dumps({"id": 1, "text": "That sounds lonely. How are you feeling?"}) + "\n"
                        + json.dumps({"id": 2, "text": "Sorry to hear that."}) + "\n")
    s = evaluate_systems(ws, {"mine": sys_file}, posts=posts, name="t3", similarity="off", reward="off", n_boot=200)
    assert s["posts"] == 2 and s["systems"]["human"]["matched"] == 1 and s["systems"]["mine"]["matched"] == 2


def test_improve_kind_measures_similarity_to_the_draft(sample_ws, tmp_path):
    pytest.importorskip("sentence_transformers")
    ws, _ = sample_ws
    s = run_assist(ws, "improve", AssistConfig(), split="test", output=str(tmp_path / "im"), backend=Scripted(WARM),
                   progress=False)
    out = evaluate_systems(ws, {"im": s["output"]}, kind="improve", name="t4", reward="off", n_boot=200)
    m = out["systems"]["im"]["measures"]
    assert m["similarity_to_draft"]["n"] > 0 and -1 <= m["similarity_to_draft"]["mean"] <= 1
    assert out["systems"]["human"]["measures"]["similarity_to_draft"]["mean"] > m["similarity_to_draft"]["mean"]


def test_report_is_self_contained_escaped_and_renders_in_chromium(sample_ws, tmp_path):
    ws, outputs = sample_ws
    evil = tmp_path / "evil.jsonl"
    rows = read_jsonl(outputs["warm"])
    rows[0] = {**rows[0], "model_text": "<script>alert(1)</script> <img src=x onerror=alert(2)> & you", "text": "x"}
    evil.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = evaluate_systems(ws, {"<b>evil</b>": evil, "flat": outputs["flat"]}, name="t5", similarity="off",
                         reward="off", n_boot=200, examples=3)
    html = Path(s["report"]).read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;evil&lt;/b&gt;" in html
    assert "<img" not in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)  # no external asset
    assert "<svg" in html and "not a clinician" in html
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no Debian chromium at /usr/bin/chromium (scripts/setup installs it when run as root)")
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    shots = REPO / "test-artifacts"
    shots.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(Path(s["report"]).as_uri())
            assert page.title() == "LLUMI evaluation: t5"
            assert page.locator("h2", has_text="Safety").count() == 1
            assert page.locator("figure svg circle").count() >= 3 * 5
            assert page.locator(".ex").count() == 3
            assert "<script>alert(1)</script>" in page.locator(".reply").nth(1).inner_text() or \
                   "<script>alert(1)</script>" in page.inner_text("body")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            page.screenshot(path=str(shots / "eval-report.png"))
        finally:
            browser.close()
    assert not dialogs, "text from a reply ran as script"
    assert all(u.startswith("file:") or u.startswith("data:") for u in requests), requests
    assert (tmp_path / "report.png").stat().st_size > 10_000


# --- the judge and an external endpoint, against a local fake OpenAI-compatible server ----------------

class _FakeOpenAI(BaseHTTPRequestHandler):
    mode = "fair"  # fair: a judge that prefers warm replies; biased: always answers "A"
    requests: list = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        user = body["messages"][-1]["content"]
        if "Reply A:" in user:
            a = user.split("Reply A:")[1].split("Reply B:")[0]
            b = user.split("Reply B:")[1]
            warm = lambda t: "sorry" in t.lower() or "sounds" in t.lower() or "been there" in t.lower()  # noqa: E731
            answer = "A" if type(self).mode == "biased" else ("A" if warm(a) and not warm(b) else "B" if warm(b) and not warm(a) else "A")
        elif "Dimension:" in user:
            reply = user.split("Reply:")[1]
            answer = "Score: 4" if ("sorry" in reply.lower() or "been there" in reply.lower()) else "2"
        else:  # a generation request (the external baseline)
            answer = "I'm so sorry. It sounds like a heavy week; what would help most right now?"
        payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())


@pytest.fixture
def fake_server():
    _FakeOpenAI.requests = []
    _FakeOpenAI.mode = "fair"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_judge_prompts_and_parsing():
    msgs = rubric_messages("empathy", "post text", "reply text")
    assert "Score 1:" in msgs[-1]["content"] and "Score 5:" in msgs[-1]["content"] and "reply text" in msgs[-1]["content"]
    assert parse_score("Score: 4") == 4 and parse_score("4.5 out of 5") is None and parse_score("none") is None
    assert parse_choice("A") == "A" and parse_choice("Reply B is better.") == "B"
    assert parse_choice("A or B") is None and parse_choice("") is None


def test_judge_scores_and_pairwise_in_both_orders(sample_ws, fake_server):
    from llumi.assist.backends import OpenAIBackend

    ws, outputs = sample_ws
    judge = Judge(OpenAIBackend(fake_server, "judge"))
    s = evaluate_systems(ws, {"warm": outputs["warm"], "flat": outputs["flat"]}, name="t6", similarity="off",
                         reward="off", judge=judge, judge_pairwise_against="flat", limit=6, n_boot=200)
    m = s["systems"]
    # "sorry"/"been there" in every warm reply: 4; flat replies: 2
    assert m["warm"]["measures"]["judge_empathy"]["mean"] == 4 and m["flat"]["measures"]["judge_empathy"]["mean"] == 2
    pw = s["judge"]["pairwise"]["warm vs flat"]
    assert pw["n"] == 6 and pw["win_rate"] == 1.0 and pw["position_disagreements"] == 0
    pairwise_requests = [r for r in _FakeOpenAI.requests if "Reply A:" in r["messages"][-1]["content"]]
    # each pair asked twice, the second time with the replies swapped
    firsts = {r["messages"][-1]["content"].split("Reply A:")[1].split("Reply B:")[0].strip() for r in pairwise_requests}
    assert len(pairwise_requests) == 2 * (6 + 6) and any("Go outside" in f for f in firsts) and any("sorry" in f for f in firsts)
    assert s["scorers"]["judge"]["version"] == "judge-v1" and len(s["scorers"]["judge"]["prompts_sha256"]) == 64
    assert "not a clinician" in Path(s["report"]).read_text()


def test_a_position_biased_judge_cancels_out(sample_ws, fake_server):
    from llumi.assist.backends import OpenAIBackend

    ws, outputs = sample_ws
    _FakeOpenAI.mode = "biased"
    judge = Judge(OpenAIBackend(fake_server, "judge"), dimensions=("safety",))
    s = evaluate_systems(ws, {"warm": outputs["warm"], "flat": outputs["flat"]}, name="t7", similarity="off",
                         reward="off", judge=judge, judge_pairwise_against="flat", limit=4, n_boot=200)
    pw = s["judge"]["pairwise"]["warm vs flat"]
    assert pw["win_rate"] == 0.5 and pw["position_disagreements"] == 4


def test_external_baseline_generated_from_an_endpoint(sample_ws, fake_server):
    ws, _ = sample_ws
    code, out, _ = _cli(ws, "eval", "--endpoint", f"gpt={fake_server}@some-model", "--limit", "3", "--name", "t8",
                        "--similarity", "off", "--reward", "off", "--json")
    assert code == 0
    s = json.loads(out)
    assert s["systems"]["gpt"]["matched"] == 3 and s["posts"] == 3
    gen = [r for r in _FakeOpenAI.requests if r["model"] == "some-model"]
    assert len(gen) == 3
    assert (ws.root / "eval" / "t8" / "outputs" / "gpt" / "generate.jsonl").exists()


def test_eval_uses_the_trained_reward_model(sample_ws, tmp_path):
    pytest.importorskip("sentence_transformers")
    ws, outputs = sample_ws
    from tests.test_evaluate_reward import _write_epitome

    code, out, _ = _cli(ws, "eval", "train-reward", "--json")
    assert code == 0 and json.loads(out)["accuracy"]["test"] is not None
    code, _, _ = _cli(ws, "eval", "train-empathy", "--data", str(_write_epitome(tmp_path / "epi")), "--folds", "2", "--json")
    assert code == 0
    s = evaluate_systems(ws, {"warm": outputs["warm"], "flat": outputs["flat"]}, name="t9", n_boot=200)
    for key in ("empathy_trained_er", "empathy_trained_ip", "empathy_trained_ex"):
        assert key in s["measures"] and s["systems"]["warm"]["measures"][key]["n"] == s["posts"]
    assert s["inputs"]["empathy-classifier"].startswith("sha256:")
    shutil.rmtree(ws.root / "eval" / "empathy-classifier")  # leave the module's workspace as it was
    assert "reward" in s["measures"] and s["scorers"]["reward"]["hash"].startswith("sha256:")
    wr = s["reward_win_rates"]
    assert wr["warm"]["flat"]["n"] == s["posts"]
    assert wr["warm"]["flat"]["win_rate"] + wr["flat"]["warm"]["win_rate"] == pytest.approx(1.0)
    assert s["systems"]["warm"]["measures"]["similarity_to_post"]["n"] == s["posts"]
    assert "win rates" in Path(s["report"]).read_text()


def test_a_base_model_system_is_generated_then_evaluated(sample_ws, tmp_path):
    """--model NAME=MODEL runs `llumi generate` with an untuned model (a tiny random one) on the same posts."""
    pytest.importorskip("transformers")
    from tests.tiny_model import make_tiny_model

    ws, _ = sample_ws
    model = make_tiny_model(tmp_path / "tiny")
    code, out, _ = _cli(ws, "eval", "--model", f"base={model}", "--limit", "2", "--name", "t10",
                        "--similarity", "off", "--reward", "off", "--json")
    assert code == 0
    s = json.loads(out)
    assert s["systems"]["base"]["matched"] == 2 and s["systems"]["human"]["matched"] == 2
    rows = read_jsonl(ws.root / "eval" / "t10" / "outputs" / "base" / "generate.jsonl")
    assert len(rows) == 2 and all("tier" in r and "action" in r for r in rows)
    assert read_meta(ws.root / "eval" / "t10" / "outputs" / "base")["served"]["model"] == str(model)


def test_a_local_model_can_be_the_judge(sample_ws, tmp_path):
    """--judge-local runs the rubric and pairwise prompts on a local model (a tiny random one here, whose
    answers are mostly unreadable: they are counted, never guessed)."""
    pytest.importorskip("transformers")
    from tests.tiny_model import make_tiny_model

    ws, outputs = sample_ws
    model = make_tiny_model(tmp_path / "judge")
    code, out, _ = _cli(ws, "eval", "--system", f"warm={outputs['warm']}", "--judge-local", str(model), "--limit", "2",
                        "--name", "t11", "--similarity", "off", "--reward", "off", "--json")
    assert code == 0
    s = json.loads(out)
    j = s["judge"]
    assert j["describe"]["version"] == "judge-v1" and j["describe"]["backend"] == "transformers"
    assert set(j["pairwise"]) == {"warm vs human"}
    for d in ("readability", "empathy", "connection", "actionability", "safety"):
        assert f"judge_{d}" in s["measures"]
    scored = sum(s["systems"][n]["measures"][f"judge_{d}"]["n"] for n in ("warm", "human")
                 for d in ("readability", "empathy", "connection", "actionability", "safety"))
    pairwise_unread = 2 - j["pairwise"]["warm vs human"]["n"]
    assert scored + j["unparsed_answers"] - pairwise_unread == 2 * 2 * 5


def test_a_report_name_reused_for_another_system_is_refused(sample_ws, fake_server):
    ws, _ = sample_ws
    args = ("--limit", "2", "--name", "t12", "--similarity", "off", "--reward", "off", "--json")
    assert _cli(ws, "eval", "--endpoint", f"gpt={fake_server}@model-a", *args)[0] == 0
    assert _cli(ws, "eval", "--endpoint", f"gpt={fake_server}@model-a", *args)[0] == 0  # same system: resumes
    assert len([r for r in _FakeOpenAI.requests if r["model"] == "model-a"]) == 2
    with pytest.raises(ConfigError, match="other settings"):
        _cli(ws, "eval", "--endpoint", f"gpt={fake_server}@model-b", *args)
