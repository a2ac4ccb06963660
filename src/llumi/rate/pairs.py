"""DPO2 pairs from a rating study: which of two replies to the same post the raters preferred.

    rows, counts = rating_pairs(posts, items, ratings, preferences, RatingPairsConfig())

Two sources, each optional:

- **Preferences**: raters asked "which reply is better?". A pair is made when the votes of the
  eligible raters lean one way by at least ``min_preference_margin`` (wins minus losses, over votes).
- **Ratings**: the per-dimension scores. For each item the eligible raters' mean per dimension; a pair
  is made when the two items' means, averaged over the dimensions, differ by ``min_rating_diff`` or more.

Who may decide what is a rule, not an accident: ``credentials`` names, per dimension (and ``preference``
for the pairwise question), whose ratings count; by default only licensed clinicians' safety ratings do.
The ``decisive`` dimension (safety by default) decides a pair on its own when the eligible raters see
a difference there, whatever the other dimensions say; when any rater's scores differ on it but no
eligible rater rated both replies, nobody is entitled to decide, so the pair is skipped. When a pair
from preferences and one from ratings point opposite ways, both are dropped (a decisive safety
difference overrides the preference instead). Every decision is counted by reason.

Rows have the format of ``llumi pairs``' ``gm-dpo`` (TRL conversational preference rows), so
``llumi train dpo --round 2`` trains on them unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any, Sequence

from llumi import prompts
from llumi.errors import ConfigError
from llumi.rate.stats import DIMENSIONS


@dataclasses.dataclass(frozen=True)
class RatingPairsConfig:
    """The rules that turn a study's ratings into DPO2 pairs (docs in the module docstring)."""

    from_preferences: bool = True
    from_ratings: bool = True
    dimensions: tuple[str, ...] = DIMENSIONS      # averaged for the rating-based decision
    min_rating_diff: float = 1.0                  # on the rating scale (1-5 by default)
    min_preference_margin: float = 0.5            # (wins - losses) / votes, eligible raters only
    min_raters: int = 1                           # eligible ratings per item and dimension / votes per pair
    decisive: str | None = "safety"               # a dimension that decides a pair alone when it differs
    # Per dimension (or "preference"): the credentials whose judgements count. Absent: everyone's.
    credentials: dict[str, tuple[str, ...]] = dataclasses.field(
        default_factory=lambda: {"safety": ("clinician",)})
    validation_share: float = 0.1                 # posts (not pairs) held out for DPO2's validation
    seed: int = 0

    def __post_init__(self) -> None:
        if not (self.from_preferences or self.from_ratings):
            raise ConfigError("at least one of from_preferences and from_ratings must be true")
        if self.min_rating_diff <= 0 or not 0 < self.min_preference_margin <= 1:
            raise ConfigError("min_rating_diff must be > 0 and min_preference_margin in (0, 1]")
        if self.min_raters < 1:
            raise ConfigError("min_raters must be at least 1")
        if self.decisive is not None and self.decisive not in self.dimensions:
            raise ConfigError(f"decisive dimension {self.decisive!r} is not one of dimensions {list(self.dimensions)}")
        object.__setattr__(self, "credentials", {k: tuple(v) for k, v in dict(self.credentials).items()})

    def allowed(self, what: str, credential: str) -> bool:
        allowed = self.credentials.get(what)
        return allowed is None or credential in allowed


def _item_means(ratings: Sequence[dict[str, Any]], cfg: RatingPairsConfig, eligible_only: bool
                ) -> dict[tuple[Any, str], float]:
    """``{(item, dimension): mean score}`` over the ratings that count (items with enough of them)."""
    scores: dict[tuple[Any, str], list[float]] = defaultdict(list)
    for r in ratings:
        if not eligible_only or cfg.allowed(r["dimension"], r["credential"]):
            scores[(r["item"], r["dimension"])].append(float(r["score"]))
    need = cfg.min_raters if eligible_only else 1
    return {k: sum(v) / len(v) for k, v in scores.items() if len(v) >= need}


def _rating_decision(a: Any, b: Any, eligible: dict, anyone: dict, cfg: RatingPairsConfig
                     ) -> tuple[int, str, float]:
    """+1 (a better), -1 (b better) or 0, with the reason and the margin."""
    thr = cfg.min_rating_diff
    if cfg.decisive:
        d = cfg.decisive
        if (a, d) in eligible and (b, d) in eligible:
            diff = eligible[(a, d)] - eligible[(b, d)]
            if abs(diff) >= thr:
                return (1 if diff > 0 else -1), f"{d} (eligible raters)", abs(diff)
        elif (a, d) in anyone and (b, d) in anyone and abs(anyone[(a, d)] - anyone[(b, d)]) >= thr:
            return 0, f"{d} differs but no eligible rater rated both", 0.0
    diffs = [eligible[(a, d)] - eligible[(b, d)] for d in cfg.dimensions
             if d != cfg.decisive and (a, d) in eligible and (b, d) in eligible]
    if not diffs:
        return 0, "not rated on the same dimensions", 0.0
    mean = sum(diffs) / len(diffs)
    if abs(mean) < thr:
        return 0, "rating difference below threshold", abs(mean)
    return (1 if mean > 0 else -1), "ratings", abs(mean)


def _preference_decision(votes: list[str], cfg: RatingPairsConfig) -> tuple[int, str, float]:
    if len(votes) < cfg.min_raters:
        return 0, "too few preference votes", 0.0
    margin = (votes.count("a") - votes.count("b")) / len(votes)
    if abs(margin) < cfg.min_preference_margin:
        return 0, "preference margin below threshold", abs(margin)
    return (1 if margin > 0 else -1), "preference", abs(margin)


def rating_pairs(posts: dict[Any, dict[str, Any]], items: dict[Any, dict[str, Any]],
                 ratings: Sequence[dict[str, Any]], preferences: Sequence[dict[str, Any]],
                 cfg: RatingPairsConfig, study: str | None = None) -> tuple[list[dict[str, Any]], Counter]:
    """The DPO2 rows and a count of every decision by reason.

    ``posts``: ``{post_id: {"title", "text"}}``; ``items``: ``{item_id: {"post", "system", "text"}}``;
    ``ratings`` and ``preferences`` as in ``llumi.rate.stats`` (a preference's ``a``/``b`` are item ids
    here). Deterministic: the same study and rules give the same rows in the same order.
    """
    eligible = _item_means(ratings, cfg, eligible_only=True) if cfg.from_ratings else {}
    anyone = _item_means(ratings, cfg, eligible_only=False) if cfg.from_ratings else {}
    votes: dict[tuple[Any, Any], list[str]] = defaultdict(list)
    if cfg.from_preferences:
        for p in preferences:
            if not cfg.allowed("preference", p["credential"]):
                continue
            a, b, choice = p["a"], p["b"], p["choice"]
            if str(a) > str(b):   # one key per unordered pair
                a, b, choice = b, a, {"a": "b", "b": "a"}.get(choice, choice)
            votes[(a, b)].append(choice)

    by_post: dict[Any, list[Any]] = defaultdict(list)
    for item_id, item in items.items():
        by_post[item["post"]].append(item_id)
    rows, counts = [], Counter()
    for post_id in sorted(by_post, key=str):
        post = posts.get(post_id)
        if post is None:
            counts["post text missing"] += 1
            continue
        for a, b in combinations(sorted(by_post[post_id], key=str), 2):
            if (items[a].get("text") or "").strip() == (items[b].get("text") or "").strip():
                counts["identical replies"] += 1
                continue
            r_dir, r_why, r_margin = _rating_decision(a, b, eligible, anyone, cfg) if cfg.from_ratings else (0, "", 0.0)
            p_dir, p_why, p_margin = _preference_decision(votes[(a, b)], cfg) if (a, b) in votes else (0, "", 0.0)
            if r_dir and p_dir and r_dir != p_dir:
                if cfg.decisive and r_why.startswith(cfg.decisive):
                    counts[f"preference overridden by {cfg.decisive}"] += 1
                    p_dir = 0
                else:
                    counts["preference and ratings disagree"] += 1
                    continue
            direction = r_dir or p_dir
            if not direction:
                counts[p_why or r_why or "no judgement"] += 1   # the asked preference's reason first
                continue
            source = "+".join(s for s, d in (("preference", p_dir), (r_why, r_dir)) if d)
            counts[f"pair: {source}"] += 1
            chosen, rejected = (a, b) if direction > 0 else (b, a)
            rows.append({
                "prompt": prompts.gm_messages(post.get("title"), post.get("text")),
                "chosen": [prompts.assistant(items[chosen]["text"])],
                "rejected": [prompts.assistant(items[rejected]["text"])],
                "post_id": post_id, "study": study, "source": source,
                "chosen_system": items[chosen]["system"], "rejected_system": items[rejected]["system"],
                "rating_margin": round(r_margin, 4) if r_dir else None,
                "preference_margin": round(p_margin, 4) if p_dir else None,
            })
    return rows, counts


def write_rating_pairs(ws, studies, name: str, cfg: RatingPairsConfig, role: str = "gm") -> dict[str, Any]:
    """``llumi pairs --from-ratings NAME``: the study's DPO2 pairs into ``pairs/<role>-dpo2/`` (train and
    validation JSON lines, split by post) with a ``meta.json`` naming the study, its size and the rules."""
    import json
    import shutil

    from llumi.config import to_dict
    from llumi.errors import WorkspaceError
    from llumi.rate.study import item_preferences
    from llumi.workspace import write_meta

    if role != "gm":
        raise ConfigError("DPO2 pairs from a study are for the GM (the study rates drafts of replies to posts)")
    records = studies.records(name, ws.secret_key())
    rows, counts = rating_pairs(records["posts"], records["items"], records["ratings"], item_preferences(records),
                                cfg, study=name)
    if not rows:
        raise WorkspaceError(f"study {name!r} gives no pair under these rules ({dict(counts) or 'no answers yet'}); "
                             "rate more items or relax min_rating_diff / min_preference_margin")
    target = ws.pairs / f"{role}-dpo2"
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    by_split: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_split[split_of(row["post_id"], cfg)].append(json.dumps(row, ensure_ascii=False) + "\n")
    for split, lines in by_split.items():   # no empty file: training reads validation.jsonl only if it exists
        (tmp / f"{split}.jsonl").write_text("".join(lines), encoding="utf-8")
    split_counts = {s: len(v) for s, v in by_split.items()}
    write_meta(tmp, stage="pairs-from-ratings", config=to_dict(cfg), seed=cfg.seed,
               study={"name": name, "posts": len(records["posts"]), "answers": len(records["responses"]),
                      "ratings": len(records["ratings"]), "preferences": len(records["preferences"])},
               prompt_version=prompts.PROMPT_VERSION, counts=dict(counts), outputs=dict(split_counts))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return {"study": name, "folder": str(target), "pairs": len(rows), "splits": dict(split_counts),
            "decisions": dict(counts)}


def split_of(post_id: Any, cfg: RatingPairsConfig) -> str:
    """train or validation, by a hash of the post id: every pair of a post lands in the same split, and a
    post keeps its split when the study grows."""
    h = hashlib.blake2b(f"{cfg.seed}:{post_id}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(h, "big") / 2**64 < cfg.validation_share else "train"
