"""Run the fixture suites, and measure triage on labelled posts (recall and false-positive rates)."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from llumi.errors import InputError
from llumi.safety.guard import guard
from llumi.safety.triage import RANK, TIERS, triage

FIXTURES = Path(__file__).with_name("fixtures")


def load_fixture(name: str) -> dict:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())


@dataclass
class SuiteResult:
    name: str
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.passed + len(self.failures)

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "total": self.total, "failures": self.failures}


def run_triage_fixtures() -> SuiteResult:
    res = SuiteResult("triage")
    for case in load_fixture("triage")["cases"]:
        r = triage(case["text"])
        rules = set(r.rules)
        discounted = {s.rule for s in r.discounted}
        ok = (r.tier == case["tier"] and set(case.get("rules", [])) <= rules
              and set(case.get("discounted", [])) <= discounted)
        res.check(ok, f"{case['text']!r}: expected {case['tier']} {case.get('rules', '')}, got {r.tier} {sorted(rules)}")
    return res


def run_metamorphic_fixtures() -> SuiteResult:
    res = SuiteResult("metamorphic")
    for group in load_fixture("metamorphic")["groups"]:
        base = triage(group["base"]).tier
        for v in group["variants"]:
            got = triage(v).tier
            res.check(got == base, f"{v!r}: {got}, but its base {group['base']!r} is {base}")
    return res


def run_golden_replies() -> SuiteResult:
    res = SuiteResult("golden_replies")
    for case in load_fixture("golden_replies")["replies"]:
        v = guard(case["text"], case["tier"], case.get("locale"))
        res.check(v.action == "allow" and v.text == case["text"],
                  f"{case['text'][:60]!r}: {v.action} {list(v.rules)}")
    return res


def run_guard_fixtures() -> SuiteResult:
    res = SuiteResult("guard")
    for case in load_fixture("guard")["cases"]:
        v = guard(case["reply"], case["tier"], case.get("locale", "US"))
        shown = v.text or ""
        ok = (v.action == case["action"] and set(case.get("rules", [])) <= set(v.rules)
              and all(s in shown for s in case.get("contains", []))
              and not any(s in shown for s in case.get("not_contains", [])))
        res.check(ok, f"{case['reply'][:60]!r}: expected {case['action']} {case.get('rules', '')}, got {v.action} {list(v.rules)} -> {shown[:80]!r}")
    return res


def run_guard_metamorphic_fixtures() -> SuiteResult:
    """Each variant of a guard case must get the same action as its base (at tier low, locale US)."""
    res = SuiteResult("guard_metamorphic")
    for group in load_fixture("guard").get("metamorphic", []):
        base = guard(group["base"], "low", "US").action
        for v in group["variants"]:
            got = guard(v, "low", "US").action
            res.check(got == base, f"{v!r}: {got}, but its base {group['base']!r} is {base}")
    return res


def run_fixtures() -> dict[str, SuiteResult]:
    """Every fixture suite: triage, metamorphic variants, golden replies, guard cases and their variants."""
    return {s.name: s for s in (run_triage_fixtures(), run_metamorphic_fixtures(), run_golden_replies(), run_guard_fixtures(),
                                    run_guard_metamorphic_fixtures())}


def read_labelled(path: str | Path, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    """Texts and labels from a CSV file; a missing column is an error that lists the columns."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"labelled data {path} not found")
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        text_cols = [c.strip() for c in text_col.split("+")]
        for c in text_cols + [label_col]:
            if c not in cols:
                raise InputError(f"column {c!r} not found in {path}; columns are: {', '.join(cols)}")
        texts, labels = [], []
        for row in reader:
            texts.append("\n".join((row[c] or "") for c in text_cols).strip())
            labels.append((row[label_col] or "").strip())
    return texts, labels


class _Fixed:
    """A classifier stand-in that returns a tier computed beforehand (so embeddings run in batches)."""

    def __init__(self, tier: str):
        self.tier = tier

    def predict_tier(self, texts: list[str]) -> list[str]:
        return [self.tier for _ in texts]


def evaluate_labelled(texts: list[str], labels: list[str], positive: tuple[str, ...], negative: tuple[str, ...] = (),
                      classifier=None) -> dict:
    """Recall at each tier threshold on positives, false-positive rate on negatives, and per-rule rates.

    A row is positive when its label is in ``positive``; negative when it is in ``negative`` (or, when
    ``negative`` is empty, when it is any other value). Rows in neither are ignored.
    """
    pos = {p.lower() for p in positive}
    neg = {n.lower() for n in negative}
    groups: dict[str, list[str]] = {"positive": [], "negative": []}
    for t, l in zip(texts, labels):
        l = l.lower()
        if l in pos:
            groups["positive"].append(t)
        elif (not neg and l not in pos) or l in neg:
            groups["negative"].append(t)
    out: dict = {"positive_labels": sorted(pos), "negative_labels": sorted(neg) or "all other values"}
    for name, rows in groups.items():
        if classifier is not None and rows:
            learned = classifier.predict_tier(rows)  # one batched pass through the embedder
            results = [triage(t, classifier=_Fixed(tier)) for t, tier in zip(rows, learned)]
        else:
            results = [triage(t) for t in rows]
        n = len(results)
        tiers = Counter(r.tier for r in results)
        at_least = {f"{t}+": (sum(RANK[r.tier] >= RANK[t] for r in results) / n if n else 0.0) for t in TIERS[1:]}
        rules = Counter(rule for r in results for rule in set(r.rules))
        out[name] = {
            "rows": n,
            "tiers": {t: tiers.get(t, 0) for t in TIERS},
            "rate_at_or_above": at_least,
            "rule_rates": {k: v / n for k, v in sorted(rules.items(), key=lambda kv: -kv[1])} if n else {},
        }
    return out
