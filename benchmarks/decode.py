"""Benchmark of decoding speed: the llama.cpp backend against transformers ``generate`` (issue 4, §7).

Run it from the repository root::

    .venv/bin/python benchmarks/decode.py                       # 8 prompts, 128 new tokens each
    .venv/bin/python benchmarks/decode.py --prompts 4 --new-tokens 64 --outtypes q8_0

What it does, in one run, on the same merged default model (``smollm2-135m``, converted once from its
packaged GGUF into a float32 Hugging Face folder) and the same prompts (GM prompts on invented posts):

1. transformers: ``TransformersBackend`` (float32), greedy: all prompts in one left-padded batch (its
   best throughput), and one request at a time (as the web app serves one supporter);
2. llama.cpp: the same folder exported to GGUF (``f16`` and ``q8_0`` by default, with the packaged
   GGUF's tokenizer metadata), run by ``LlamaCppBackend`` as the app runs it: ``--slots`` requests in
   flight (default 1: on a 2-core CPU, parallel slots did not decode faster), with llama.cpp's prompt
   cache, so the GM system prompt the prompts share is processed once per slot; greedy.

Every prompt decodes exactly ``--new-tokens`` tokens on both sides (end-of-turn ignored), so both do
the same work; tokens/s is new tokens over wall-clock seconds including prompt processing. Each pair
runs with each of ``--threads`` (default: all cores, then 1; on a CPU other work shares, one thread
can be the faster, for torch especially). It prints tokens/s for each, the ratios to transformers
(target: at least 4x), and how many prompts' first 16 greedy tokens agree between the two, and
writes the figures with the machine (CPU model, load average) and versions to
``benchmarks/out/decode.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

OUT = Path(__file__).resolve().parent / "out"
POSTS = [
    ("Can't sleep before exams", "Every night I lie awake thinking I will fail everything and let my parents down."),
    ("Moved to a new city", "I moved for work three months ago and I still don't know anyone. Weekends are the worst."),
    ("My friend stopped replying", "My best friend has ignored my messages for two weeks and I don't know what I did."),
    ("Panic at work", "I had a panic attack in a meeting today and now I'm scared to go back tomorrow."),
    ("Breakup", "We broke up after five years. I keep checking my phone hoping they will text."),
    ("Feeling like a burden", "I always feel like I'm too much for the people around me, so I stopped talking."),
    ("First therapy session", "I finally booked a therapy appointment but I'm terrified of what to say."),
    ("Grief", "My grandmother died last month and everyone expects me to be fine already."),
]


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu or platform.processor(), "cores": len(os.sched_getaffinity(0)), "load_avg": os.getloadavg()}


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for name in ("torch", "transformers", "xllamacpp", "gguf"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--outtypes", default="f16,q8_0", help="GGUF types to run llama.cpp on, comma-separated")
    ap.add_argument("--no-single", dest="single", action="store_false",
                    help="skip the transformers one-request-at-a-time baseline")
    ap.add_argument("--slots", type=int, default=1, help="llama.cpp parallel slots (requests in flight); "
                    "1 with the prompt cache was fastest on a 2-core CPU")
    ap.add_argument("--threads", default="", help="thread counts to run both with, comma-separated "
                    "(default: all cores, then 1)")
    args = ap.parse_args()

    from llumi.assist.backends import cpu_threads
    from llumi.models import resolve_model
    from llumi.prompts import gm_messages

    OUT.mkdir(parents=True, exist_ok=True)
    resolved = resolve_model(args.model)
    convs = [gm_messages(t, b) for t, b in (POSTS * ((args.prompts + len(POSTS) - 1) // len(POSTS)))[: args.prompts]]
    n = args.new_tokens
    thread_counts = ([int(t) for t in args.threads.split(",") if t.strip()]
                     or sorted({cpu_threads(), 1}, reverse=True))
    results: dict = {"model": resolved.describe(), "prompts": len(convs), "new_tokens": n,
                     "machine_before": machine(), "versions": versions(), "runs": {}}
    print(f"model {args.model} ({resolved.path}); {len(convs)} prompts x {n} new tokens, greedy, threads {thread_counts}")

    for threads in thread_counts:
        run_pair(args, resolved, convs, threads, results)

    results["machine_after"] = machine()
    (OUT / "decode.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {OUT / 'decode.json'}")


def run_pair(args, resolved, convs, threads: int, results: dict) -> None:
    """transformers, then llama.cpp on each GGUF type, all with ``threads`` threads."""
    import torch

    from llumi.assist.backends import LlamaCppBackend, TransformersBackend
    from llumi.assist.gguf_export import export_gguf

    n = args.new_tokens
    hf = TransformersBackend(str(resolved.path), batch_size=len(convs), threads=threads)
    hf.generate_ids(convs[:1], max_new_tokens=2)  # warm-up
    enc = hf._encode(convs)
    t0 = time.perf_counter()
    with torch.inference_mode():
        gen = hf.model.generate(**enc, **hf._gen_kwargs(n, 0.0, 1.0), min_new_tokens=n)
    secs = time.perf_counter() - t0
    hf_ids = gen[:, enc["input_ids"].shape[1]:].tolist()
    total = sum(len(r) for r in hf_ids)
    base = total / secs
    results["runs"][f"transformers-{threads}t"] = {
        "threads": threads, "seconds": secs, "tokens": total, "tokens_per_s": base, "dtype": "float32",
        "batch": len(convs), "load_avg": os.getloadavg()}
    print(f"[{threads} threads] transformers generate (float32, batch {len(convs)}): {total} tokens in {secs:.1f}s "
          f"= {base:.1f} tokens/s")
    if args.single:  # one request at a time, as the web app serves one supporter
        t0 = time.perf_counter()
        total = 0
        for conv in convs:
            one = hf._encode([conv])
            with torch.inference_mode():
                out = hf.model.generate(**one, **hf._gen_kwargs(n, 0.0, 1.0), min_new_tokens=n)
            total += out.shape[1] - one["input_ids"].shape[1]
        s1 = time.perf_counter() - t0
        results["runs"][f"transformers-single-{threads}t"] = {
            "threads": threads, "seconds": s1, "tokens": total, "tokens_per_s": total / s1, "batch": 1,
            "load_avg": os.getloadavg()}
        print(f"[{threads} threads] transformers generate (float32, one request at a time): {total} tokens in "
              f"{s1:.1f}s = {total / s1:.1f} tokens/s")
        single = total / s1
    del hf, gen

    for outtype in [o.strip() for o in args.outtypes.split(",") if o.strip()]:
        gguf = OUT / f"{args.model}-{(resolved.source_sha256 or 'local')[:12]}-{outtype}.gguf"
        if not gguf.exists():
            t = time.perf_counter()
            export_gguf(resolved.path, gguf, outtype=outtype, reference_gguf=resolved.source_gguf)
            print(f"exported {gguf.name} in {time.perf_counter() - t:.1f}s")
        llama = LlamaCppBackend(gguf, threads=threads, parallel=args.slots, n_ctx=1024)
        llama.chat_completion([{"role": "user", "content": "Hello"}], max_new_tokens=2)  # warm-up
        agree = 0
        for conv, ref in zip(convs, hf_ids):
            _, ids = llama.greedy_token_ids(conv, 16)
            agree += ids == ref[:16]

        def one(conv):
            res = llama.chat_completion(conv, max_new_tokens=n, ignore_eos=True)
            return res["usage"]["completion_tokens"]

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.slots) as pool:
            total = sum(pool.map(one, convs))
        secs = time.perf_counter() - t0
        tps = total / secs
        results["runs"][f"llamacpp-{outtype}-{threads}t"] = {
            "threads": threads, "seconds": secs, "tokens": total, "tokens_per_s": tps,
            "ratio_vs_transformers": tps / base, "slots": args.slots, "load_avg": os.getloadavg(),
            "first16_greedy_agree": f"{agree}/{len(convs)}", "gguf_mb": gguf.stat().st_size / 1e6,
        }
        if args.single:
            results["runs"][f"llamacpp-{outtype}-{threads}t"]["ratio_vs_transformers_single"] = tps / single
        print(f"[{threads} threads] llama.cpp {outtype} ({args.slots} slot(s)): {total} tokens in {secs:.1f}s = "
              f"{tps:.1f} tokens/s = {tps / base:.1f}x transformers batched (target >= 4x: "
              f"{'met' if tps / base >= 4 else 'NOT met'})"
              + (f", {tps / single:.1f}x transformers one at a time" if args.single else "")
              + f"; first 16 greedy tokens agree with transformers on {agree}/{len(convs)} prompts")
        del llama


if __name__ == "__main__":
    main()
