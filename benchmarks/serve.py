"""Benchmark of `llumi serve`: safety endpoints and chat completions under bounded load, on loopback.

Run it from the repository root::

    .venv/bin/python benchmarks/serve.py                      # the default model, llama.cpp, 4 users
    .venv/bin/python benchmarks/serve.py --users 4 --requests 3 --safety-seconds 8

What it does, in one run:

1. Starts `llumi serve` as its own process (a fresh workspace, the default model SmolLM2-135M through
   llama.cpp, 4 generation workers, rate limits off) and makes a user and an API key.
2. **Safety alone** (the baseline): a second process sends ``POST /v1/safety/triage`` and
   ``/v1/safety/guard`` (alternating, posts of every tier) over ``--connections`` keep-alive
   connections for ``--safety-seconds``: requests/s, p50 / p99 latency, errors. Then the same at 4
   connections, the load used under generation below.
3. **Chat**: ``--users`` concurrent users (another process, the ``openai`` client), each
   sending ``--requests`` streaming ``llumi-gm`` completions of ``--max-tokens`` tokens back to back:
   time to first text (the first guarded sentence a user sees), tokens/s per stream (the guarded text
   counted with the model's tokenizer), errors.
4. **Safety under generation load**: the 4-connection safety load runs again *while* the users
   generate a second round (whose chat figures are reported too): p50 / p99 / max latency, and their ratio to step 2's baseline. A slow generation must
   never stall a safety request (the generation runs in a thread pool, never on the event loop).

Targets (issue 6): at least 500 safety requests/s, zero errors, time to first text p50 under 1 s for
the default model. Figures go to ``benchmarks/out/serve.json``. Client and server share the machine's
cores, as they would on a small self-hosted box.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSTS = [
    "I failed my exam today and I feel like such a disappointment to my parents. How do I tell them?",
    "My best friend moved away and I have nobody to talk to on weekends. Any ideas for meeting people?",
    "Some days I wish I could just disappear and not wake up. Everything feels pointless lately.",
    "I have been thinking about killing myself a lot lately and I don't know who to tell.",
    "I wrote a note and I'm going to kill myself tonight. I've given my things away.",
    "Work has been so stressful that I can't sleep. My manager keeps piling on more tasks.",
    "I relapsed and cut myself again last night after three months clean. I feel so ashamed.",
    "This exam is killing me lol, three more chapters to go before Friday.",
]
REPLIES = [
    "That sounds really hard. You are not a disappointment. What would help you most right now?",
    "I'm sorry you're going through this. Are you thinking about suicide? You can call or text 988.",
    "My cousin committed suicide last year, so I understand. Call 555-123-4567 any time.",
    "It's okay to feel this way. Have you talked to your prescriber about stopping your meds?",
]


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


# --- safety load: raw keep-alive HTTP/1.1 on asyncio, so the client costs little -------------------

async def _connection(host: str, port: int, key: str, until: float, offset: int, out: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    while time.perf_counter() < until:
        if i % 2 == 0:
            path, body = "/v1/safety/triage", {"text": POSTS[i % len(POSTS)]}
        else:
            path, body = "/v1/safety/guard", {"reply": REPLIES[i % len(REPLIES)], "post": POSTS[(i // 2) % len(POSTS)]}
        data = json.dumps(body).encode()
        req = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data
        t0 = time.perf_counter()
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        out["lat"].append(time.perf_counter() - t0)
        if status != 200:
            out["errors"] += 1
        i += 1
    writer.close()


def safety_load(url: str, key: str, seconds: float, connections: int) -> dict:
    host, port = url.split("//")[1].split(":")
    out = {"lat": [], "errors": 0}

    async def main():
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(host, int(port), key, until, c, out) for c in range(connections)))

    t0 = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - t0
    lat = out["lat"]
    return {"connections": connections, "requests": len(lat), "seconds": round(wall, 2),
            "requests_per_s": round(len(lat) / wall, 1), "p50_ms": round(percentile(lat, 50) * 1000, 2),
            "p99_ms": round(percentile(lat, 99) * 1000, 2), "max_ms": round(max(lat) * 1000, 2) if lat else None,
            "errors": out["errors"]}


# --- chat load: the official openai client, one thread per user -------------------------------------

def chat_load(url: str, key: str, users: int, requests: int, max_tokens: int, tokenizer_dir: str) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    import openai
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=300)
    ordinary = [p for p in POSTS if "kill" not in p and "disappear" not in p and "cut" not in p]

    def user(u: int) -> list[dict]:
        results = []
        for r in range(requests):
            post = ordinary[(u + r) % len(ordinary)]
            t0 = time.perf_counter()
            first = None
            text = ""
            try:
                stream = client.chat.completions.create(model="llumi-gm", stream=True, max_tokens=max_tokens,
                                                        messages=[{"role": "user", "content": post}])
                final = None
                for chunk in stream:
                    piece = chunk.choices[0].delta.content if chunk.choices else None
                    if piece and first is None:
                        first = time.perf_counter() - t0
                    text += piece or ""
                    final = chunk
                total = time.perf_counter() - t0
                safety = final.model_extra.get("llumi_safety") if final is not None else None
                shown = (safety or {}).get("text") or text
                n = len(tok(shown, add_special_tokens=False)["input_ids"])
                results.append({"ok": safety is not None, "ttft": first, "total": total, "tokens": n,
                                "action": (safety or {}).get("action"), "replace": (safety or {}).get("replace")})
            except Exception as e:  # noqa: BLE001 - counted as an error
                results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
        return results

    t0 = time.perf_counter()
    with ThreadPoolExecutor(users) as pool:
        rows = [r for rs in pool.map(user, range(users)) for r in rs]
    wall = time.perf_counter() - t0
    ok = [r for r in rows if r["ok"]]
    ttft = [r["ttft"] for r in ok if r["ttft"] is not None]
    rates = [r["tokens"] / r["total"] for r in ok if r["total"] > 0]
    return {"users": users, "requests": len(rows), "errors": len(rows) - len(ok),
            "error_messages": sorted({r.get("error", "") for r in rows if not r["ok"]})[:3],
            "seconds": round(wall, 2), "ttft_p50_s": round(percentile(ttft, 50), 3),
            "ttft_p90_s": round(percentile(ttft, 90), 3), "ttft_max_s": round(max(ttft), 3) if ttft else None,
            "no_text_before_end": len(ok) - len(ttft),
            "tokens_per_s_per_stream_p50": round(percentile(rates, 50), 1),
            "tokens_per_s_total": round(sum(r["tokens"] for r in ok) / wall, 1),
            "guard_actions": {a: sum(1 for r in ok if r["action"] == a) for a in {r["action"] for r in ok}}}


# --- the run ---------------------------------------------------------------------------------------

def start_server(ws: Path, port: int, model: str, backend: str, workers: int, flush: str) -> subprocess.Popen:
    cmd = [str(REPO / ".venv" / "bin" / "llumi"), "--workspace", str(ws), "serve", "--port", str(port),
           "--model", model, "--backend", backend, "--workers", str(workers),
           "--set", "requests_per_minute=0", "--set", "generations_per_minute=0", "--set", f"stream_flush={flush}"]
    log = open(ws / "serve.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    import httpx

    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {(ws / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("the server did not come up in 300 s")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--backend", default="llamacpp", choices=["llamacpp", "transformers"])
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--requests", type=int, default=3, help="streaming completions per user")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--safety-seconds", type=float, default=8)
    ap.add_argument("--connections", type=int, default=16, help="connections of the throughput run")
    ap.add_argument("--stream-flush", default="first-clause", choices=["first-clause", "sentence", "clause"],
                    help="the server's guarded-streaming granularity")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "serve.json"))
    args = ap.parse_args(argv)

    from llumi.models import resolve_model
    from llumi.web.db import open_db
    from llumi.workspace import Workspace

    port = args.port
    if not port:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    tokenizer_dir = str(resolve_model(args.model).path)
    with tempfile.TemporaryDirectory(prefix="llumi-serve-bench-") as tmp:
        ws = Workspace(Path(tmp) / "work").ensure()
        db = open_db(ws)
        db.add_user("bench", "bench-password-1", "admin")
        key, _ = db.create_key("bench", "benchmark")
        db.close()
        print(f"starting llumi serve ({args.model}, {args.backend}) on {url} ...", file=sys.stderr)
        proc = start_server(ws.root, port, args.model, args.backend, args.users, args.stream_flush)
        try:
            with ProcessPoolExecutor(2) as pool:
                safety_load(url, key, 1.0, 4)  # warm-up
                print("safety alone ...", file=sys.stderr)
                alone = pool.submit(safety_load, url, key, args.safety_seconds, args.connections).result()
                alone4 = pool.submit(safety_load, url, key, args.safety_seconds, 4).result()
                pool.submit(chat_load, url, key, 1, 1, 8, tokenizer_dir).result()  # warm-up
                print("chat completions alone ...", file=sys.stderr)
                chat = pool.submit(chat_load, url, key, args.users, args.requests, args.max_tokens, tokenizer_dir).result()
                print("chat completions with safety load alongside ...", file=sys.stderr)
                chat_f = pool.submit(chat_load, url, key, args.users, args.requests, args.max_tokens, tokenizer_dir)
                time.sleep(1.0)
                under = pool.submit(safety_load, url, key, args.safety_seconds, 4).result()
                chat_loaded = chat_f.result()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    "loadavg": os.getloadavg()},
        "settings": vars(args),
        "safety_alone": alone, "safety_alone_4_connections": alone4, "chat": chat,
        "chat_with_safety_load": chat_loaded, "safety_under_generation": under,
        "ratio_safety_p50_under_load_vs_alone": round(under["p50_ms"] / alone4["p50_ms"], 2),
        "ratio_safety_p99_under_load_vs_alone": round(under["p99_ms"] / alone4["p99_ms"], 2),
        "targets": {"safety_requests_per_s>=500": alone["requests_per_s"] >= 500,
                    "zero_errors": alone["errors"] + alone4["errors"] + under["errors"] + chat["errors"]
                    + chat_loaded["errors"] == 0,
                    "ttft_p50<1s": chat["ttft_p50_s"] < 1.0},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"\nsafety alone ({args.connections} conns): {alone['requests_per_s']} req/s, p50 {alone['p50_ms']} ms, "
          f"p99 {alone['p99_ms']} ms, errors {alone['errors']}\n"
          f"safety alone (4 conns): {alone4['requests_per_s']} req/s, p50 {alone4['p50_ms']} ms, p99 {alone4['p99_ms']} ms\n"
          f"safety during generation (4 conns): {under['requests_per_s']} req/s, p50 {under['p50_ms']} ms, "
          f"p99 {under['p99_ms']} ms, max {under['max_ms']} ms -> p50 x{result['ratio_safety_p50_under_load_vs_alone']}, "
          f"p99 x{result['ratio_safety_p99_under_load_vs_alone']} the baseline\n"
          f"chat, {chat['users']} users x {args.requests}: time to first text p50 {chat['ttft_p50_s']} s "
          f"(p90 {chat['ttft_p90_s']}), {chat['tokens_per_s_per_stream_p50']} tok/s per stream, "
          f"{chat['tokens_per_s_total']} tok/s in all, errors {chat['errors']}\n"
          f"chat with the safety load alongside: time to first text p50 {chat_loaded['ttft_p50_s']} s, "
          f"{chat_loaded['tokens_per_s_per_stream_p50']} tok/s per stream, errors {chat_loaded['errors']}")
    return result


if __name__ == "__main__":
    main()
