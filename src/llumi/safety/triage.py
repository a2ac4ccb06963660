"""Risk triage of an incoming post: a tier (none, low, moderate, high, imminent) with its evidence.

The signals follow the order of the C-SSRS screener: wish to be dead, active suicidal thoughts,
thoughts of a method, intent, a plan, preparatory or actual behaviour, plus self-injury, hopelessness
(giving up, "what's the use", entrapment: "I feel trapped", "no escape from this pain"),
burdensomeness, isolation ("nobody cares about me") and first-person distress ("I'm so depressed",
"I can't stop crying", "I just need someone to talk to"), the last four at low: enough to suggest
that the supporter asks directly about suicidal thoughts. Passive ideation is also read in indirect
words ("I just want out", "I don't think I want to live", "I won't last much longer"). This is text classification, not screening: the tier picks the assistant's mode and
the guidance shown to the supporter, it is not a clinical rating.

How a tier is reached
---------------------
Every rule is a precompiled regular expression run over the normalised text (``normalize.py``: case,
leetspeak, spacing tricks, stretched letters, emoji). Each match becomes a ``Signal`` with its rule id
and the evidence span *in the original text*. The tier is the highest tier among counted signals, after
these combinations:

* a method or means mentioned together with ideation raises the tier to moderate; access to means
  ("I bought the pills") together with ideation to high;
* timing ("tonight", "tomorrow") in the same sentence as active ideation or intent makes a plan: high;
* notes, giving things away and goodbyes count as preparation only beside some other risk signal;
* "asking for a friend" together with any distress or a method question counts reported signals as the
  writer's own, at least low;
* the cumulative cue (``CUES``, signal ``cumulative_distress``, rule ids ``cue.*``): when no other rule
  raised the post, weak first-person signs of severe distress of several different kinds (self-contempt,
  emptiness, isolation, crying, futility, ...; one kind is enough in a post of a title and a line) make
  it low, with every cue that counted as evidence.

Negation, reported speech, quotation and the past
-------------------------------------------------
A match is looked at in its clause and sentence before it counts:

* **negated** - a negator governs it ("I don't want to die", "I'm not suicidal", "I would never kill
  myself"). A struggle against the urge is not a negation: "trying not to kms", "a reason not to end
  my life", "I regret not ending it" count. Phrases whose meaning *is* negative ("I don't want to live", "I don't want to wake up")
  are their own positive rules, so negation never hides them.
* **reported** - the sentence reports someone else's words or state: a third-person subject is the
  nearest subject ("my friend said she wanted to die", "he is suicidal"), or a reporting verb with a
  non-first-person subject precedes it ("she told me ..."). Not counted for the writer, but shown to
  the supporter as discounted evidence. "asking for a friend" undoes this (it is a known disguise).
* **quoted** - inside quotation marks framed as a song, film, book or someone's words, or in a line
  marked with a musical note: lyrics quoted as such do not count.
* **idiom** - hyperbole that the rules know ("killing myself at the gym", "kill me lol" style laughter
  beside a hyperbole-prone phrase). Idioms like "dying of laughter" or "this exam is killing me" never
  match a rule in the first place: rules name the self ("kill myself") or the wish ("want to die").
* **past** - "used to", "years ago", "when I was younger": the signal counts, capped at low (history
  is a risk factor worth asking about). With an explicit resolution in the same sentence ("but not
  anymore", "no longer") it is **resolved** and does not count.

Discounted signals are returned too (``TriageResult.discounted``) so a person can see why a post that
mentions death was not raised.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable

from llumi.safety.normalize import Normalized, normalize

TIERS = ("none", "low", "moderate", "high", "imminent")
RANK = {t: i for i, t in enumerate(TIERS)}


def tier_at_least(tier: str, floor: str) -> bool:
    return RANK[tier] >= RANK[floor]


def max_tier(tiers: Iterable[str]) -> str:
    best = "none"
    for t in tiers:
        if RANK[t] > RANK[best]:
            best = t
    return best


def check_tier(name: str) -> str:
    from llumi.errors import ConfigError

    if name not in RANK:
        raise ConfigError(f"unknown tier {name!r}; tiers are: {', '.join(TIERS)}")
    return name


@dataclass(frozen=True)
class Signal:
    """One piece of evidence: which rule, which C-SSRS signal, the tier it supports, and where."""

    rule: str
    signal: str
    tier: str
    start: int
    end: int
    evidence: str
    status: str = "counted"  # counted | past | negated | reported | quoted | idiom | resolved | context

    def to_dict(self) -> dict:
        return {
            "rule": self.rule, "signal": self.signal, "tier": self.tier,
            "span": [self.start, self.end], "evidence": self.evidence, "status": self.status,
        }


@dataclass(frozen=True)
class TriageResult:
    tier: str
    signals: tuple[Signal, ...]  # the counted evidence that produced the tier
    discounted: tuple[Signal, ...] = ()  # matches set aside (negated, reported, quoted, idiom, resolved)
    context: tuple[Signal, ...] = ()  # modifiers that did not apply (a method, timing, means without ideation)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.rule for s in self.signals))

    def to_dict(self) -> dict:
        return {
            "tier": self.tier,
            "rules": list(self.rules),
            "signals": [s.to_dict() for s in self.signals],
            "discounted": [s.to_dict() for s in self.discounted],
        }


# --- the rules -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    id: str
    signal: str
    tier: str
    pattern: Pattern
    self_marked: bool = False  # the pattern names the writer (I, me, myself, my); no subject check
    needs: str = ""  # "ideation" or "risk": counts only beside such a signal (else kept as context)
    hyperbole: bool = False  # laughter in the sentence makes it an idiom
    cue: float = 0.0  # a weak cue of the cumulative rule (its weight); counts only with others (see CUES)


class Pattern:
    """A rule's regular expression, split into its top-level alternatives for speed.

    Python's regex engine scans fast only when a pattern starts with a literal; a leading ``\\b`` or
    an alternation of groups defeats that. So each top-level alternative is compiled on its own with
    its leading ``\\b`` removed, and the word boundary is checked on each match instead. An
    alternative that itself starts with a group of alternatives, ``(?:want|need|wish)\\s+to ...``, is
    split once more into one branch per alternative (``want\\s+to ...``, ...), each of which starts
    with a literal; the branches of one alternative are then merged exactly as the regex engine would
    have matched the group (leftmost start first, the earlier branch on a tie, no overlaps). Each
    branch also knows the substrings every match contains (``_required_literal``): it is skipped when
    they are not in the text, and a long text is scanned only around them. A test runs every fixture
    with and without these shortcuts and requires the same result.
    """

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.parts: list[tuple[re.Pattern, bool, tuple[str, ...]]] = []
        self.groups: list[tuple[int, ...]] = []  # indexes into parts: the branches of one alternative
        for alt in _split_top(pattern):
            boundary = alt.startswith("\\b")
            body = alt[2:] if boundary else alt
            members = []
            for branch in _distribute(body):
                rx = re.compile(branch)
                self.parts.append((rx, boundary, _required_literal(rx.pattern)))
                members.append(len(self.parts) - 1)
            self.groups.append(tuple(members))
        self.need: list[int] = []  # per part, the requirement bits every match satisfies (see ``_need``)

    def _may_match(self, i: int, text: str, has, present: "_Presence | None") -> bool:
        """False when part ``i`` cannot match: a string every match contains is not in the text."""
        if present is not None:
            return not self.need[i] & present.missing
        literal = self.parts[i][2]
        return not literal or any(map(has, literal))

    def prepare(self) -> None:
        """Lay the parts out for the fast path, once ``need`` is known: per alternative, either one part
        (regex, word boundary, literal, requirement bits) or its branches (regex, bits) and the boundary."""
        self.fast = []
        for members in self.groups:
            if len(members) == 1:
                i = members[0]
                rx, boundary, literal = self.parts[i]
                self.fast.append((True, rx, boundary, literal, self.need[i]))
            else:
                branches = tuple((self.parts[i][0], self.need[i]) for i in members)
                self.fast.append((False, branches, self.parts[members[0]][1], None, 0))

    def spans(self, text: str, windows: bool = True, has=None, present: "_Presence | None" = None) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        if present is not None:  # the fast path: one integer test per part, no list built per call
            missing = present.missing
            windowed = windows and len(text) > _WINDOW_MIN
            for single, rx, boundary, literal, need in self.fast:
                if single:
                    if need & missing:
                        continue
                    _scan(rx, boundary, text, _windows(text, literal) if windowed and literal else ((0, len(text)),), out)
                else:
                    active = [b for b, n in rx if not n & missing]
                    if active:
                        _merge(active, boundary, text, out)
            return out
        has = has or text.__contains__
        may = [self._may_match(i, text, has, None) for i in range(len(self.parts))]
        for members in self.groups:
            if len(members) == 1:
                i = members[0]
                if not may[i]:
                    continue
                rx, boundary, literal = self.parts[i]
                if windows and literal and len(text) > _WINDOW_MIN:
                    ranges = _windows(text, literal)
                else:
                    ranges = [(0, len(text))]
                _scan(rx, boundary, text, ranges, out)
                continue
            active = [self.parts[i][0] for i in members if may[i]]
            if active:
                _merge(active, self.parts[members[0]][1], text, out)
        return out


def _scan(rx: re.Pattern, boundary: bool, text: str, ranges, out: list) -> None:
    for a, b in ranges:
        for m in rx.finditer(text, a, b):
            s, e = m.span()
            if e <= s or (boundary and s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_'")):
                continue
            out.append((s, e))


def _merge(active: list, boundary: bool, text: str, out: list) -> None:
    """What ``finditer`` on ``(?:b1|b2|...)rest`` gives: at the leftmost position where any branch
    matches, the first branch (in order) that matches there; then on from its end."""
    nexts = [rx.search(text) for rx in active]
    pos = 0
    while True:
        best = None
        for k, rx in enumerate(active):
            m = nexts[k]
            if m is not None and m.start() < pos:
                m = nexts[k] = rx.search(text, pos)
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        if best is None:
            break
        s, e = best.span()
        pos = e if e > s else e + 1
        if e <= s or (boundary and s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_'")):
            continue
        out.append((s, e))


def _distribute(body: str) -> list[str]:
    """``(?:a|b)rest`` -> [``arest``, ``brest``]; anything else -> [body]."""
    if not body.startswith("(?:"):
        return [body]
    depth, i = 0, 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i += 1
            if body[i:i + 1] == "]":
                i += 1
            while i < len(body) and body[i] != "]":
                i += 2 if body[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
        i += 1
    if i >= len(body) or body[i + 1:i + 2] in ("?", "*", "+", "{"):
        return [body]  # the group is repeated or optional: not a plain choice of prefixes
    branches = _split_top(body[3:i])
    if len(branches) < 2 or any(not b for b in branches):
        return [body]
    return [b + body[i + 1:] for b in branches]


_WINDOW_MIN = 1500  # texts longer than this are scanned only around the literals a match needs
_REACH = 300  # characters a match may extend before or after its required literal (rules reach < 200)


def _windows(text: str, literals: tuple[str, ...]) -> list[tuple[int, int]]:
    """Merged ranges around each occurrence of the literals; each ends at a line end or the text end,
    where the rules' end-of-line test (``(?=\\n)|\\Z``) behaves as in the whole text."""
    spans = []
    for lit in literals:
        i = text.find(lit)
        while i >= 0:
            a = max(0, i - _REACH)
            b = text.find("\n", i + len(lit) + _REACH)
            spans.append((a, len(text) if b < 0 else b))
            i = text.find(lit, i + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _required_literal(pattern: str, cap: int = 12, every: bool = False):
    """Substrings of which every match of ``pattern`` must contain at least one (empty: unknown).

    Read from the parsed pattern: a run of literal characters in the top-level sequence is required;
    an alternation is required as "one of" when each of its branches has a requirement; a repeat with
    a minimum of one requires what its body requires. Lookarounds, classes and optional parts end a
    run, so the answer is always safe. Strings shorter than 3 characters are not used.

    With ``every``, the answer is a list of all such requirements of the top-level sequence (a match
    contains one string of each), for the presence filter; ``cap`` bounds the strings in one.
    """
    try:
        from re import _parser as sre_parse  # Python >= 3.11
        from re._constants import BRANCH, LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN
    except ImportError:  # pragma: no cover
        return ()

    def score(req: tuple[str, ...]) -> tuple[int, int]:
        return (min(len(x) for x in req), -len(req)) if req else (0, 0)

    top: list[tuple[str, ...]] = []

    def best_of(seq, is_top: bool = False) -> tuple[str, ...]:
        options: list[tuple[str, ...]] = top if is_top else []
        run: list[str] = []

        def flush() -> None:
            if len(run) >= 3:
                options.append(("".join(run),))
            run.clear()

        for op, av in seq:
            if op is LITERAL:
                run.append(chr(av))
                continue
            flush()
            if op is SUBPATTERN and av[1] == 0 and av[2] == 0:
                inner = best_of(av[3])
            elif op is BRANCH:
                parts = [best_of(b) for b in av[1]]
                inner = tuple(x for p in parts for x in p) if parts and all(parts) else ()
            elif op in (MAX_REPEAT, MIN_REPEAT) and av[0] >= 1:
                inner = best_of(av[2])
            else:
                inner = ()
            if inner and len(inner) <= cap:
                options.append(inner)
        flush()
        return max(options, key=score) if options else ()

    try:
        req = best_of(sre_parse.parse(pattern), is_top=True)
    except Exception:  # noqa: BLE001 - an unreadable pattern just gets no shortcut
        return [] if every else ()
    if every:
        return [o for o in dict.fromkeys(top) if score(o)[0] >= 3]
    return req if req and score(req)[0] >= 3 else ()


def _split_top(pattern: str) -> list[str]:
    """Split a regex on its top-level ``|`` (outside groups and character classes)."""
    parts, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _r(pattern: str) -> Pattern:
    return Pattern(pattern)


I_AM = r"(?:i'?m|i am|im)"
# Words that often sit between "want to" and the verb ("I want to just fucking die").
INTENS = r"(?:(?:just|simply|really|literally|honestly|fucking|fking|kinda|actually|finally|seriously|badly|desperately|so|truly|genuinely|sometimes|often|still)\s+){0,3}"
LIVE = r"live(?!\s+(?:with|in|near|at|there|here|alone|together|on|abroad|somewhere|like|off|by|under|close))"
# Stretched letters are at most doubled after normalisation; a literal first letter keeps scans fast.
SUICIDE = r"(?:su+i*c+i*d+e+|ssu+i*c+i*d+e+|sewer ?slide|self[- ]?delete)"
SUICIDAL = r"(?:su+i*c+i*d+i?a+l+|ssu+i*c+i*d+i?a+l+)"
DIE = r"(?:di+e+|ddi+e+)"
PILLS = (r"(?:pills|tablets|meds|medication|medicine|sleeping pills|painkillers|paracetamol|tylenol|"
         r"acetaminophen|ibuprofen|insulin|xanax|benadryl|antidepressants|sleeping tablets)")
MEANS = PILLS[:-1] + r"|rope|noose|gun|pistol|rifle|razors?|blades?|knife|ammo|charcoal|bleach|poison|helium)"
NOT_SUICIDE_NOUN = r"(?!\s+(?:rate|rates|prevention|bomber|bombers|bombing|squad|hotline|hotlines|watch|awareness|vest|attack|mission|pact|forest|doors?|statistics|risk))"
END_IT = r"end\s+(?:it|it all|everything|things|my life|my own life|my existence)(?!\s+(?:with|between|for|on|early|off|up|there|here|today at work))"
THIRD_PARTY = (r"(?:he|she|they|he's|she's|they're|hes|shes|his|her|him|them|their|someone|somebody|people|"
               r"a friend|my (?:best )?friend|a student|my student|my (?:mom|mum|mother|dad|father|brother|sister|"
               r"son|daughter|kid|child|wife|husband|partner|boyfriend|girlfriend|bf|gf|cousin|aunt|uncle|"
               r"grandma|grandpa|grandmother|grandfather|roommate|coworker|colleague|ex|neighbou?r|client|patient))")

_OTHER_WANTS = (r"(?:wants?|wanted|wanting|wanna|going|gonna|about|plans?|planned|planning|tried|tries|trying|attempted|"
                r"threaten\w*|talk\w*\s+about|thinking\s+(?:about|of)|thought\s+(?:about|of)|decided|ready|urges?)")

RULES: tuple[Rule, ...] = (
    # -- wish to be dead / passive ideation (low)
    Rule("wish_dead.want_to_die", "wish_dead", "low", _r(
        rf"\b(?:wants?|wanted|wanting|wanna|wana|wish(?:ed|es|ing)?|longing|ready|would like)\s+(?:to\s+)?{INTENS}{DIE}\b"
        rf"|\b(?:hope|hopefully)\s+i\s+(?:just\s+)?{DIE}\b|\bwant\s+(?:me|myself)\s+dead\b"
        rf"|\b(?:any\s?time|whenever|the\s+sooner)\s+i\s+(?:can|could|get\s+to|would)\s+{DIE}\b"), hyperbole=True),
    Rule("wish_dead.wish_i_was_dead", "wish_dead", "low", _r(
        r"\bwish(?:ed)?\s+(?:that\s+)?i\s+(?:was|were|could be|'d be|would be)\s+(?:dead|gone|never born|not alive|not here|not born)\b"
        r"|\bwish(?:ed)?\s+(?:that\s+)?i\s+(?:could\s+)?(?:just\s+)?(?:disappear|vanish|stop existing|cease to exist|not exist|had never been born|was never born|wasn'?t born|didn'?t exist|never existed|could die)\b"),
        self_marked=True),
    Rule("wish_dead.not_wake_up", "wish_dead", "low", _r(
        r"\b(?:don'?t|do not|dont|never)\s+(?:want|wanna|wish)\s+(?:to\s+)?wake\s+up\b"
        r"|\b(?:sleep|asleep)\s+(?:and\s+)?(?:never|not)\s+wake\s+up\b|\bsleep\s+forever\b|\beternal\s+sleep\b"
        r"|\bhope\s+i\s+(?:don'?t|never|won'?t)\s+wake\s+up\b|\bnot\s+wake\s+up\s+(?:again|tomorrow|in the morning)\b")),
    Rule("wish_dead.dont_want_to_live", "wish_dead", "low", _r(
        r"\b(?:don'?t|do not|dont|no longer|never)\s+(?:really\s+)?(?:want|wanna|wish)\s+(?:to\s+)?(?:live(?!\s+(?:with|in\s+(?:a|an|the|that|my\s+(?:own|car|parents))|near|at|there|here|alone|together|on\s+my\s+own|abroad|somewhere|like\s+(?:that|them))\b)|be alive|exist|be here(?:\s+any ?more)?(?!\s+(?:at|for|with|when|on|in|if|unless|during|tomorrow|next|on\s+my\s+own|alone))|be on this earth|be in this world|go on living|continue living|keep living|keep going|go on(?=\s*(?:[.!,]|(?=\n)|\Z|like\s+this|any\s?more|with\s+(?:life|this|my\s+life))))\b"
        r"|\b(?:don'?t|do not|dont)\s+want\s+(?:this|my)\s+life\s+any ?more\b")),
    Rule("wish_dead.better_off_dead", "wish_dead", "low", _r(r"\bbetter off dead\b")),
    Rule("wish_dead.disappear", "wish_dead", "low", _r(
        r"\b(?:want|wanna|need)\s+(?:to\s+)?(?:just\s+)?(?:disappear|vanish|stop existing|cease to exist|not exist|stop living)\b(?!\s+(?:from|for a|for the|for some|off)\b)")),
    Rule("wish_dead.rather_die", "wish_dead", "low", _r(
        rf"\b(?:rather|prefer\s+to)\s+(?:just\s+)?(?:be\s+dead|{DIE}|not\s+exist|not\s+be\s+(?:alive|here))\b"
        r"(?!\s+than\s+(?!(?:go|liv|keep|continu|feel|wake|be\s+(?:here|alive)|exist|deal|suffer|face|spend|be\s+like\s+this)))"), hyperbole=True),
    Rule("wish_dead.want_it_to_stop", "wish_dead", "low", _r(
        r"\b(?:want|wish|need)\s+(?:it\s+all|everything|the\s+pain|this\s+pain|it|life|my\s+life|the\s+suffering|all\s+of\s+(?:this|it))\s+to\s+(?:stop|end|be\s+over)\b"
        r"|\b(?:want|wanna|wish\s+i\s+could|need)\s+(?:to\s+)?(?:just\s+)?(?:not\s+be\s+(?:here|alive|around)|be\s+gone|be\s+dead|not\s+exist|stop\s+being\s+alive|fall\s+asleep\s+forever|go\s+to\s+sleep\s+forever)\b")),
    Rule("wish_dead.should_be_dead", "wish_dead", "low", _r(
        rf"\bi\s+(?:should|'d|would)\s+(?:just\s+|already\s+)?(?:be\s+dead|{DIE}|not\s+(?:be\s+)?(?:alive|here|exist))\b(?!\s+(?:of|from|if|laughing|without))"
        r"|\b(?:don'?t|do\s+not|dont|never)\s+(?:really\s+|even\s+)?(?:deserve|see\s+why\s+i\s+should)\s+(?:to\s+)?(?:be\s+alive|live|exist|be\s+here|be\s+born)\b"
        r"|\b(?:wasn'?t|was\s+not|am\s+not|i'?m\s+not|never)\s+meant\s+to\s+(?:be\s+(?:here|alive|born)|exist|live)\b"
        rf"|\bfeel(?:ing|s)?\s+like\s+(?:dying|{DIE}|death)\b(?!\s+(?:of|from|laughing|inside\s+(?:from|of)))"
        rf"|\b(?:wish|wishing|hope|hoping|pray|praying)\s+(?:that\s+)?(?:i\s+(?:would|could|will|get|got|catch|just)|i'd|something|someone|(?:a|an|some)\s+(?:car|bus|truck|train|disease|illness|accident|stray\s+bullet))\b[^.!?]{{0,40}}?\b(?:{DIE}|kills?\s+me|dead|hits?\s+me|crash\w*|(?:takes?|took|snatch\w*)\s+me(?:\s+away)?)\b"
        r"|\bcan'?t\s+(?:see|imagine)\s+(?:myself|me)\s+(?:making\s+it|living|surviving|being\s+alive|alive|getting\s+old|growing\s+old)\b"),
        self_marked=True, hyperbole=True),
    Rule("wish_dead.thinking_of_death", "wish_dead", "low", _r(
        r"\b(?:think(?:ing)?|thought|thoughts|fantasi[sz](?:e|ing)|dream(?:ing)?|obsess(?:ed|ing)?)\s+(?:a lot\s+)?(?:about|of)\s+(?:dying|death|my death|being dead|not being (?:here|alive|around)|not existing)\b")),
    Rule("wish_dead.passively_suicidal", "wish_dead", "low", _r(rf"\bpassive(?:ly)?\s+{SUICIDAL}\b|\bpassive\s+(?:suicidal\s+)?ideation\b")),
    # -- hopelessness (low)
    Rule("hopelessness.no_reason_to_live", "hopelessness", "low", _r(
        r"\b(?:no|nothing|any|zero)\s+(?:reason|point|purpose|will)\s+(?:to|in|of|for)\s+(?:live|living|life|being alive|go on|going on|keep going|keep\s+on\s+(?:going|living|existing)|keep\s+(?:living|existing)|carry on|continue(?:\s+living|\s+on|\s*[.!?,]|\s*(?:(?=\n)|\Z))|stay alive|existing|exist)\b"
        r"|\bnothing\s+(?:left\s+)?to\s+live\s+for\b|\b(?:reason|reasons)\s+to\s+(?:live|stay alive)\b(?=[^.!?]{0,20}\?)")),
    Rule("hopelessness.not_worth_living", "hopelessness", "low", _r(
        r"\b(?:life|living|my life|existence|it)\s+(?:isn'?t|is not|ain'?t|is no longer|not|no longer|was never)\s+worth\s+(?:living|it any ?more|continuing|anything)\b|\bnot\s+worth\s+living\b"
        r"|\bhard\s+to\s+see\s+(?:the|any)\s+point\b(?!\s+(?:of|in)\s+(?!(?:living|life|going\s+on|anything|trying)))"
        r"|\bwhat(?:'?s|\s+is)\s+(?:even\s+)?the\s+point\s+(?:of|in)\s+(?:living|life|going on|being alive|existing|anything|even trying|trying any ?more|me)\b"
        r"|\bwhy\s+(?:should|would|do|must)\s+i\s+(?:even\s+)?(?:go\s+on|keep|continue|bother|stay)\s+(?:living|going|being\s+alive|existing|alive|here)\b"
        r"|\b(?:life|living|my\s+life|existence)\s+(?:isn'?t|is\s+not|ain'?t)\s+worth\s+it\b"
        r"|\b(?:there'?s\s+|there is\s+|see\s+)?no\s+point\s+(?:in\s+)?(?:living|going on|being alive|existing|in life|trying any ?more|to (?:life|living|anything|my life)|any ?more)\b")),
    Rule("hopelessness.cant_go_on", "hopelessness", "low", _r(
        r"\b(?:can'?t|cannot|cant)\s+(?:go on|keep going|keep living|carry on|do this|take (?:it|this|this pain|the pain)|handle (?:it|this|life)|live like this|cope|bear (?:it|this))\s+(?:any ?more|much longer|like this)\b"
        r"|\b(?:can'?t|cannot|cant)\s+(?:go on|keep living|live like this|take the pain)\b(?![^.!?]{0,30}\b(?:without|with(?! this))\b)"
        r"|\bi\s+(?:just\s+|really\s+|honestly\s+|seriously\s+)?(?:can'?t|cannot|cant)\s+(?:(?:do|go\s+on|keep|take|stand|handle|bear|cope|live|continue|fight|function|survive|carry\s+on|face|deal)\b(?:\s+\w+){0,4}?\s+)?any\s?more\b"
        r"|\bi\s+(?:just\s+)?(?:can'?t|cannot|cant)\s+keep\s+(?:doing|living|going\s+on\s+like)\s+this\b"
        r"|\b(?:don'?t|do\s+not|dont)\s+know\s+how\s+(?:to|much\s+longer\s+i\s+can)\s+(?:keep\s+going|go\s+on|carry\s+on|keep\s+living|hold\s+on)\b"
        r"|\bi\s+(?:give|gave|have given|'ve given)\s+up\s+on\s+(?:life|everything|living|myself)\b"
        r"|\b(?:tired|sick|exhausted|weary|fed\s+up)\s+(?:of|with)\s+(?:living|being alive|life|existing|this life|my life|being me|fighting|everything|waking up|trying|it all|feeling like this|being (?:alive|here|me|like this|sad|depressed|miserable))\b"
        r"|\b(?:i'?m|i am|im)\s+(?:just\s+|so\s+|so\s+fucking\s+|fucking\s+|really\s+|honestly\s+)?done\s+with\s+(?:life|living|everything|it all|this life|existing|trying|this world|being alive|fighting)\b"
        r"|\b(?:i'?m|i am|im)\s+(?:just|so|so\s+fucking|fucking|really|honestly)\s+done\s*(?:[.!]|(?=\n)|\Z)")),
    Rule("hopelessness.hopeless", "hopelessness", "low", _r(
        rf"\b(?:{I_AM}|i feel|feeling|felt|i'?ve been feeling|everything (?:is|feels)|it'?s all|life (?:is|feels)|my life (?:is|feels)|my future (?:is|feels))\s+(?:so\s+|completely\s+|totally\s+|utterly\s+|very\s+|really\s+|just\s+)*hopeless\b"
        r"|\bno\s+(?:hope|future)\s+(?:for me|left)\b|\b(?:it|things|nothing|life)\s+(?:will|is going to|is gonna)\s+never\s+(?:get|be)\s+better\b"
        r"|\bnothing\s+(?:will\s+)?(?:ever\s+)?(?:gets?|getting)\s+better\b|\b(?:no|there'?s no)\s+way\s+out\s+(?:for me|of this)?\b(?!\s+(?:of the|of my (?:lease|contract|mortgage|debt|loan)))")),
    # -- burdensomeness (low)
    Rule("hopelessness.meaningless", "hopelessness", "low", _r(
        r"\b(?:life|my\s+life|living|existence|my\s+existence|it\s+all)\s+(?:is|feels|seems)\s+(?:so\s+|just\s+|completely\s+|totally\s+|utterly\s+)?(?:meaningless|pointless|worthless|unbearable|miserable|hell|a\s+living\s+hell|torture)\b"
        r"|\b(?:don'?t|do\s+not|dont|can'?t|cannot|cant|never)\s+(?:really\s+|even\s+)?see\s+(?:a|the|any)\s+point\s+(?:in|of|to)\s+(?:life|living|anything|going\s+on|it\s+all|existing|being\s+alive|trying|carrying\s+on|continuing)\b"
        r"|\bwhat'?s\s+(?:even\s+)?the\s+point(?:\s+any\s?more)?\s*(?:\?|\.\.|(?=\n)|\Z)|\bfeel(?:ing)?\s+like\s+there'?s\s+no\s+point\b")),
    Rule("hopelessness.worthless", "hopelessness", "low", _r(
        r"\b(?:i\s+feel|i\s+am|i'?m|im|feeling|i\s+feel\s+like\s+i'?m|i\s+feel\s+like|i'?ve\s+always\s+been)\s+(?:so\s+|such\s+|completely\s+|totally\s+|utterly\s+|really\s+|just\s+|a\s+|an\s+|absolutely\s+|fucking\s+)*(?:worthless|unlovable|pathetic\s+excuse|failure\s+(?:at|in)\s+(?:life|everything)|waste\s+of\s+(?:a\s+)?(?:life|human|person))\b"
        r"|\bi\s+(?:fucking\s+|really\s+|just\s+)?(?:hate|loathe|despise)\s+(?:myself|my\s+life|being\s+alive|my\s+existence|existing|living|who\s+i\s+am|everything\s+about\s+myself)\b"), self_marked=True),
    Rule("isolation.nobody_cares", "isolation", "low", _r(
        r"\b(?:no\s*one|nobody|noone|no\s+body)\s+(?:\w+\s+)?(?:cares?|loves?|would\s+care|would\s+miss|will\s+miss|would\s+notice|will\s+notice|gives\s+a\s+(?:shit|damn|fuck))\s+(?:about\s+)?(?:me|if\s+i)\b"
        r"|\b(?:no\s*one|nobody|noone)\s+(?:\w+\s+)?(?:wants|needs)\s+me\b|\bi\s+(?:have|'ve\s+got|got)\s+no\s+(?:one|body)\s*(?:[.!,]|(?=\n)|\Z|left|to\s+(?:talk|turn))|\bi\s+(?:feel|am|'m)\s+(?:so\s+|completely\s+|totally\s+|utterly\s+)?(?:alone|lonely)\s+(?:in\s+this\s+world|all\s+the\s+time|every\s+day)\b"), self_marked=True),
    Rule("distress.depressed", "distress", "low", _r(
        r"\b(?:i'?m|i\s+am|im|i\s+feel|i'?ve\s+been|i\s+have\s+been|feeling|i\s+get|i\s+got)\s+(?:so\s+|really\s+|very\s+|severely\s+|extremely\s+|incredibly\s+|just\s+|fucking\s+|completely\s+|deeply\s+|super\s+)*(?:depressed|suicidally\s+\w+|numb\s+inside|empty\s+inside|dead\s+inside|broken\s+inside|in\s+so\s+much\s+pain|miserable)\b"
        r"|\bmy\s+(?:severe\s+|crippling\s+|chronic\s+|major\s+|clinical\s+)?depression\b(?!\s+(?:is\s+(?:better|gone|under\s+control|in\s+remission)|has\s+(?:improved|lifted)))|\bfuck\s+my\s+life\b|\bfml\b"), self_marked=True),
    Rule("burden.better_off_without_me", "burden", "low", _r(
        r"\b(?:be|are|is|been|would be|'d be|will be|be so much|be a lot)\s+(?:so\s+much\s+|a\s+lot\s+|much\s+)?(?:better\s+off|happier|better)\s+without\s+me\b"
        r"|\b(?:world|everyone|everybody|they|my\s+family|people)\s+(?:would|will)\s+be\s+(?:a\s+)?better\s+(?:place\s+)?(?:off\s+)?if\s+i\s+(?:was|were|wasn'?t|weren'?t)\s+(?:gone|dead|here|around|alive|out\s+of\s+the\s+(?:picture|way))\b"
        r"|\b(?:better|easier)\s+(?:off\s+)?(?:for\s+(?:everyone|everybody|them|my\s+family)\s+)?(?:if|when|once)\s+i\s+(?:just\s+)?(?:cease\s+to\s+exist|stop\s+existing|die|disappear(?:ed)?|(?:am|was|were|'m)\s+(?:gone|dead)|go\s+away|kill\s+myself|end\s+it)\b"
        r"|\bdo\s+(?:everyone|everybody|the\s+world|them|my\s+family)\s+a\s+favou?r\s+(?:and|by)\s+(?:just\s+)?(?:dying|leaving|disappearing|killing|ending|going|not\s+being)"
        r"|\b(?:better|easier|help)\b[^.!?]{0,60}?\bme\s+(?:being\s+)?(?:out\s+of|gone\s+from)\s+the\s+(?:picture|situation|way)\b"
        r"|\b(?:won'?t|will\s+not|never)\s+have\s+to\s+(?:deal\s+with|worry\s+about|put\s+up\s+with|take\s+care\s+of)\s+me\s+(?:again|any\s?more|ever\s+again)\b"
        r"|\bmy\s+(?:death|suicide|absence|being\s+gone)\s+(?:would|will|could)\s+(?:\w+\s+)?(?:improve|help|benefit|free|relieve|make\s+(?:things|everything|their\s+lives|life))\b"
        r"|\bi\s+(?:just\s+|only\s+|always\s+)?(?:disappoint|let\s+down|fail|ruin\s+(?:things|everything)\s+for)\s+everyone\b"
        r"|\bi\s+(?:only|just)\s+(?:bring|cause)\s+(?:\w+\s+)?(?:pain|trouble|problems|misery|suffering)\s+(?:to|for)\s+(?:everyone|everybody|people|my\s+family|them|those)"
        r"|\bbetter\s+off\s+(?:if|when)\s+i(?:'m|\s+am|\s+was|\s+were|'d)?\s+(?:gone|dead|not (?:here|around|alive)|didn'?t exist|wasn'?t (?:here|around|alive)|never existed|disappeared|died)\b"
        r"|\b(?:everyone|everybody|no one|nobody|they|my family)\s+(?:would|will)\s+(?:even\s+)?(?:miss|notice|care|be happier|be better)\s+(?:me\s+|if\s+i\s+(?:was|were|died|disappeared|was gone|were gone))"), self_marked=True),
    Rule("burden.i_am_a_burden", "burden", "low", _r(
        rf"\b(?:{I_AM}|i feel like|i feel like i'?m|feel like a|i'?ve become|i have become|i was|being)\s+(?:such\s+|just\s+|only\s+|nothing\s+but\s+|a\s+huge\s+|a\s+big\s+|a\s+|an\s+|the\s+)*(?:burden|waste of (?:space|oxygen|air|life|skin))\b"
        r"|\b(?:easier|better)\s+(?:on|for)\s+(?:my\s+family|everyone|everybody|them|my\s+parents|my\s+friends)\s+(?:if\s+i|without\s+me|when\s+i'?m\s+gone)"
        r"|\b(?:i'?m|i\s+am|im)\s+(?:just\s+)?(?:the\s+(?:root|cause|source)\s+of\s+(?:all\s+)?(?:everyone|everybody|my\s+family'?s?|their|the\s+family'?s?)|ruining\s+everyone'?s?)"
        r"|\bburden\s+(?:to|on|for)\s+(?:everyone|everybody|my family|my friends|my parents|others|people|them|those around me)\b")),
    # -- passive ideation in indirect words (low): "I want out", "I don't think I want to live",
    #    "I won't last much longer", "I'd rather never wake up", "I can't see myself in five years"
    Rule("wish_dead.indirect", "wish_dead", "low", _r(
        r"\b(?:want|wanna)\s+out\s*(?:[.!]|(?=\n)|\Z|of\s+(?:this\s+(?:life|world|existence)|life|existence))|\b(?:want|wanna|need)\s+(?:to\s+)?(?:get\s+)?out\s+of\s+(?:this\s+(?:life|world|existence)|life|existence)\b"
        r"|\b(?:want|wanna|ready)\s+(?:to\s+)?be\s+done\s+(?:here|with\s+(?:it\s+all|everything|life|living|this\s+life|existing|this\s+world|being\s+alive))\b"
        rf"|\b(?:don'?t|do\s+not|dont)\s+(?:think|know\s+if|know\s+whether)\s+i\s+(?:really\s+|even\s+|still\s+)?(?:want|wanna)\s+(?:to\s+)?(?:{LIVE}|exist|be\s+(?:here|alive)|keep\s+(?:going|living)|go\s+on|wake\s+up|stay\s+alive)\b"
        rf"|\b(?:doubts?|unsure|not\s+sure|no\s+longer\s+sure)\s+(?:about|if|whether|that)\s+(?:i\s+)?(?:still\s+)?(?:want(?:ing)?|wanna)\s+(?:to\s+)?(?:keep\s+going|{LIVE}|stay\s+alive|be\s+alive|go\s+on|exist|continue\s+living|keep\s+living)\b"
        r"|\bnot\s+sure\s+(?:if|whether)\s+i'?m\s+(?:still\s+)?going\s+to\s+(?:live|be\s+(?:alive|here|around)|survive)\b(?!\s+(?:with|in|at|on|there|here))"
        r"|\bi\s+(?:don'?t|do\s+not|dont)\s+(?:really\s+|even\s+)?(?:value|care\s+about|care\s+for)\s+my\s+(?:own\s+)?life\b"
        r"|\b(?:rather|prefer\s+to)\s+(?:just\s+)?never\s+wake\s+up\b|\b(?:want|wanna|need|wish\s+i\s+could)\s+(?:to\s+)?(?:just\s+)?(?:rest|sleep)\s+forever\b"
        r"|\b(?:can'?t|cannot|couldn'?t|don'?t|do\s+not)\s+(?:see|imagine|picture)\s+(?:myself|me)\s+(?:(?:living\s+|being\s+alive\s+|being\s+here\s+|alive\s+|here\s+)?(?:in|at)\s+(?:a\s+few|five|ten|\d+)\s+years|(?:a\s+few|five|ten|\d+)\s+years\s+from\s+now|in\s+the\s+future|(?:being\s+)?(?:alive|here|around)\s+(?:in|by|next|much\s+longer))"
        r"|\bi\s+(?:won'?t|will\s+not|wont|don'?t\s+think\s+i(?:'ll|\s+will|\s+can))\s+(?:last|survive|be\s+(?:here|around|alive))\s+(?:long|much\s+longer|another\s+(?:year|month|week|day|night)|the\s+(?:year|week|month|night)|this\s+(?:year|week|month)|enough)\b(?!\s+(?:in|at|on|with|without|if|unless|there|here|for|to)\b)"
        r"|\b(?:crave|craving|long\s+for|longing\s+for|yearn(?:ing)?\s+for|welcome|pray\s+for|praying\s+for)\s+death\b|\bmy\s+time\s+to\s+(?:go|leave\s+this\s+world|die)\b"
        r"|\b(?:don'?t|do\s+not|dont|not)\s+plan(?:ning)?\s+(?:on|to)\s+(?:living|live|being\s+alive|being\s+around|sticking\s+around)\s+(?:much\s+)?(?:long|longer|past|beyond|more\s+than|until|to\s+see)\b"
        r"|\b(?:little|no|zero)\s+(?:desire|will|wish|motivation)\s+(?:left\s+)?to\s+(?:exist|live|be\s+alive|keep\s+going|go\s+on|stay\s+alive)\b|\b(?:don'?t|do\s+not)\s+care\s+enough\s+to\s+(?:live|keep\s+going|stay\s+alive)\b"
        r"|\bcan'?t\s+afford\s+to\s+(?:live|keep\s+living|be\s+alive)\s+any\s?more\b"
        r"|\bi\s+(?:won'?t|will\s+not|wont)\s+survive\s*(?:[.!]|(?=\n)|\Z)|\bi\s+(?:can'?t|cannot|cant)\s+survive\s+(?:this|that|much\s+longer|any\s?more|another)\b"),
        self_marked=True),
    # -- hopelessness in other words (low): "I give up", "losing the will to live", "it's never going to end"
    Rule("hopelessness.give_up", "hopelessness", "low", _r(
        r"\bi(?:'ve|\s+have|\s+just|\s+finally|\s+officially)?\s+(?:just\s+|completely\s+|officially\s+|finally\s+)?(?:give|gave|given)\s+up(?:\s+on\s+(?:life|everything|living|myself|hope|trying(?=\s*(?:[.!,]|(?=\n)|\Z))|getting\s+better|the\s+future|my\s+(?:life|future|self)|ever\s+\w+)\b|\s*(?:[.!]|(?=\n)|\Z))"
        r"|\bi'?m\s+(?:just\s+|finally\s+)?giving\s+up\s*(?:[.!]|(?=\n)|\Z|on\s+(?:life|everything|living|myself|hope))"
        r"|\b(?:losing|lost|lose|loosing)\s+(?:all\s+|the\s+|a\s+|my\s+|any\s+)?(?:will|desire|motivation|reason|strength)\s+to\s+(?:live|keep\s+going|go\s+on|carry\s+on|keep\s+living|exist|be\s+alive|stay\s+alive|(?:continue|fight)(?=\s*(?:[.!,]|(?=\n)|\Z)|\s+any\s?more))\b"
        r"|\bi(?:'ve|\s+have)?\s+(?:lost|losing|no)\s+(?:all\s+|any\s+)?hope\b(?!\s+(?:of|that|in\s+(?:the|this|getting|them|him|her)|for\s+(?:the|this|them|him|her)))"
        r"|\b(?:it'?s|it\s+is|this\s+is|life\s+is|(?:this|the|my)\s+(?:pain|depression|suffering|hell)\s+is)\s+never\s+going\s+to\s+(?:end|stop|get\s+better|go\s+away)\b"
        r"|\bnothing\s+(?:is|feels|seems)\s+(?:good|worth\s+it|worth\s+living\s+for)\s+any\s?more\b(?!\s+(?:on|at|in|about|from|since)\b)"
        r"|\bwhat'?s\s+the\s+use(?:\s+(?:of\s+)?(?:living|trying|anything|life|going\s+on|being\s+alive|any\s?more))?\s*(?:\?|\.\.|(?=\n)|\Z)"
        r"|\b(?:don'?t|do\s+not|dont|can'?t|cannot|cant)\s+see\s+(?:a|any|my)\s+future(?:\s+for\s+(?:me|myself)|\s+any\s?more|\s*(?:[.!,]|(?=\n)|\Z))|\bi\s+(?:see|have)\s+no\s+future\b"
        r"|\b(?:can'?t|cannot|cant|don'?t\s+think\s+i\s+can)\s+(?:hold\s+on|hang\s+on|keep\s+this\s+up|do\s+this|take\s+(?:it|this|much\s+more))\s+(?:much|a\s+lot|any|for\s+much)\s+longer\b(?!\s+(?:to|with|for|at|in)\b)"
        r"|\bhow\s+much\s+longer\s+i\s+can\s+(?:take|do\s+this|hold\s+on|keep\s+going|go\s+on|last|survive|handle)\b"
        r"|\bi\s+(?:have|'ve\s+got|got)\s+nothing\s+left\b(?!\s+(?:to\s+(?:say|give|do|add|pay|spend)|in\s+(?:my|the|savings)|after|for|of\s+(?:my|the)\s+(?:money|savings|loan|budget)|over))"
        r"|\b(?:my|this)\s+life\s+is\s+(?:basically\s+|already\s+|just\s+)?(?:over|ruined|a\s+joke|falling\s+apart|not\s+going\s+anywhere)\b(?!\s+(?:if|unless|when|once|until)\b)|\bno\s+(?:more\s+)?energy\s+left\s+(?:for|to)\s+(?:life|living|this|fight|keep|go\s+on|anything)"
        r"|\bi'?m\s+(?:so\s+|just\s+|really\s+)?done\s+for\s+real\s*(?:[.!,]|(?=\n)|\Z)|\bfeeling\s+(?:just\s+about\s+|pretty\s+much\s+|so\s+)?done\s*(?:[.!]|(?=\n)|\Z|with\s+(?:life|everything|it\s+all))"),
        self_marked=True, hyperbole=True),
    # -- entrapment (low): "I feel trapped", "there's no escape from this pain"
    Rule("hopelessness.trapped", "hopelessness", "low", _r(
        r"\b(?:i'?m|i\s+am|im|i\s+feel|feeling|i'?ve\s+been\s+feeling|i\s+feel\s+like\s+i'?m)\s+(?:so+\s+|completely\s+|totally\s+|utterly\s+|just\s+|really\s+)*(?:trapped(?!\s+(?:in|into)\s+(?:a|an|the|this|my)\s+(?:\w+\s+)?(?:contract|lease|tenancy|mortgage|loan|job|car|room|lift|elevator|traffic))|stuck\s+in\s+(?:this|my|a|an)\s+(?:\w+\s+)?(?:life|hell|existence|cycle|loop|nightmare|darkness|hole))\b"
        r"|\bno\s+(?:escape|way\s+out)\s+(?:from|of)\s+(?:this|my|the)\s+(?:pain|life|hell|misery|suffering|feelings?|head|mind|thoughts|darkness)\b|\bthere'?s\s+no\s+escape\b|\bescape\b[^.!?\n]{0,20}\b(?:but|except|other\s+than|is|than)\s+(?:death|dying|suicide)\b"
        r"|\b(?:can'?t|cannot|cant)\s+escape\s+(?:this|my|the|these)\s+(?:pain|life|hell|misery|suffering|feelings?|thoughts|head|mind|darkness)\b"),
        self_marked=True),
    # -- first-person emotional pain and reaching out (low): "I'm so broken", "I can't stop crying",
    #    "I just need someone to talk to", "I'm not okay". Low asks the supporter to ask directly.
    Rule("distress.emotional_pain", "distress", "low", _r(
        rf"\b(?:{I_AM}|i\s+feel|i'?ve\s+been\s+feeling|i\s+have\s+been\s+feeling|i'?ve\s+been|i\s+have\s+been|i\s+feel\s+like\s+i'?m|feeling)\s+(?:so+\s+|really\s+|very\s+|extremely\s+|incredibly\s+|just\s+|fucking\s+|completely\s+|totally\s+|utterly\s+|deeply\s+|super\s+|always\s+|constantly\s+|still\s+|pretty\s+)*"
        r"(?:sad|(?:so|really|very)\s+low(?!\s+(?:on|in|income|paid|risk|key|level|cost|battery|budget))|useless(?!\s+(?:at|with|in|when))|broken(?!\s+(?:into|in\b|up\s+with|after|from|by\s+(?:the|this|that)))|lonely|worthless|miserable|hopeless|like\s+(?:shit|crap|garbage|trash|a\s+burden|nothing(?!\s+(?:i|we|you|he|she|they|else|ever|really|works|matters|helps|happens|changes|can|will|is|was)\b)|a\s+failure|a\s+waste|dying|i'?m\s+dying)|(?:such\s+)?a\s+(?:complete\s+|total\s+|huge\s+|fucking\s+)?failure(?!\s+(?:at|in|to|of|with|as\s+a\s+(?:teacher|parent)))|empty|"
        r"not\s+(?:okay|ok|alright|fine|doing\s+(?:well|okay|ok|good))(?!\s+(?:with|to|about|for|if|that|paying|losing))|falling\s+apart|breaking\s+down|spiral(?:l)?ing|suffering(?!\s+(?:from|with)\s+(?:a|an|the|my)\s+(?!depression|anxiety|ptsd|bpd))|in\s+(?:so\s+much\s+|a\s+lot\s+of\s+)?(?:emotional\s+)?pain(?!\s+(?:in|from|after|since|when))|"
        r"(?:so\s+)?alone(?!\s+(?:in\s+(?:the|my|a)\s+(?:house|flat|office|car|room|apartment|classroom))|\s+(?:at|on|with|for|today|tonight|this))|isolated|a\s+mess|a\s+wreck|lost\s+(?:in\s+life|and\s+alone))\b"
        r"|\b(?:can'?t|cannot|cant)\s+stop\s+(?:crying|sobbing|shaking)\b(?!\s+(?:at|over|during|watching|reading|laughing|with\s+(?:joy|happiness|laughter))\b)|\bcr(?:y|ied|ying)\s+(?:myself\s+to\s+sleep|every\s+(?:day|night|single)|all\s+(?:day|night)|for\s+hours|so\s+much|so\s+hard)\b"
        r"|\b(?:it|this|everything|life|the\s+pain|my\s+heart)\s+hurts\s+(?:so\s+much|too\s+much|so\s+bad)\b(?!\s+(?:when|if|whenever)\s+i\s+(?:kneel|walk|move|stand|sit|bend|lift|run|breathe|swallow|eat|chew|press|touch|type|pee|cough|sneeze|sleep\s+on|put\s+weight))|\bi\s+(?:fucking\s+|just\s+)?hate\s+(?:everything|it\s+here|this\s+(?:life|world|feeling))\b"
        r"|\bmy\s+mental\s+health\s+(?:is|has\s+been|keeps)\s+(?:so\s+|really\s+|getting\s+)?(?:bad|awful|terrible|worse|declining|spiral\w*|at\s+(?:an\s+all\s+time\s+)?(?:low|rock\s+bottom))\b"
        r"|\bi\s+(?:just\s+|really\s+)?(?:don'?t|do\s+not|dont)\s+know\s+what\s+to\s+do\s+(?:with\s+(?:myself|my\s+life)|any\s?more)\b|\bi'?m\s+at\s+(?:my\s+)?(?:rock\s+bottom|breaking\s+point|lowest)\b"),
        self_marked=True),
    Rule("distress.reaching_out", "distress", "low", _r(
        r"\bneed\s+(?:someone|somebody|anyone|anybody|a\s+friend)\s+(?:to\s+(?:talk|vent|listen|chat)(?:\s+to(?:\s+me)?)?\b|right\s+now\b|\s*(?:[.!?]|(?=\n)|\Z))(?!(?:\s+to)?\s+about\s+(?!(?:how\s+i|my\s+(?:feelings|thoughts|depression|life|problems|mental|issues|pain)|what'?s?\s+going\s+on|this|it|everything)\b))"
        r"|\bneed\s+to\s+talk\s+to\s+(?:someone|somebody|anyone|anybody)\b(?!\s+about\s+(?!(?:how\s+i|my\s+(?:feelings|thoughts|depression|life|problems|mental|issues|pain)|what'?s?\s+going\s+on|this|it|everything)\b))"
        r"|\b(?:can|could|would|does|will)\s+(?:anyone|someone|somebody|anybody)\s+(?:please\s+)?(?:talk|chat|listen|be\s+there)\s+(?:to|with|for)?\s*me\b"
        r"|\b(?:anyone|someone|somebody|anybody)\s+(?:want\s+to|wanna|willing\s+to|up\s+to|free\s+to)\s+(?:talk|chat)\b|\bplease\s+(?:someone\s+|somebody\s+|anyone\s+)?(?:talk\s+to\s+me|help\s+me\s+(?:please|i'?m|i\s+can'?t))\b"),
        self_marked=True),
    # -- active ideation (moderate)
    Rule("active_ideation.kill_myself", "active_ideation", "moderate", _r(
        r"\b(?:kill+|k+i+l+|unalive|off|hang|shoot|drown|poison|end|suffocate|gas|shot|hung|rope|yeet)(?:ing|ed|s)?\s*(?:my\s*self|myself|meself|myslef|mysef|myseld|my\s+own\s+self)\b(?!\s+in\s+the\s+(?:foot|leg))"
        r"|\b(?:gun|barrel|pistol|revolver)\s+(?:in|into)\s+my\s+mouth\b|\b(?:gonna|going\s+to|want\s+to|wanna|about\s+to|ready\s+to)\s+commit\s*(?:[.!]|(?=\n)|\Z)"
        r"|\bkms\b(?<!\d kms)|\bunaliv(?:e|ing)\b|\bself[- ]?(?:delet(?:e|ing)|death)\b"
        r"|\b(?:blow|blew|blowing|shoot|shooting|put\s+a\s+bullet\s+(?:in|through))\s+my\s+(?:own\s+|fucking\s+|damn\s+|goddamn\s+)?(?:head|brains?)\b(?!\s+(?:against|on|off|in|into|over)\b)"
        r"|\b(?:want|wanted|wanna|urge|urges|tempted)\s+to\s+(?:just\s+)?pull\s+(?:the|that)\s+(?:\w+\s+)?trigger\b"
        r"|\b(?:almost|nearly)\s+(?:ended\s+(?:it|my\s+life|things)|killed\s+myself|went\s+through\s+with\s+it)\b"
        r"|\bi(?:'ll|\s+will)\s+(?:soon\s+|finally\s+)?be\s+dead\b(?!\s+(?:tired|serious|meat))"), self_marked=True),
    Rule("active_ideation.end_my_life", "active_ideation", "moderate", _r(
        rf"\b(?:end(?:ing)?|take|taking)\s+(?:my\s+(?:own\s+)?life|my\s+own\s+life|it\s+all)\b(?!\s+(?:with|for)\b)"
        rf"|\b(?:want|wanna|need|thinking (?:about|of)|think about|going to|gonna|decided|ready|plan(?:ning)?|urge|urges)\s+(?:to\s+)?{INTENS}{END_IT}"
        rf"|\b(?:find|found|finding|look(?:ing)?\s+for|search(?:ing)?\s+for)\s+(?:a|an|the|some)\s+(?:\w+\s+)?(?:way|method)\s+to\s+{END_IT}|\b(?:easy|quick|painless)\s+way\s+out\b"
        rf"|\b(?:just|time\s+(?:to\s+)?|means\s+to|decision\s+to|choice\s+to|should\s+i(?:\s+just)?)\s+{END_IT}"), self_marked=False),
    Rule("active_ideation.held_back", "active_ideation", "moderate", _r(
        r"\b(?:only|one)\s+(?:thing|reason|person|things|reasons)\s+(?:that\s+)?(?:is\s+|are\s+)?(?:keeping|keeps|kept|stopping|stops|stopped|holding)\s+me\s+(?:back\s+)?(?:from\s+(?:doing\s+it|killing|ending|dying|suicide|it\b)|alive|here)"
        r"|\bif\s+only\s+i\s+had\s+the\s+(?:\w+\s+)?(?:courage|guts|balls|nerve)\s*(?:[.!]|(?=\n)|\Z)"
        r"|\bonly\s+(?:thing|reason)\s+(?:that\s+|why\s+)?i'?m\s+not\s+(?:dead|gone)\b|\b(?:no|nothing)\s+(?:other\s+|more\s+)?(?:reason|thing|one)\s+(?:left\s+)?(?:is\s+)?(?:holding|keeping)\s+me\s+(?:back|here|alive)\b"
        r"|\bonly\s+reason\s+i(?:'m|\s+am|m)\s+(?:still\s+)?(?:alive|here|breathing)\b|\bonly\s+reason\s+i\s+(?:haven'?t|havent|didn'?t|don'?t)\s+(?:killed|ended|done\s+it|gone\s+through)"
        rf"|\b(?:courage|guts|balls|bravery|nerve)\s+to\s+(?:finally\s+|actually\s+)?(?:jump|kill|end\s+(?:it|my)|{DIE}|go\s+through\s+with\s+it|pull\s+the\s+trigger|do\s+it|(?:fulfil|fulfill|carry\s+out|follow\s+through\s+(?:with|on)|go\s+through\s+with)\s+my\s+plan)"
        rf"|\btoo\s+(?:scared|afraid|cowardly|much\s+of\s+a\s+coward|weak|chicken)\s+(?:yet\s+|still\s+)?to\s+(?:kill|cut\s+my\s+(?:own\s+)?(?:throat|wrists?)|end\s+(?:it|my)|{DIE}|go\s+through\s+with\s+it|jump|actually\s+do\s+it)"
        r"|\b(?:won'?t|will\s+not|wont)\s+be\s+(?:here|around|alive)\s+(?:for\s+)?(?:much\s+longer|long|any\s?more|next\s+(?:year|week|month)|by\s+(?:then|the\s+end))"), self_marked=True),
    Rule("active_ideation.suicidal", "active_ideation", "moderate", _r(rf"\b(?<!passive )(?<!passively ){SUICIDAL}\b(?!\s+(?:squad|friend|friends|son|daughter|brother|sister|mom|dad|patients|people|person|teens?|students?|clients?|callers?))")),
    Rule("active_ideation.suicide", "active_ideation", "moderate", _r(
        rf"\b(?:commit(?:ting)?|consider(?:ing)?|contemplat(?:e|ing)|think(?:ing)?\s+(?:about|of)|thought\s+(?:about|of)|thoughts\s+of|planning|plan|urge\s+to|urges\s+to|want\s+to\s+commit|choose|chose|resort\s+to)\s+(?:committing\s+)?{SUICIDE}\b{NOT_SUICIDE_NOUN}"
        rf"|\b{SUICIDE}\s+(?:is|seems|feels\s+like)\s+(?:the|my)\s+(?:only|best|last|easiest)\b"
        rf"|\b{SUICIDE}\s+(?:crosses|crossed|is\s+on|has\s+been\s+on)\s+my\s+mind\b|\bmy\s+{SUICIDE}\b{NOT_SUICIDE_NOUN}")),
    Rule("mention.suicide", "mention", "low", _r(
        rf"\b(?:{SUICIDE}|{SUICIDAL})\b{NOT_SUICIDE_NOUN}(?<!career suicide)(?<!political suicide)(?<!social suicide)(?<!electoral suicide)(?<!financial suicide)"),
        needs="first_person_sentence"),
    # -- a method asked about (moderate: method with implied ideation)
    Rule("method.query", "method", "moderate", _r(
        rf"\bhow\s+(?:many|much)\s+(?:\w+\s+){{0,3}}?{PILLS}\b[^.?!]{{0,50}}?\b(?:to\s+(?:{DIE}|kill|od|overdose|be\s+(?:fatal|lethal|deadly)|end\s+it|not\s+wake\s+up)|(?:is|are|would\s+be)\s+(?:a\s+)?(?:lethal|fatal|deadly|an\s+overdose)|would\s+kill)"
        rf"|\b(?:painless|quickest|easiest|fastest|surest|best|most\s+effective|least\s+painful|quick|peaceful|reliable)\s+(?:way|ways|method|methods)\s+(?:to|of)\s+(?:{DIE}|dying|kill\s+(?:myself|yourself|oneself|urself)|end\s+(?:it|my\s+life|things|your\s+life)|{SUICIDE}|commit\s+{SUICIDE})"
        rf"|\bhow\s+(?:do\s+i|to|can\s+i|would\s+i|could\s+i|should\s+i|does\s+one|do\s+you)\s+(?:kill\s+(?:myself|yourself|oneself)|end\s+(?:it|my\s+life)|commit\s+{SUICIDE}|overdose|hang\s+(?:myself|yourself)|{DIE}\s+(?:painlessly|quickly|peacefully|in\s+my\s+sleep))"
        rf"|\benough\s+(?:\w+\s+)?{PILLS}\b[^.!?]{{0,40}}\?|\bwould\s+(?:it|that|this)\s+(?:kill|take)\s+me\b|\bhow\s+(?:easy|hard|painful|quick|long)\s+(?:is\s+it|would\s+it\s+be)\s+to\s+(?:{DIE}|kill\s+(?:yourself|myself|oneself)|overdose|od|bleed\s+out|hang)"
        rf"|\b(?:easiest|quickest|best|fastest|painless|surest)\b[^.!?]{{0,15}}?\bto\s+kill\s+(?:yourself|myself|oneself|urself)"
        r"|\b(?:is|does|would|will|how\s+painful\s+is)\s+(?:overdosing|an\s+overdose|od'?ing|hanging|drowning|bleeding\s+out|jumping|slitting\s+(?:your|my)\s+wrists|hanging\s+yourself)\s+(?:\w+\s+)?(?:painful|hurt|quick|painless|fast|work)\b"
        rf"|\bhow\s+(?:much|many)\s+(?:mg|milligrams|grams|\w+)\s+(?:\w+\s+){{0,6}}?(?:to\s+)?(?:overdose|od|{DIE}|be\s+(?:fatal|lethal))\b"
        rf"|\b(?:most\s+|least\s+painful\s+|quickest\s+)?painless\s+way\s+to\s+go\b|\bhow\s+(?:much|many)\s+(?:\w+\s+)?{PILLS}\s+(?:will|would|does|do)\s+it\s+take\b"
        rf"|\bkill\s+oneself\b|\b(?:lethal|fatal|deadly)\s+dose\b|\bhow\s+(?:high|far)\s+(?:do|would|does|should)\s+(?:i|you|one|a\s+person)\s+(?:need\s+to|have\s+to)?\s*(?:jump|fall)")),
    # -- intent (high)
    Rule("intent.going_to", "intent", "high", _r(
        rf"\b(?:{I_AM}|i'?ll|i will|i'?m\s+finally|i\s+am\s+finally)\s+(?:really\s+|finally\s+|definitely\s+|actually\s+|just\s+)?(?:going\s+to|gonna|about\s+to|ready\s+to|planning\s+to|(?:\w+\s+)?doing\s+it|gonna\s+go)\s+(?:finally\s+|just\s+|actually\s+)?(?:kill\s+myself|k+i+l+\s*myself|{END_IT}|commit\s+{SUICIDE}|take\s+my\s+(?:own\s+)?life|unalive\s+myself|end\s+myself)"
        rf"|\bi'?(?:ve|\s+have)\s+decided\s+(?:to|that\s+i'?m\s+going\s+to|i'?m\s+going\s+to)\s+(?:kill\s+myself|{END_IT}|{DIE}|commit\s+{SUICIDE}|take\s+my\s+(?:own\s+)?life)"
        rf"|\bi(?:'ll|\s+will)\s+be\s+dead\s+(?:by|before|soon|tomorrow|tonight|in)\b"
        rf"|\bi\s+(?:will|'ll)\s+(?:kill\s+myself|commit\s+{SUICIDE}|{END_IT}|take\s+my\s+(?:own\s+)?life)\b(?!\s+if\b)"
        r"|\b(?:this\s+is|these\s+are)\s+my\s+(?:last|final)\s+(?:post|message|words|day|night|goodbye|note)\b|\bthis\s+is\s+my\s+(?:suicide\s+|goodbye\s+)?note\b"
        rf"|\b(?:{I_AM}|i'?ll|i\s+will|i)\s+(?:really\s+|finally\s+)?(?:going\s+to|gonna|about\s+to|will|plan\s+to|planning\s+(?:on|to))\s+(?:just\s+)?(?:(?:drink|swallow)\s+(?:some\s+)?bleach|(?:take|swallow|down)\s+(?:all|the\s+whole|a\s+whole|every|a\s+bunch|a\s+handful|\d+)\b[^.!?]{{0,20}}?{PILLS}|jump\s+(?:off|from|in\s+front)|hang\s+myself|shoot\s+myself|slit\s+my|overdose\b|od\b)"
        r"|\bgoodbye\s+(?:everyone|world|cruel world|all|forever)\b"
        rf"|\bclose\s+to\s+(?:downing|jumping|doing\s+it|ending\s+(?:it|my)|killing\s+myself|overdosing|pulling\s+the\s+trigger|taking\s+(?:all|the|these|those|my)\s+(?:\w+\s+)?{PILLS})"), self_marked=True),
    Rule("intent.do_it", "intent", "high", _r(
        rf"\bi(?:'m|\s+am|m)?\s*(?:going\s+to|gonna|will|'ll|plan\s+to)\s+(?:finally\s+|just\s+)?(?:do\s+it|go|take\s+(?:the|those|these|my)\s+(?:\w+\s+)?{PILLS})\s+(?:tonight|tomorrow|today|this\s+weekend|soon|now|on\s+\w+day)\b"),
        self_marked=True, needs="ideation"),

    # A euphemistic intention with no time word ("before I do it", "I'm going to go through with it", "my
    # impending death"): everyday words on their own, so it counts only beside a preparation (means in
    # hand, a date set, a note, arrangements for being found): see MUTUAL below.
    Rule("intent.do_it_euphemism", "intent", "high", _r(
        r"\b(?:before|after|when|once)\s+i\s+(?:finally\s+|actually\s+)?(?:do|go\s+through\s+with)\s+it\b"
        # (each alternative starts with a rare word, so the regex engine can jump to it: the subject is
        # a lookbehind)
        r"|(?:(?<=\bi'm )|(?<=\bi am )|(?<=\bim )|(?<=\bi ))(?:going\s+to|gonna)\s+(?:finally\s+|actually\s+)?(?:do|go\s+through\s+with)\s+it\b"
        r"(?!\s+(?:again|anyway|myself|for|with|right|properly|later|differently|the|this|as|if|because|but|and\s+(?:see|report|let)))"
        r"|(?<=\bmy )(?:impending|upcoming|approaching)\s+(?:death|mortality|suicide)\b"),
        self_marked=True, needs="mutual"),

    # -- plan (high)
    Rule("plan.plan", "plan", "high", _r(
        rf"\bi\s+(?:have|'ve\s+got|made|came\s+up\s+with|'?ve\s+made)\s+a\s+plan\s+(?:to|for|of|on\s+how)\b[^.!?]{{0,30}}?\b(?:kill|end|{DIE}|{SUICIDE}|myself|do\s+it)"
        rf"|\bi(?:'ve|\s+have)\s+(?:planned|been\s+planning|worked\s+out)\s+(?:it|my\s+(?:death|suicide)|how|out\s+how|when|where)\b[^.!?]{{0,30}}?\b(?:kill|end|{DIE}|{SUICIDE}|myself|do\s+it|it)\b"
        rf"|\bi\s+(?:had\s+)?planned\s+(?:on\s+)?(?:dying|to\s+{DIE}|killing\s+myself|to\s+kill\s+myself|to\s+end\s+(?:it|my\s+life))\b"
        rf"|\bmy\s+(?:{SUICIDE}\s+plan\s+is\b|plan\s+is\s+to\s+(?:kill|end\s+(?:it|my)|{DIE}|commit))"), self_marked=True),
    Rule("plan.note", "plan", "high", _r(
        rf"\b(?:{SUICIDE}|goodbye|farewell)\s+(?:note|notes|letter|letters|video|message)\b")),
    Rule("plan.note_written", "plan", "high", _r(
        r"\bi(?:'ve|\s+have)?\s+(?:already\s+)?(?:wrote|written|writing|drafted|left)\s+(?:a|my|the)\s+(?:last\s+)?(?:note|notes|letters?)\s+(?:to|for)\s+(?:my|everyone|everybody)"
        r"|\b(?:i\s+)?(?:(?:have|'ve)\s+)?(?:gave|given|sent|handed|mailed)\s+(?:my|the)\s+(?:last\s+|final\s+|goodbye\s+)?(?:note|letter)\s+to\s+(?:my|everyone|everybody)"
        r"|\b(?:i(?:'ve|\s+have)?\s+)?(?:started|been|began)\s+writing\s+(?:my\s+)?(?:goodbye\s+)?(?:notes|letters)\s+(?:to|for)\b"),
        self_marked=True, needs="risk"),
    # A note left, with no addressee named ("I wrote a note"): ordinary on its own, so it counts only
    # beside a euphemistic intention ("... and I'm going to do it tonight"); see MUTUAL below.
    Rule("plan.note_left", "plan", "high", _r(
        r"\bi(?:'ve|\s+have)?\s+(?:already\s+|just\s+|finally\s+)?(?:wrote|written|finished|left)\s+(?:a|my|the)\s+(?:last\s+|final\s+)?(?:note|letter)\b(?!\s+(?:to|for|on|about|in|at|from|with)\b)"),
        self_marked=True, needs="mutual"),
    Rule("plan.giving_away", "plan", "high", _r(
        r"\b(?:giv(?:e|ing|en)|gave)\s+(?:away\s+)?(?:all\s+)?(?:of\s+)?my\s+(?:stuff|things|belongings|possessions|pets?|cat|dog|games|clothes)\s+away\b"
        r"|\b(?:giv(?:e|ing|en)|gave)\s+away\s+(?:all\s+)?(?:of\s+)?my\s+(?:stuff|things|belongings|possessions|pets?|cat|dog)\b"
        r"|\b(?:said|saying|say)\s+(?:my\s+)?goodbyes?\s+to\s+(?:everyone|everybody|my)\b|\bsaid\s+my\s+goodbyes\b"
        r"|\b(?:writing|wrote|made|updated|update)\s+(?:my|a)\s+will\b|\b(?:goodbye|bye|farewell)[ \t]*[.!]*[ \t]*(?:(?=\n)|\Z)"
        r"|\b(?:i'?m|i\s+am)\s+(?:so\s+|really\s+)?sorry\s+(?:to\s+)?(?:everyone|everybody|mom|mum|dad|for\s+everything|to\s+all)\b"
        r"|\b(?:i'?ve\s+(?:got|set)|i\s+(?:have|set)|picked)\s+(?:my|a|the)\s+date(?:\s+set)?\b"
        r"|\b(?:is|was)\s+the\s+(?:day|date|night)\s+i\s+(?:set|picked|chose|decided\s+on)\b"
        r"|\b(?:gun|barrel|it|knife|blade)\s+(?:against|to)\s+my\s+(?:head|neck|temple|throat|chest|wrists?)\b|\bfinger\s+on\s+the\s+trigger\b"),
        self_marked=True, needs="risk"),
    Rule("plan.timing", "plan", "high", _r(
        r"\b(?:tonight|tomorrow(?:\s+night|\s+morning)?|this\s+weekend|on\s+my\s+birthday|in\s+(?:a|one|two|three|a\s+few|\d+)\s+(?:days?|hours?|weeks?)|"
        r"when\s+every(?:one|body)\s+(?:is|'s)\s+asleep|before\s+(?:christmas|new\s+year'?s?|my\s+birthday)|after\s+(?:the\s+funeral|my\s+exams?|christmas))\b"),
        self_marked=True, needs="same_sentence_ideation"),
    Rule("plan.access_to_means", "means", "high", _r(
        rf"\bi\s+(?:have|'ve\s+got|'ve\s+bought|got|bought|ordered|found|stole|took|'ve\s+collected|'ve\s+saved)\s+(?:a\s+|the\s+|some\s+|enough\s+|all\s+(?:the\s+|my\s+)?|my\s+|a\s+bottle\s+of\s+|a\s+box\s+of\s+|\d+\s+)(?:\w+\s+)?{MEANS}\b"
        rf"|\b(?:access\s+to|bought|ordered|got)\s+(?:a\s+)?(?:gun|rope|noose|{PILLS})\b[^.!?]{{0,30}}\b(?:to\s+(?:kill|end|{DIE})|for\s+(?:it|myself))"),
        self_marked=True, needs="ideation"),
    Rule("preparatory.stockpiling", "preparatory", "high", _r(
        rf"\b(?:been\s+)?(?:stockpil\w*|hoard\w*|saving\s+up|collecting|saving)\s+(?:up\s+)?(?:my\s+|the\s+|some\s+|enough\s+)?(?:\w+\s+)?{PILLS}\b"
        r"|\b(?:tied|tying|made|making|bought)\s+(?:a|the|my)\s+noose\b|\bnoose\s+(?:is\s+)?(?:ready|tied|up|hanging)\b"), self_marked=True),
    # Arrangements for being found or cleaned up after ("I'll call the cops right before I do it",
    # "lining the car with garbage bags", "so my family won't find me"): preparation, counted beside an
    # intention (MUTUAL below) or other ideation.
    Rule("preparatory.arrangements", "preparatory", "high", _r(
        r"\b(?:call|text|ring|phone)\s+(?:the\s+)?(?:cops|police|911|999|112|an?\s+ambulance)\s+(?:right\s+|just\s+)?before\s+i\b"
        r"|\b(?:lin(?:e|ed|ing)|cover(?:ed|ing)?)\s+(?:the|my)\s+(?:car|bathtub|tub|floor|bed|room|trunk|boot)\s+with\s+(?:garbage\s+bags|bin\s+bags|trash\s+bags|plastic|a\s+tarp|tarps|towels)\b"
        r"(?!\s+(?:for|before|because|so\s+the\s+(?:dog|dogs|cat|kids|paint|mud)))"
        r"|\bso\s+(?:my\s+(?:family|mom|mum|dad|parents|kids|wife|husband|partner|roommate|sister|brother)|nobody|no\s+one)\s+(?:won'?t|doesn'?t|don'?t|will\s+not|does\s+not|do\s+not|never)\s+(?:have\s+to\s+)?(?:find|see)\s+(?:me|my\s+body)\b"
        r"|\bso\s+i\s+(?:won'?t|will\s+not)\s+be\s+(?:too\s+)?(?:smelly|messy|a\s+mess)\b"),
        self_marked=True, needs="ideation"),
    Rule("method.mention", "method", "moderate", _r(
        rf"\b(?:overdos\w*|od'?ing|noose|hang(?:ing)?\s+myself|jump(?:ing)?\s+(?:off|from|in\s+front\s+of)|train\s+tracks|in\s+front\s+of\s+a\s+(?:train|bus|car|truck)|slit\w*\s+my\s+wrists?|my\s+wrists?|{PILLS}|gun|carbon\s+monoxide|drown(?:ing)?|rope|razor|blade|bridge|tall\s+building|bleach)\b"),
        needs="ideation"),
    # -- preparatory acts or an attempt in progress (imminent)
    Rule("attempt.in_progress", "attempt_now", "imminent", _r(
        rf"\bi(?:'ve|\s+have)?\s+(?:just\s+|already\s+)(?:took|taken|swallowed|downed|had|ate|chugged)\s+(?:\w+\s+){{0,4}}?(?:{PILLS}|bottle|overdose|all\s+of\s+(?:them|it))\b"
        rf"|\bi(?:'ve|\s+have)?\s+(?:just\s+|already\s+)(?:took|taken|swallowed)\s+(?:\d+|all|a\s+bunch|a\s+handful|the\s+whole|a\s+whole|everything)\b"
        rf"|\bi\s+(?:just\s+)?(?:overdosed|od'?d|od)\s+(?:just\s+now|tonight|right now|an hour ago|a few minutes ago)\b|\bi\s+just\s+(?:overdosed|od'?d)\b"
        rf"|\b{PILLS}\s+(?:are|is)\s+(?:kicking\s+in|starting\s+to\s+work|working\s+now)\b"
        rf"|\b{I_AM}\s+(?:standing|sitting|up)?\s*(?:on|at)\s+(?:the|a)\s+(?:edge|ledge|bridge|roof|rooftop|tracks|cliff)\b(?=[^.!?]{{0,60}}(?:jump|{DIE}|end|goodbye|kill|now|right now|about to))"
        rf"|\b{I_AM}\s+bleeding\s+(?:a\s+lot|out|so\s+much|badly|heavily)\b|\bcut\s+(?:too\s+)?deep\s+(?:this\s+time|tonight|now)\b"
        rf"|\bi\s+(?:\w+\s+){{0,3}}?(?:took|swallowed|downed|ingested|have\s+taken|'ve\s+taken)\s+(?:\d{{2,}}|all\s+(?:of\s+)?(?:my|the)|a\s+bottle|a\s+whole\s+bottle|the\s+whole\s+bottle)\s+(?:of\s+)?(?:\w+\s+)?{PILLS}"
        r"|\b(?:belt|rope|noose|cord|scarf|wire)\s+(?:is\s+)?(?:around|round)\s+my\s+neck\b"
        rf"|\bby\s+the\s+time\s+(?:you|anyone|someone|somebody)\s+(?:reads?|sees?|finds?)\s+this\b"), self_marked=True),
    Rule("attempt.doing_it_now", "attempt_now", "imminent", _r(
        rf"\b{I_AM}\s+(?:doing|about\s+to\s+do)\s+it\s+(?:now|right\s+now|as\s+(?:i|we)\s+speak|in\s+a\s+few\s+minutes)\b"),
        self_marked=True, needs="ideation"),
    # -- past behaviour (moderate; high when recent)
    Rule("attempt.past", "attempt", "moderate", _r(
        rf"\bi\s+(?:'ve\s+|have\s+|had\s+)?(?:tried|attempted|try)\s+(?:to\s+)?(?:kill\s+myself|{SUICIDE}|end\s+(?:it|my\s+life|it\s+all)|take\s+my\s+(?:own\s+)?life|overdose|hang\s+myself|od)\b"
        rf"|\b(?:{SUICIDE}\s+attempts?|attempted\s+{SUICIDE}|attempt(?:ed|ing)?\s+{SUICIDE})\b|\bsurvived\s+(?:an?|my|the)\s+(?:{SUICIDE}\s+)?attempt\b"
        rf"|\bi\s+(?:overdosed|od'?d)\b|\bmy\s+(?:last|first|second|third|previous|most\s+recent)\s+attempt\b")),
    # -- self-injury (moderate)
    Rule("self_injury.self_harm", "self_injury", "moderate", _r(
        r"\bself[- ]?(?:harm\w*|injur\w*|mutilat\w*)\b|\bsh\s+(?:urges|scars|again|relapse|wounds)\b|\b(?:relaps\w*)\s+(?:on|into|with)?\s*(?:sh|cutting|self[- ]?harm)\b")),
    Rule("self_injury.hurt_myself", "self_injury", "moderate", _r(
        r"\b(?:cut|cuts|cutting|burn|burned|burnt|burning|hurt|hurting|harm|harming|scratch\w*|punch\w*|hit|hitting|starv\w*|bang\w*\s+my\s+head|carv\w*)\s+(?:up\s+)?(?:my\s*self|myself)\b(?![^.!?]{0,40}\b(?:shaving|cooking|chopping|by accident|accidentally|on a|while|at the gym|falling|playing)\b)"
        r"|\b(?:cut|cutting|slit|slitting|carving|carve|burning)\s+(?:my|into\s+my)\s+(?:arms?|wrists?|thighs?|legs?|skin|stomach|hips?)\b(?![^.!?]{0,40}\b(?:shaving|cooking|chopping|by accident|accidentally|while)\b)"
        r"|\bi(?:'ve|\s+have|\s+had)?\s+(?:been\s+|started\s+|started\s+to\s+|began\s+|begun\s+|keep\s+)?cutting(?:\s+again)?(?=\s*[.!,?]|\s*(?:(?=\n)|\Z)|\s+(?:again|every|when|because|since|to\s+cope|for))"
        r"|\b(?:cut|cuts|slashes|slashed|carved|carve)\b[^.!?]{0,25}?\b(?:into|on|to|in)\s+my\s+(?:arms?|wrists?|thighs?|legs?|skin|stomach)\b"
        r"|\b(?:stop|quit)\s+cutting\b(?!\s+(?:corners|costs?|back|down|it|the|my\s+hair|hair|class|classes|carbs|sugar|out|off))|\b(?:urges?|impulses?)\s+to\s+(?:cut|self[- ]?harm|hurt\s+myself|(?:shove|stick|stab|drive|push)\s+(?:it|a\s+\w+|the\s+\w+)\s+(?:in|into|through)\s+my\s+(?:neck|throat|wrists?|arms?|chest|skin|leg|thigh))\b"
        r"|\b(?:does|did|will|would|can)\s+cutting\s+(?:really\s+|actually\s+)?(?:help|work|relieve)\b"
        r"|\b(?:months?|weeks?|days?|years?)\s+(?:clean\s+)?(?:without|from|free\s+(?:of|from))\s+(?:cutting|self[- ]?harm\w*|sh)\b"
        r"|\bi\s+(?:still\s+)?cut\s+(?:\d+(?:\s*-\s*\d+)?\s+times|every\s+(?:day|night)|daily)\b"
        r"|\b(?:my|fresh|new)\s+(?:cuts|scars|wounds)\s+(?:on\s+my\s+)?(?:arms?|wrists?|thighs?|legs?)\b"), self_marked=True),
    # -- a farewell in euphemism ("it was fun while it lasted", "my final goodbye", "I lost the battle"):
    #    no death word, so moderate (the draft asks directly about safety and gives a line), not high
    Rule("intent.farewell", "intent", "moderate", _r(
        r"\b(?:it|life)\s+(?:was|has\s+been|'s\s+been)\s+(?:a\s+)?(?:fun|good|nice|great)\s+(?:ride\s+|run\s+)?while\s+it\s+lasted\b"
        r"|\b(?:my|a|the)\s+(?:final|last)\s+good\s?byes?\b(?!\s+(?:to\s+(?:the|this|our|my)\s+(?:house|home|team|school|job|office|city|country|dog|cat)|party|tour|concert|show|match|game|episode))"
        r"|\b(?:i(?:'ve|\s+have)?|finally)\s+lost\s+(?:the|my)\s+(?:battle|fight|war)\s*(?:[.!]|(?=\n)|\Z|with\s+(?:myself|depression|my\s+(?:mind|demons|depression)))"
        r"|\b(?:not|never)\s+(?:planning\s+on|going\s+to\s+be|gonna\s+be)\s+coming\s+(?:back|home)\b(?![^.!?\n]{0,40}\b(?:job|work|country|city|town|uk|us|office|company|school|class|university|college|sub|reddit|here\s+to)\b)"
        r"|\bi'?d\s+(?:hate|rather\s+not)\s+to\s+(?:live\s+to\s+)?see\s+(?:the\s+sun\s+(?:rise|come\s+up)|tomorrow|the\s+morning|another\s+day)\b"),
        self_marked=True),
    # -- someone else's ideation in third-person words ("she wants to kill herself", "he tried to end his
    #    life"): never the writer's own (always reported), it makes the post a third-party concern (low)
    Rule("concern.other_ideation", "third_party", "low", _r(
        rf"\b{_OTHER_WANTS}\s+(?:to\s+)?(?:kill|hurt|harm)(?:ing)?\s+(?:herself|himself|themselves|themself)\b"
        rf"|\b{_OTHER_WANTS}\s+(?:to\s+)?(?:end|take|taking|ending)\s+(?:her|his|their)\s+(?:own\s+)?life\b")),
    # -- coded: "asking for a friend" (no tier on its own)
    Rule("coded.asking_for_a_friend", "coded", "low", _r(r"\b(?:asking|asked|ask)\s+for\s+a\s+(?:friend|mate|buddy|pal)\b"), self_marked=True, needs="friend"),
)

# --- the cumulative cue (low): a post dense with first-person signs of severe distress -------------
# Each cue alone is an ordinary bad day ("I'm exhausted", "I feel so lost", "I've been crying"), so
# none is a rule of its own. Several *different* kinds of cue in one post (self-contempt with
# emptiness, isolation with crying, ...) are the picture of severe distress, for which C-SSRS
# guidance asks the supporter to ask directly about suicidal thoughts: the low tier. Scoring: each
# kind counts once, at its weight (the weakest kinds, tiredness, feeling overwhelmed, fear or a plea
# for help, and a diagnosis named as one's own, count half); a post up to CUE_SHORT characters (a title and a line, where the cue is
# the whole message) needs a score of 1, a longer post 2. Only cues that count in the writer's own
# voice add up: negated, reported, quoted and past ones do not. Read only when no other rule raised
# the post. Written from SDCNL's misses (kinds of language, invented fixtures) and checked against
# ordinary posts (r/AskWomen submissions, 2005 comments) and invented everyday sentences.
_CUE_ADV = (r"(?:(?:so+|really|very|just|always|constantly|completely|totally|fucking|extremely|pretty(?:\s+much)?|absolutely|"
            r"utterly|kinda|kind\s+of|literally|honestly|still|also|too|increasingly|mentally|emotionally|physically)\s+)*")
_CUE_FEEL = (rf"(?:{I_AM}|i\s+feel|i'?ve\s+been|i\s+have\s+been|i'?ve\s+been\s+feeling|i\s+have\s+been\s+feeling|{I_AM}\s+feeling|"
             r"i\s+(?:always|just|often|constantly)\s+feel|i\s+get|feeling(?<!re\sfeeling)(?<!are\sfeeling)(?<!is\sfeeling)(?<!s\sfeeling)(?<!you\sfeeling)(?<!prefer\sfeeling)|i\s+feel\s+like\s+i'?m)")
_CUE_AND = r"(?:\w+\s+(?:and|&)\s+(?:so\s+|very\s+|really\s+)?)?"  # "I'm scared and lost", "so sick and exhausted"
_CUE_END = r"\s*(?:[.!?,;]|(?=\n)|\Z)"
# A line that is only a state word ("Hopeless", "so numb", "Feeling worthless."), as a title often is
# (the match takes the line break before it, so the scan can jump to it; the evidence leaves it out).
_CUE_LINE = r"(?:\n|\A)(?:feeling\s+|i\s+feel\s+|i'?m\s+)?(?:so\s+|just\s+|completely\s+|totally\s+)?(?:{})(?:\s+and\s+(?:\w+)|\s*[.!?\u2026]+)?\s*(?=\n|\Z)"
CUE_SHORT = 300
CUE_LONG_SCORE = 2.0
CUES: tuple[Rule, ...] = (
    Rule("cue.self_contempt", "cumulative_distress", "low", _r(
        rf"\b{I_AM}\s+(?:{_CUE_ADV}|such\s+|an?\s+)*(?:(?:complete|total|fucking|huge|absolute|worthless|pathetic|useless|talentless)\s+)?"
        r"(?:loser|pathetic|disgusting|ugly|piece\s+of\s+(?:shit|crap|garbage|trash)|disappointment|fuck\s?up|screw\s?up|not\s+good\s+enough|hideous|unwanted|defective)\b"
        r"(?!\s+(?:at|with|for|to|of\s+(?:a|an)\s+(?!person|human))\b)"
        r"|\bi\s+(?:really\s+|just\s+|fucking\s+|still\s+)?(?:hate|loathe|despise|can'?t\s+stand)\s+(?:my\s+(?:body|brain|mind|personality)|the\s+(?:person|way)\s+i(?:\s+am|\s+look|\s+have\s+become|'ve\s+become)|who\s+i'?ve\s+become|(?:how|the\s+way)\s+i\s+(?:feel|am|look)|everything\s+about\s+(?:me|myself))\b"
        r"|\bi\s+(?:can'?t|cannot|never)\s+do\s+anything\s+right\b|\bi\s+(?:always\s+)?(?:ruin|mess\s+up|fuck\s+up|screw\s+up)\s+everything\b"
        r"|\bi(?:'ve|\s+have)?\s+(?:ruined|destroyed|wrecked|fucked\s+up)\s+my\s+(?:whole\s+|own\s+)?(?:life|future)\b"
        r"|\bi\s+(?:deserve|deserved)\s+(?:to\s+(?:suffer|be\s+(?:alone|hurt|punished|miserable|in\s+pain|unhappy|hated))|nothing\s+good|(?:all\s+)?(?:this|the)\s+pain)\b"
        r"|\b(?:hatred|disgust)\s+(?:to|towards?|for|of|at)\s+myself\b|\b(?:my|the|all\s+(?:the|this|my))\s+self[- ]?(?:loathing|hatred|hate)\b"
        r"|\bi\s+(?:always|just|only|keep)\s+(?:let|letting)\s+(?:everyone|everybody|my\s+(?:family|parents|friends))\s+down\b"
        "|" + _CUE_LINE.format(r"worthless|useless|pathetic|disgusting")),
        self_marked=True, hyperbole=True, cue=1.0),
    Rule("cue.emptiness", "cumulative_distress", "low", _r(
        rf"\b{_CUE_FEEL}\s+{_CUE_ADV}{_CUE_AND}(?:numb|empty|hollow|dead\s+inside|like\s+(?:a\s+)?(?:shell|zombie|robot|ghost))\b(?![-'])(?!\s+(?:about|for|towards?|from|when|after|stomach|handed)\b)"
        r"|\bi\s+(?:just\s+|literally\s+)?feel\s+nothing\b(?!\s+(?:for|about|towards?|but)\b)"
        r"|\bi\s+(?:just\s+|really\s+)?(?:can'?t|cannot|don'?t|do\s+not|no\s+longer)\s+(?:really\s+|even\s+)?(?:feel|enjoy)\s+(?:anything|any\s+(?:joy|happiness|pleasure)|happy|happiness|joy|life|my\s+life)\b(?!\s+(?:about|for|from|when|at|in\s+(?:the|this))\b)"
        r"|\bi(?:'ve|\s+have|'m|\s+am)?\s+(?:completely\s+|totally\s+)?(?:lost|losing)\s+(?:all\s+)?(?:interest|joy|enjoyment|pleasure|passion)\s+(?:in|for)\s+(?:everything|anything|life|all\s+(?:things|the\s+things)|(?:the\s+)?things\s+i)\b"
        r"|\bnothing\s+(?:makes|brings|gives)\s+me\s+(?:happy|joy|happiness|pleasure)\b|\b(?:my\s+heart|my\s+soul|inside)\s+(?:is|feels)\s+(?:so\s+|just\s+)?(?:empty|hollow|numb|dead)\b"
        r"|\bi\s+feel\s+(?:this|such|an?|the)\s+(?:\w+\s+)?(?:emptiness|numbness)\b|\bmy\s+(?:emptiness|numbness)\b"
        "|" + _CUE_LINE.format(r"empty|numb|hollow|dead\s+inside")),
        self_marked=True, hyperbole=True, cue=1.0),
    Rule("cue.exhaustion", "cumulative_distress", "low", _r(
        rf"\b{_CUE_FEEL}\s+{_CUE_ADV}{_CUE_AND}(?:tired|exhausted|drained|worn\s+out|burnt\s+out|burned\s+out|weary)"
        rf"(?:\s+(?:all\s+the\s+time|every\s+(?:single\s+)?day|constantly|of\s+(?:everything|it\s+all|this|trying|fighting|people|myself|feeling|being|struggling|pretending))|{_CUE_END})"
        r"|\bi\s+(?:have|'ve\s+got|got)\s+no\s+(?:energy|motivation)\b(?!\s+(?:for\s+(?:the|this|that)|to\s+(?:cook|clean|go\s+out|exercise)))"
        r"|\bi\s+(?:just\s+)?(?:can'?t|cannot|couldn'?t)\s+(?:even\s+)?(?:get|drag\s+myself)\s+out\s+of\s+bed\b"
        r"|\b(?:all|the\s+only\s+thing)\s+i\s+(?:want\s+to|wanna|can)\s+do\s+is\s+(?:sleep|lie\s+in\s+bed|stay\s+in\s+bed|cry)\b"
        r"|\bi\s+(?:just\s+)?(?:stay|stayed|lie|lay|laid)\s+in\s+bed\s+all\s+day\b|\bi'?m\s+(?:constantly|always)\s+tired\b"),
        self_marked=True, hyperbole=True, cue=0.5),
    Rule("cue.isolation", "cumulative_distress", "low", _r(
        r"\bi\s+(?:have|'ve\s+got|got|literally\s+have|really\s+have)\s+(?:no|zero)\s+(?:real\s+|close\s+)?(?:friends|support|one\s+who\s+cares|social\s+life)\b(?!\s+(?:who|that|in|at|to|here|there|with)\b)"
        rf"|\b{_CUE_FEEL}\s+{_CUE_ADV}{_CUE_AND}(?:alone|lonely|isolated|invisible|unloved|unwanted|forgotten|abandoned|left\s+out|like\s+an?\s+(?:outsider|outcast))\b"
        r"(?!\s+(?:in\s+(?:the|my|a)\s+(?:house|flat|office|car|room|apartment|classroom)|at|on|with|for|today|tonight|this|here|by|to)\b)"
        r"|\b(?:no\s*one|nobody|noone)\s+(?:\w+\s+){0,2}?(?:understands\s+me|listens\s+to\s+me|is\s+there\s+for\s+me|notices\s+me|likes\s+me|talks\s+to\s+me|checks\s+(?:on|in\s+on)\s+me)\b"
        r"|\bi\s+(?:don'?t|do\s+not|never)\s+(?:really\s+)?(?:belong|fit\s+in)\b(?!\s+(?:in|at|with)\s+(?:this|that|the|my)\s+(?:job|team|class|company|school|sub|group|office|department)\b)"
        r"|\bi(?:'ve|\s+have)?\s+lost\s+all\s+(?:of\s+)?my\s+friends\b|\b(?:everyone|everybody|people)\s+(?:\w+\s+)?(?:hates|ignores|leaves|abandons|avoids)\s+me\b"
        r"|\bmy\s+(?:family|parents|friends|mom|mum|dad|mother|father)\s+(?:hate|hates|don'?t\s+care\s+about|doesn'?t\s+care\s+about|don'?t\s+love|doesn'?t\s+love)\s+me\b"
        r"|\bfriendless\b|\bmy\s+loneliness\b|\bloneliness\s+(?:is|has\s+been)\s+(?:killing|eating|consuming|crushing)\s+me\b"
        r"|\b(?:people|everyone|nobody|no\s*one|most\s+people)\s+(?:\w+\s+)?wants?\s+me\s+(?:around|here)\b"
        "|" + _CUE_LINE.format(r"alone|lonely|so\s+alone|so\s+lonely|invisible|unwanted|unloved")),
        self_marked=True, hyperbole=True, cue=1.0),
    Rule("cue.crying", "cumulative_distress", "low", _r(
        r"\bi(?:\s+(?:just|keep|always|often|still|constantly|start|started|can'?t\s+help\s+but|end\s+up|ended\s+up|break\s+down|broke\s+down|burst\s+out))?\s+(?:cry|crying|sob|sobbing|weep|weeping)\b"
        r"(?!\s+(?:at|over|during|watching|reading|laughing|with\s+(?:joy|laughter|happiness)|of\s+joy|happy|when\s+(?:i\s+)?(?:watch|read|saw|see|hear)|in\s+(?:the\s+)?(?:movie|cinema|film|theatre|theater)|because\s+of\s+(?:the|a|that)\s+(?:movie|film|book|show|song|wedding|ending)|from\s+laughing|tears\s+of\s+joy|and\s+laugh\w*)\b)"
        r"|\bi(?:'ve|\s+have|'m|\s+am|\s+was|\s+had)\s+(?:been\s+)?(?:just\s+|constantly\s+|literally\s+|always\s+)?(?:crying|sobbing|weeping|in\s+tears)\b(?!\s+(?:at|over|watching|laughing|with\s+(?:joy|laughter)|of\s+joy)\b)"
        r"|\bi\s+(?:just\s+)?(?:cried|sobbed|wept)\s+(?:for\s+(?:hours|an\s+hour|ages|days|the\s+whole\s+(?:day|night))|again|all\s+(?:day|night|morning|evening))\b"
        r"|\bi\s+(?:broke|break)\s+down\s+(?:crying|in\s+tears|sobbing|again)\b"),
        self_marked=True, hyperbole=True, cue=1.0),
    Rule("cue.overwhelm", "cumulative_distress", "low", _r(
        r"\b(?:it'?s|it\s+is|this\s+is|everything\s+is|everything'?s|life\s+is|it'?s\s+all|it\s+all\s+is|it'?s\s+just)\s+(?:all\s+)?(?:just\s+|getting\s+|becoming\s+)?(?:too\s+much|so\s+much|too\s+hard|unbearable)"
        rf"(?:\s+for\s+me(?!\s+to\s+(?:pay|spend|ask|afford|buy|carry|lift))|\s+to\s+(?:handle|bear|deal\s+with)|{_CUE_END})"
        rf"|\b{_CUE_FEEL}\s+{_CUE_ADV}{_CUE_AND}(?:overwhelmed|drowning|suffocating|crumbling|at\s+my\s+limit|at\s+the\s+end\s+of\s+my\s+(?:rope|tether)|barely\s+(?:holding\s+on|hanging\s+on|surviving|functioning|keeping\s+it\s+together))\b"
        r"(?!\s+(?:in|with|by)\s+(?:debt|work|paperwork|emails|bills|assignments|homework|marking|admin|responsibilities|water)\b)"
        rf"|\bi\s+(?:just\s+|really\s+|honestly\s+)?(?:can'?t|cannot)\s+(?:cope|handle\s+(?:it|this|anything|life|everything)|deal\s+with\s+(?:it|this|anything|life|everything))(?:\s+any\s?more)?{_CUE_END}"
        r"|\bi'?m\s+(?:slowly\s+)?losing\s+my\s+mind\b|\bi'?m\s+barely\s+(?:holding|hanging)\s+on\b"),
        self_marked=True, hyperbole=True, cue=0.5),
    Rule("cue.futility", "cumulative_distress", "low", _r(
        rf"\bwhy\s+(?:do|should|would)\s+i\s+(?:even\s+)?(?:bother|try)(?:\s+any\s?more)?{_CUE_END}|\bwhy\s+(?:even\s+)?try\s+any\s?more\b"
        r"|\bnothing\s+i\s+do\s+(?:ever\s+)?(?:matters|helps|works|is\s+(?:ever\s+)?(?:good\s+)?enough)\b|\bnothing\s+(?:ever\s+)?(?:matters|helps)\s+any\s?more\b"
        r"|\bi\s+(?:feel|am|'m)\s+(?:so\s+|completely\s+|totally\s+|utterly\s+|just\s+|absolutely\s+)?(?:defeated|helpless|powerless)\b(?!\s+(?:on|with|about|as\s+to|at|against|to\s+(?:stop|change|help))\b)"
        r"|\bi\s+(?:feel|am|'m|have\s+been\s+feeling|'ve\s+been\s+feeling)\s+(?:so\s+|completely\s+|totally\s+|utterly\s+|just\s+)?lost\s+(?:and\s+(?:alone|hopeless|confused|scared|broken|empty)|in\s+life)\b"
        r"|\bi\s+(?:feel|have\s+been\s+feeling|'ve\s+been\s+feeling)\s+(?:so\s+|completely\s+|totally\s+|utterly\s+|just\s+)?lost\b(?!\s+(?:on|with|about|as\s+to|in\s+(?:the|this)\s+(?:city|game|book|process|paperwork|system))\b)"
        r"|\b(?:i'?m|my\s+life\s+is)\s+going\s+nowhere\b|\bmy\s+life\s+(?:is\s+(?:a\s+(?:disaster|wreck|failure)|shit|crap|garbage)|sucks)\b"
        r"|\b(?:everything|it\s+all|all\s+of\s+(?:it|this))\s+(?:is|feels|seems)\s+(?:so\s+|just\s+|completely\s+)?(?:pointless|meaningless|hopeless)(?=\s*(?:[.!?;]|(?=\n)|\Z|now\b|any\s?more\b|to\s+me\b))"
        r"|\bi\s+(?:don'?t|do\s+not)\s+(?:understand|know|get)\s+why\s+i'?m\s+(?:still\s+)?(?:here|alive)\b|\bi\s+(?:can'?t|cannot)\s+(?:even\s+)?imagine\s+(?:a|any|my)\s+future\b"
        r"|\b(?:it|life|everything)\s+gets?\s+harder\s+(?:and\s+harder\s+)?(?:to\s+(?:breathe|live|get\s+up|keep\s+going)|every\s+(?:single\s+)?day|each\s+day)\b"
        r"|\b(?:it|things|life|everything)\s+(?:only|just)\s+(?:keeps?\s+)?(?:gets?|getting)\s+worse\b"
        "|" + _CUE_LINE.format(r"hopeless|defeated|helpless")),
        self_marked=True, hyperbole=True, cue=1.0),
    Rule("cue.illness", "cumulative_distress", "low", _r(
        r"\bi\s+(?:have|'ve\s+had|have\s+had|suffer\s+from|struggle\s+with|was\s+diagnosed\s+with|got\s+diagnosed\s+with|'ve\s+been\s+diagnosed\s+with|have\s+been\s+diagnosed\s+with|deal\s+with|'m\s+battling|am\s+battling|live\s+with)\s+"
        r"(?:\w+\s+){0,2}?(?:depression|bipolar|ptsd|bpd|borderline|mental\s+illness|an?\s+eating\s+disorder|anorexia|bulimia|panic\s+attacks)\b"
        r"|\bmy\s+(?:bipolar|ptsd|bpd|mental\s+illness|eating\s+disorder|panic\s+attacks)\b|\b(?:i'?m|i\s+am)\s+(?:\w+\s+)?(?:mentally\s+ill|bipolar)\b"),
        self_marked=True, cue=0.5),
    Rule("cue.fear", "cumulative_distress", "low", _r(
        rf"\b{I_AM}\s+(?:so\s+|really\s+|just\s+|fucking\s+|absolutely\s+)?(?:scared|terrified|desperate|frightened)(?:\s+of\s+(?:myself|what\s+i\s+(?:might|will|could)\s+do|my\s+(?:own\s+)?(?:thoughts|mind)|the\s+future|everything)\b|\s+right\s+now\b|{_CUE_END})"
        rf"|\bplease\s+(?:someone\s+|somebody\s+|anyone\s+)?help(?:\s+me)?{_CUE_END}|\bi\s+(?:really\s+|desperately\s+|just\s+)?need\s+help(?:\s+(?:please|now|badly))?{_CUE_END}"
        r"|\bi\s+(?:just\s+|really\s+)?(?:don'?t|do\s+not|dont)\s+know\s+(?:what\s+to\s+do|what'?s\s+wrong\s+with\s+me|who\s+to\s+(?:talk|turn)\s+to|how\s+to\s+(?:feel\s+better|get\s+better|fix\s+(?:this|myself|me)))\b"
        r"|\bi\s+(?:don'?t|do\s+not|can'?t)\s+trust\s+myself\b(?!\s+(?:with\s+(?:money|a\s+credit|cake|sweets|food|chocolate)|to\s+(?:cook|drive|buy|spend|choose)|around\s+(?:food|sweets|cake|chocolate))\b)"),
        self_marked=True, hyperbole=True, cue=0.5),
    Rule("cue.pain", "cumulative_distress", "low", _r(
        rf"\b(?:it|this|everything)\s+(?:just\s+|really\s+|still\s+)?hurts(?:\s+so\s+(?:much|bad)|\s+too\s+much)?{_CUE_END}"
        r"|\b(?:i'?m|i\s+am|i'?ve\s+been|i\s+have\s+been)\s+(?:still\s+|just\s+|so\s+)?(?:suffering|hurting)\b(?!\s+(?:from|with)\s+(?:a|an|the|my|this|these)\b)"
        r"|\b(?:mental|emotional)\s+(?:pain|anguish|torment|agony)\b|\b(?:living|my\s+own\s+personal|my\s+personal)\s+hell\b"
        r"|\b(?:the|this|my)\s+pain\s+(?:is\s+(?:too|so|unbearable|getting)|never\s+(?:stops|ends|goes)|won'?t\s+(?:stop|end|go)|keeps\s+getting)\b"),
        self_marked=True, hyperbole=True, cue=1.0),
    Rule("cue.low_mood", "cumulative_distress", "low", _r(
        rf"\b{I_AM}\s+in\s+(?:such\s+)?(?:a|an)\s+(?:\w+\s+)?(?:bad|dark|terrible|horrible|awful|low|scary)\s+(?:place|headspace|mental\s+state)\b"
        r"(?!\s+(?:financially|with\s+(?:money|my\s+(?:job|finances|landlord|loan|debt))|because\s+of\s+(?:my\s+)?(?:debt|money|loan|credit))\b)"
        r"|\bnot\s+feeling\s+(?:great|good|well|okay|ok|right)\s+(?:mentally|emotionally)\b|\bmy\s+sadness\b|\b(?:fighting|battling)\s+(?:the|this|my)\s+(?:sadness|darkness)\b"
        r"|\bi\s+(?:just\s+)?(?:don'?t|do\s+not)\s+feel\s+(?:okay|ok|right|like\s+myself)\s+(?:any\s?more|mentally|inside)\b"
        "|" + _CUE_LINE.format(r"miserable")),
        self_marked=True, hyperbole=True, cue=1.0),
)
RULES = RULES + CUES

# Literal substrings, one of which every match of a rule must contain: a rule whose keys are all absent
# from the text is skipped (``k in text`` is far cheaper than a regex scan). A test runs every fixture
# with and without this shortcut and requires the same result.
_PILL_KEYS = ("pill", "tablet", "meds", "medica", "medicine", "painkiller", "paracetamol", "tylenol", "acetaminophen", "ibuprofen",
              "insulin", "xanax", "benadryl", "antidepressant")
_MEANS_KEYS = _PILL_KEYS + ("rope", "noose", "gun", "pistol", "rifle", "razor", "blade", "knife", "ammo",
                            "charcoal", "bleach", "poison", "helium")
_SUICIDE_KEYS = ("uic", "ucid", "ucd", "iic", "slide", "delet")  # every spelling SUICIDE allows
RULE_KEYS: dict[str, tuple[str, ...]] = {
    "wish_dead.want_to_die": ("di", "dead"),  # "di" covers "any time I can die" too
    "wish_dead.wish_i_was_dead": ("wish",),
    "wish_dead.not_wake_up": ("wake", "sleep"),
    "wish_dead.dont_want_to_live": ("wan", "wish"),
    "wish_dead.better_off_dead": ("better off",),
    "wish_dead.disappear": ("wan", "need"),
    "wish_dead.rather_die": ("rather", "prefer"),
    "wish_dead.want_it_to_stop": ("wan", "wish", "need"),
    "wish_dead.should_be_dead": ("i'd", "should", "'d", "would", "deserve", "meant", "feel", "wish", "hop", "pray", "see", "imagine"),
    "wish_dead.thinking_of_death": ("dying", "death", "dead", "not being", "not existing"),
    "wish_dead.passively_suicidal": ("passive",),
    "wish_dead.indirect": ("living", "keep", "around", "plan", "desire", "will", "wish", "motivation", "care", "afford", "death", "time to", "out", "done", "live", "exist", "here", "alive", "going", "go on", "wake", "survive", "life", "forever", "see", "imagine", "picture", "last"),
    "hopelessness.give_up": ("life is", "energy", "nothing left", "give", "gave", "giving", "will", "desire", "motivation", "reason", "strength", "hope", "never going", "any", "use", "future", "longer", "done"),
    "hopelessness.trapped": ("escape", "trapped", "stuck", "escape", "way out"),
    "distress.emotional_pain": ("i", "feel", "cr", "heart", "mental"),
    "distress.reaching_out": ("need", "talk", "chat", "listen", "there", "help"),
    "hopelessness.no_reason_to_live": ("keep", "reason", "point", "purpose", "will", "live"),
    "hopelessness.not_worth_living": ("worth", "point", "why"),
    "hopelessness.cant_go_on": ("fed up", "can", "give", "gave", "given", "tired", "sick", "exhausted", "weary", "done", "know how"),
    "hopelessness.hopeless": ("hope", "future", "better", "way out"),
    "hopelessness.meaningless": ("life", "living", "existence", "it all", "point"),  # "hard to see the point" has "point"
    "hopelessness.worthless": ("worthless", "unlovable", "pathetic", "failure", "waste", "hate", "loathe", "despise"),
    "isolation.nobody_cares": ("one", "body", "alone", "lonely"),
    "distress.depressed": ("depress", "suicidal", "numb", "empty", "dead inside", "broken", "pain", "miserable", "fuck my life", "fml"),
    "burden.better_off_without_me": ("my death", "suicide", "absence", "being gone", "everyone", "have to", "easier", "without me", "better", "miss", "notice", "care", "happier", "favo", "picture", "situation", "way", "bring", "cause"),
    "burden.i_am_a_burden": ("burden", "waste of", "easier", "better", "root", "cause", "source", "ruining"),
    "active_ideation.kill_myself": ("yeet", "death", "mouth", "commit", "self", "kms", "mysl", "mysef", "myseld", "unaliv", "delet", "head", "brain", "trigger", "ended", "killed", "went through", "dead"),
    "active_ideation.end_my_life": ("end", "take", "taking", "way out"),
    "active_ideation.held_back": ("too", "holding", "keeping", "only", "plan", "weak", "one", "courage", "guts", "balls", "bravery", "nerve", "too ", "be here", "be around", "be alive"),
    "active_ideation.suicidal": ("dal", "dial"),
    "active_ideation.suicide": _SUICIDE_KEYS,
    "mention.suicide": _SUICIDE_KEYS + ("dal", "dial"),
    "method.query": ("painless", "take", "overdos", "od", "hanging", "drowning", "bleeding", "jumping", "slitting", "how", "lethal", "fatal", "deadly", "way", "method", "enough", "would", "easiest", "quickest", "best", "fastest", "painless", "surest", "oneself"),
    "intent.going_to": ("going", "gonna", "about to", "ready to", "planning", "doing it", "decided", "dead", "will", "'ll", "last", "final", "note", "goodbye", "close to", "plan to"),
    "intent.do_it": ("going", "gonna", "will", "'ll", "plan to"),
    "plan.plan": ("plan",),
    "plan.note": ("note", "letter", "video", "message"),
    "plan.note_written": ("note", "letter"),  # given, sent, written, being written
    "plan.note_left": ("note", "letter"),
    "plan.giving_away": ("giv", "gave", "goodbye", "will", "bye", "farewell", "sorry", "date", "my ", "trigger", "the day i", "the night i"),
    "plan.timing": ("tonight", "tomorrow", "weekend", "birthday", "in ", "asleep", "before", "after"),
    "plan.access_to_means": _MEANS_KEYS,
    "intent.do_it_euphemism": ("do it", "with it", "impending", "upcoming", "approaching"),
    "preparatory.arrangements": ("before i", "bags", "plastic", "tarp", "towels", "find", "see", "smelly", "messy", "a mess"),
    "preparatory.stockpiling": _PILL_KEYS + ("noose",),
    "method.mention": _MEANS_KEYS + ("overdos", "oding", "od'ing", "hang", "jump", "train track", "front of", "wrist", "carbon", "drown", "bridge", "building"),
    "attempt.in_progress": _PILL_KEYS + ("bottle", "overdos", "all of", "took", "taken", "swallowed", "downed", "ingested", "od", "kicking in",
                                        "starting to work", "working now", "edge", "ledge", "bridge", "roof", "tracks", "cliff", "bleeding",
                                        "deep", "doing it", "do it", "time", "neck"),
    "attempt.doing_it_now": ("doing it", "do it"),
    "attempt.past": ("tried", "attempt", "try", "overdos", "od"),
    "self_injury.self_harm": ("self", "sh", "relaps"),
    "self_injury.hurt_myself": ("impulse", "cut", "cutting", "self", "cut", "slash", "carv", "slit", "burn", "scar", "wound", "urge"),
    "intent.farewell": ("lasted", "goodbye", "good bye", "goodbyes", "lost", "coming", "see"),
    "concern.other_ideation": ("kill", "hurt", "harm", "life"),
    "coded.asking_for_a_friend": ("for a",),
    "cue.self_contempt": ("loser", "pathetic", "disgust", "ugly", "piece", "disappoint", "fuck", "screw", "good", "hideous", "unwanted",
                          "defective", "hate", "hatred", "loath", "despise", "stand", "anything", "ruin", "mess", "destroy", "wreck", "deserve", "down"),
    "cue.emptiness": ("numb", "empt", "hollow", "dead", "shell", "zombie", "robot", "ghost", "nothing", "feel", "enjoy", "interest", "joy",
                      "pleasure", "passion"),
    "cue.exhaustion": ("tired", "exhaust", "drain", "worn", "burn", "weary", "energy", "motivation", "bed", "sleep", "cry"),
    "cue.isolation": ("friend", "support", "cares", "social", "alone", "lonel", "isolat", "invisible", "unloved", "unwanted", "forgotten",
                      "abandon", "left", "outsider", "outcast", "understands", "listens", "there", "notices", "likes", "talks", "checks",
                      "belong", "fit", "hate", "ignores", "leaves", "avoids", "care", "love", "want"),
    "cue.crying": ("cry", "cried", "sob", "weep", "wept", "tears"),
    "cue.overwhelm": ("much", "hard", "unbearable", "overwhelm", "drown", "suffocat", "crumbl", "limit", "rope", "tether", "barely", "cope",
                      "handle", "deal", "mind"),
    "cue.futility": ("bother", "try", "matters", "helps", "works", "enough", "defeated", "helpless", "powerless", "lost", "nowhere", "mess",
                     "disaster", "wreck", "failure", "shit", "crap", "garbage", "sucks", "pointless", "meaningless", "hopeless", "here",
                     "alive", "future", "harder", "worse"),
    "cue.illness": ("depress", "bipolar", "ptsd", "bpd", "borderline", "mental", "eating", "anorexi", "bulimi", "panic", "psychiatr"),
    "cue.fear": ("scared", "terrified", "desperate", "frightened", "help", "know", "trust"),
    "cue.pain": ("hurt", "suffering", "pain", "anguish", "torment", "agony", "hell"),
    "cue.low_mood": ("place", "headspace", "mental", "sadness", "darkness", "ok", "right", "myself", "miserable"),
}
assert set(RULE_KEYS) == {r.id for r in RULES}, "every rule needs its keys"
_CONTEXT_RULES = tuple(r for r in RULES if r.needs in ("ideation", "risk", "same_sentence_ideation", "mutual"))
# Evidence that counts when found together although each piece alone would not: an intention in
# euphemism ("I'm going to do it tonight") beside a preparation (a note, things given away, goodbyes).
# Neither names death, so neither is ideation, but together they are the classic picture of a plan.
MUTUAL_INTENT = frozenset({"intent.do_it", "intent.do_it_euphemism"})
MUTUAL_PREP = frozenset({"plan.note_written", "plan.note_left", "plan.giving_away", "plan.access_to_means",
                         "preparatory.arrangements"})
_DIRECT_RULES = tuple(r for r in RULES if r not in _CONTEXT_RULES and not r.cue)


# --- one pass to learn which keys are in a text ---------------------------------------------------
# Every rule key and every part's required literal of 3 or more characters goes into one trie-shaped
# regular expression, matched (as a lookahead) at every position: at each position it captures the
# longest literal that starts there. Any literal that occurs at a position is a prefix of the one
# captured there (both start at that position), so "L is in the text" is exactly "some captured
# literal starts with L": a set test in C instead of dozens of substring scans per text. Shorter keys
# ("od", "i") are still tested with ``in``. A test compares this with plain substring tests.

def _trie_pattern(words: set[str]) -> str:
    root: dict = {}
    for w in words:
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        kids = sorted((ch, sub) for ch, sub in node.items() if ch)
        if not kids:
            return ""
        alts = [re.escape(ch) + emit(sub) for ch, sub in kids]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return "(?:" + body + ")?" if "" in node else body  # greedy: the longer literal first

    return emit(root)


_TRIE_MIN = 3
_TRIE_LITS = frozenset(k for keys in RULE_KEYS.values() for k in keys if len(k) >= _TRIE_MIN) | frozenset(
    lit for r in RULES for _rx, _b, lits in r.pattern.parts
    for req in [lits] + _required_literal(_rx.pattern, cap=64, every=True) for lit in req if len(lit) >= _TRIE_MIN)
_LIT_RX = re.compile("(?=(" + _trie_pattern(set(_TRIE_LITS)) + "))")


# Every requirement (a rule's keys; each string set that every match of a part contains) gets one bit.
# A text's satisfied requirements are one integer (from the literals the trie pass captured, and ``in``
# tests for the few short ones); a rule or part is skipped when it needs a bit the text lacks.
_REQUIRE_CAP = 64  # a requirement of up to this many strings is still one bit
_REQ_BITS: dict[tuple[str, ...], int] = {}


def _need(*requirements: tuple[str, ...]) -> int:
    """The bit mask of ``requirements`` (each: one of these strings must be in the text)."""
    mask = 0
    for req in requirements:
        if req:
            mask |= _REQ_BITS.setdefault(tuple(sorted(set(req))), 1 << len(_REQ_BITS))
    return mask


for _rule in RULES:
    _rule.pattern.need = [_need(lits, *_required_literal(_rx.pattern, cap=_REQUIRE_CAP, every=True))
                          for _rx, _b, lits in _rule.pattern.parts]
    _rule.pattern.prepare()
_KEY_NEED = {rid: _need(keys) for rid, keys in RULE_KEYS.items()}
# For each captured literal, the requirements it satisfies (it starts with one of their strings).
_LIT_SATISFIES = {m: sum(bit for req, bit in _REQ_BITS.items() if any(m.startswith(x) for x in req if len(x) >= _TRIE_MIN))
                  for m in _TRIE_LITS}
_SHORT_REQS = tuple((bit, tuple(x for x in req if len(x) < _TRIE_MIN)) for req, bit in _REQ_BITS.items()
                    if any(len(x) < _TRIE_MIN for x in req))
_DIRECT_KEYED = tuple((r, _KEY_NEED[r.id]) for r in _DIRECT_RULES)
_CONTEXT_KEYED = tuple((r, _KEY_NEED[r.id]) for r in _CONTEXT_RULES)
_CUE_KEYED = tuple((r, _KEY_NEED[r.id]) for r in CUES)


class _Presence:
    """Which requirements a text satisfies, from one pass of ``_LIT_RX``: ``missing`` has a bit set
    for each one it does not."""

    __slots__ = ("missing",)

    def __init__(self, text: str):
        sat = 0
        for m in set(_LIT_RX.findall(text)):
            sat |= _LIT_SATISFIES[m]
        for bit, short in _SHORT_REQS:
            if not sat & bit and any(map(text.__contains__, short)):
                sat |= bit
        self.missing = ~sat


_SENT_END = re.compile(r"[.!?\n]+|\s-\s")
_CLAUSE_END = re.compile(r"[.!?\n;:,]+|\s-\s|\bbut\b|\bhowever\b|\bthough\b|\balthough\b")
_NEG_BEFORE = re.compile(
    r"(?:\b(?:not|never|no\s+longer|nor|no\s+way\s+i'?d|wouldn'?t\s+ever)|n't|\b(?:dont|didnt|wont|cant|wouldnt|isnt|arent|wasnt|havent|hasnt|shouldnt|doesnt|aint))\s+"
    r"(?:(?:really|even|ever|actually|honestly|truly|seriously|necessarily|want|wanna|going|gonna|plan|planning|intend|intending|to|be|been|being|have|had|feel|feeling|felt|think|thinking|thought|of|about|am|i|i'?m|a|so|that|considering|wish|do|anything|like|currently|try|trying|would|will)\s+){0,4}$"
)
# "trying not to", "fighting not to", "hard not to": a struggle against the urge, so the match counts.
_STRUGGLE = re.compile(r"\b(?:try|trying|tried|struggl\w*|fight|fighting|hard|hardest|best|effort)\s+(?:so\s+hard\s+|really\s+hard\s+)?not\s+to\s+(?:just\s+)?$|\bregret\s+not\s+$|\breasons?\s+not\s+to\s+$|\breasons?\s+(?:why\s+)?i\s+(?:shouldn'?t|should\s+not)\s+(?:just\s+)?$")
# "... the suicidal thoughts I've been having": the writer's own, whoever the sentence began with.
_OWN_AFTER = re.compile(r"\s+(?:(?:thoughts?|feelings?|urges?|ideation|ideas?)\s+)?(?:that\s+)?(?:i'?ve|i\s+have|i'?m|i\s+am|i\s+had|i\s+get|i\s+keep|i'?d)\s+(?:\w+\s+){0,2}?(?:having|had|been|getting|get|feeling|felt|keep)\b")
_RESOLVED_AFTER = re.compile(r"[^.!?\n]{0,80}?\b(?:but\s+)?(?:not\s+any\s?more|no\s+longer|not\s+now|anymore\s+(?:though|thankfully)|i'?m\s+(?:better|doing\s+better|okay|ok|fine|safe)\s+now|glad\s+i'?m\s+(?:still\s+)?(?:here|alive))\b")
_PAST_BEFORE = re.compile(r"\b(?:used\s+to|years\s+ago|months\s+ago|when\s+i\s+was\s+(?:younger|little|\d+|a\s+(?:kid|child|teen|teenager)|in\s+(?:high\s+school|school|college|my\s+teens))|as\s+a\s+(?:kid|child|teen|teenager)|back\s+in\s+(?:high\s+school|school|college|\d{4})|in\s+the\s+past|once\s+upon)\b")
_PAST_AFTER = re.compile(r"[^.!?\n]{0,40}?\b(?:years\s+ago|months\s+ago|when\s+i\s+was\s+(?:younger|little|\d+|a\s+(?:kid|child|teen|teenager))|at\s+(?:age\s+)?\d+\b|as\s+a\s+(?:kid|teen|teenager)|back\s+in\s+\d{4}|in\s+the\s+past)\b")
_RECENT = re.compile(r"\b(?:last\s+night|yesterday|today|this\s+morning|earlier|last\s+week|few\s+days\s+ago|couple\s+(?:of\s+)?days\s+ago|this\s+week|just\s+now|an?\s+hour\s+ago|tonight)\b")
_REPORT_VERB = re.compile(
    rf"(?:^|[^\w'])({THIRD_PARTY})\s+(?:just\s+|then\s+|also\s+|once\s+|has\s+|have\s+|had\s+|always\s+|keeps?\s+|was\s+|were\s+)?(?:said|says|saying|told|tells|texted|texts|wrote|writes|posted|posts|messaged|admitted|confessed|mentioned|screamed|yelled|shouted|joked|sang|sings|tweeted|claimed|claims)\b")
_SUBJECT = re.compile(
    rf"(?:^|[^\w'])(i|i'm|im|i've|ive|i'd|i'll|me|my|myself|mine|we|{THIRD_PARTY})(?![\w'])")
_OBJECT_BEFORE = re.compile(r"\b(?:to|with|about|for|at|from|of|than|like|tell|told|ask|asked|call|called|text|texted|"
                            r"help|helped|without|by|on|need|want|miss|love|hate|lost|losing)\s+$")
_NOT_SUBJECT = {"and", "then", "but", "so", "or", "just", "also", "that", "who", "which", "what", "it", "this", "you", "u", "was", "were", "have", "has", "had", "ever", "never", "always", "once"}
_FIRST = {"i", "i'm", "im", "i've", "ive", "i'd", "i'll", "me", "my", "myself", "mine", "we"}
_QUOTE_FRAME = re.compile(r"\b(?:song|songs|lyric|lyrics|sings?|sang|singing|album|track|chorus|verse|rapper|band|film|movie|show|episode|book|novel|poem|character|quote|quoted|meme|line|says|said|told|wrote|tweet\w*)\b|\u266a")
_LAUGH = re.compile(r"\b(?:lol+|lmf?ao+|rofl|ha(?:ha)+h?|hehe+|jk|jkjk|xd|skull)\b|/s\b")
_IDIOM = re.compile(r"killing\s+myself\s+(?:at|with|over|for|trying|to\s+(?:get|make|finish|meet|keep|pay)|working|studying)|kill\s+myself\s+(?:laughing|working|studying)|(?:cut|hurt|burn\w*)\s+myself\s+(?:shaving|cooking|at\s+work)")

IDEATION = {"mention", "wish_dead", "active_ideation", "intent", "plan", "method", "attempt", "attempt_now", "preparatory", "means"}
RISK = IDEATION | {"hopelessness", "burden", "isolation", "self_injury", "distress", "cumulative_distress"}


_CLAUSE_PUNCT = re.compile(r"[.!?\n;:,]+|\s-\s")
_CLAUSE_WORD = re.compile(r"(?:but|however|though|although)\b")


def _clause_cuts(text: str) -> list[tuple[int, int]]:
    """The matches of ``_CLAUSE_END``, found faster: its leading ``\\b`` keeps the regex engine from
    skipping ahead, so punctuation and the words are found apart and merged (they never overlap)."""
    cuts = [m.span() for m in _CLAUSE_PUNCT.finditer(text)]
    words = [m.span() for m in _CLAUSE_WORD.finditer(text)
             if m.start() == 0 or not (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_")]
    if words:
        cuts = sorted(cuts + words)
    return cuts


def _bounds(text: str, start: int, end: int, pattern: re.Pattern, cache: dict) -> tuple[int, int]:
    """The sentence (or clause) around [start, end): the nearest boundary before and after."""
    key = pattern.pattern
    if key not in cache:
        if pattern is _CLAUSE_END:
            spans = _clause_cuts(text)
        else:
            spans = [m.span() for m in pattern.finditer(text)]
        cache[key] = ([a for a, _ in spans], [b for _, b in spans])
    cuts_start, cuts_end = cache[key]
    i = bisect.bisect_right(cuts_end, start) - 1
    left = cuts_end[i] if i >= 0 else 0
    j = bisect.bisect_left(cuts_start, end)
    right = cuts_start[j] if j < len(cuts_start) else len(text)
    return left, right


def _in_quotes(text: str, start: int, sent_left: int) -> bool:
    para = text.rfind("\n", 0, start) + 1
    return text.count('"', para, start) % 2 == 1


def _status(rule: Rule, t: str, s: int, e: int, cache: dict) -> str:
    """Why a match counts or not: counted, past, negated, reported, quoted, idiom, resolved."""
    sl, sr = _bounds(t, s, e, _SENT_END, cache)
    cl, _cr = _bounds(t, s, e, _CLAUSE_END, cache)
    before_clause = t[cl:s]
    sentence_before = t[sl:s]
    sentence = t[sl:sr]
    # quoted: lyrics, films, someone else's words in quotation marks, or a line marked as a song
    if "\u266a" in sentence or (_in_quotes(t, s, sl) and _QUOTE_FRAME.search(t[max(0, sl - 80):sr])):
        return "quoted"
    if _IDIOM.search(t, max(0, s - 5), min(len(t), e + 40)):
        return "idiom"
    if rule.hyperbole and _LAUGH.search(sentence):
        return "idiom"
    if _NEG_BEFORE.search(before_clause[-80:]) and not _STRUGGLE.search(before_clause[-60:]):
        return "negated"
    # reported speech: "she said ...", "my friend told me ..."
    own = _OWN_AFTER.match(t, e) is not None
    for m in ([] if own else _REPORT_VERB.finditer(sentence_before)):
        if m.group(1) not in _FIRST and m.group(1) not in _NOT_SUBJECT:
            return "reported"
    if not rule.self_marked and not own:
        subj = None
        window = before_clause[-120:]
        for m in _SUBJECT.finditer(window):
            if m.group(1) not in _FIRST and _OBJECT_BEFORE.search(window, max(0, m.start(1) - 16), m.start(1)):
                continue  # an object, not the subject: "talk to someone about it", "I told her"
            subj = m.group(1)
        if subj is not None and subj not in _FIRST:
            return "reported"
    if _RESOLVED_AFTER.match(t, e) and (_PAST_BEFORE.search(sentence_before) or "used" in sentence_before or "wanted" in t[s:e] or "was" in sentence_before or "felt" in sentence_before):
        return "resolved"
    if _PAST_BEFORE.search(sentence_before) or _PAST_AFTER.match(t, e):
        return "past"
    return "counted"


_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|i'll|me|my|myself)\b")


def _first_person_sentence(t: str, s: int, e: int, cache: dict) -> bool:
    sl, sr = _bounds(t, s, e, _SENT_END, cache)
    return _FIRST_PERSON.search(t, max(0, sl - 60), min(len(t), sr + 60)) is not None


def _sentence_id(t: str, pos: int, cache: dict) -> int:
    if "sent" not in cache:
        cache["sent"] = [m.end() for m in _SENT_END.finditer(t)]
    return bisect.bisect_right(cache["sent"], pos)


def triage(text: str, classifier=None, _use_keys: bool = True) -> TriageResult:
    """The risk tier of a post with the evidence that produced it (see the module docstring).

    ``classifier`` (optional) is a ``llumi.safety.classifier.RiskClassifier``; its tier is combined with
    the rules' by taking the higher one, and recorded as a signal with rule id ``learned.classifier``.
    """
    if not isinstance(text, str):
        from llumi.errors import InputError

        raise InputError(f"triage expects text, got {type(text).__name__}")
    norm = normalize(text)
    t = norm.text
    cache: dict = {}
    found: list[tuple[Rule, int, int, str]] = []
    friend = False
    present = _Presence(t) if _use_keys else None

    for rule, need in _DIRECT_KEYED:
        # Skip the rule when none of its keys is in the text (a match always contains one).
        if present is not None and need & present.missing:
            continue
        for s, e in rule.pattern.spans(t, windows=_use_keys, present=present):
            friend = friend or rule.needs == "friend"
            found.append((rule, s, e, None if rule.needs else _status(rule, t, s, e, cache)))
    # The cumulative cue's weak cues are read only when no rule above raised the post (nothing counted,
    # nothing reported: someone else's risk already makes it low).
    if not any(not r.needs and st in ("counted", "past", "reported") for r, s, e, st in found):
        needed = _cue_threshold(len(t))
        cue_rules = CUES
        if present is not None:  # only the kinds that can match at all (integer tests), if they could add up
            missing = present.missing
            cue_rules = [r for r, need in _CUE_KEYED
                         if not need & missing and any(not n & missing for n in r.pattern.need)]
        if sum(r.cue for r in cue_rules) >= needed:
            cue_spans = [(r, s, e) for r in cue_rules for s, e in r.pattern.spans(t, windows=_use_keys, present=present)]
            # Judged (negation, reported speech, ...) only when the cues found could reach the threshold.
            if sum({r.id: r.cue for r, s, e in cue_spans}.values()) >= needed:
                found += [(r, s, e, _status(r, t, s, e, cache)) for r, s, e in cue_spans]
    # Rules that count only beside ideation or risk are scanned only when that context exists.
    kinds = {r.signal for r, s, e, st in found
             if not r.needs and not r.cue and (st in ("counted", "past") or (st == "reported" and friend))}
    if _cumulative([(r, st) for r, s, e, st in found if r.cue], len(t)):
        kinds.add("cumulative_distress")
    context_ok = {"ideation": bool(kinds & (IDEATION - {"method", "means"})), "risk": bool(kinds & RISK),
                  "same_sentence_ideation": bool(kinds & {"active_ideation", "intent"})}
    context_ok["mutual"] = False
    # A preparation that otherwise needs ideation (means in hand, arrangements for being found) is read
    # without it only as the other half of a euphemistic intention, so only once one was found.
    deferred = []
    for rule, need in _CONTEXT_KEYED:
        if not (context_ok[rule.needs] or rule.id in MUTUAL_INTENT or rule.id in MUTUAL_PREP):
            continue
        if not context_ok[rule.needs] and rule.needs == "ideation" and rule.id in MUTUAL_PREP:
            deferred.append((rule, need))
            continue
        _scan_into(found, rule, need, t, present)
    if deferred and any(r.id in MUTUAL_INTENT for r, *_ in found):
        for rule, need in deferred:
            _scan_into(found, rule, need, t, present)
    result = _combine(norm, found, cache)
    if classifier is not None:
        learned = classifier.predict_tier([text])[0]
        if RANK[learned] > 0:
            sig = Signal("learned.classifier", "learned", learned, 0, len(text), text[:200], "counted")
            signals = result.signals + (sig,)
            result = TriageResult(max_tier([result.tier, learned]), signals, result.discounted, result.context)
    return result


def _scan_into(found: list, rule: Rule, need: int, t: str, present: "_Presence | None") -> None:
    """Add a context rule's matches to ``found`` (their status is judged in ``_combine``); ``present``
    is None when the key shortcut is off (then no windows either)."""
    if present is not None and need & present.missing:
        return
    for s, e in rule.pattern.spans(t, windows=present is not None, present=present):
        found.append((rule, s, e, None))


def _combine(norm: Normalized, found: list[tuple[Rule, int, int, str]], cache: dict) -> TriageResult:
    t = norm.text

    def sig(rule: Rule, s: int, e: int, status: str, tier: str | None = None, rule_id: str | None = None) -> Signal:
        a, b = norm.span(s, e)
        return Signal(rule_id or rule.id, rule.signal, tier or rule.tier, a, b, norm.original[a:b], status)

    friend = any(r.needs == "friend" for r, *_ in found)
    signals: list[Signal] = []
    context: list[Signal] = []
    discounted: list[Signal] = []

    def add(rule: Rule, s: int, e: int, status: str) -> None:
        if status == "reported" and friend:
            status = "counted"
        if status not in ("counted", "past"):
            discounted.append(sig(rule, s, e, status))
            return
        tier, rule_id = rule.tier, rule.id
        if rule.id == "attempt.past" and status != "past":
            sl, sr = _bounds(t, s, e, _SENT_END, cache)
            if _RECENT.search(t, sl, sr):
                tier, rule_id = "high", "attempt.recent"
        if status == "past":
            tier = "low"
        signals.append(sig(rule, s, e, status, tier, rule_id))

    # Direct rules first; rules that need a context are judged (and their status computed) afterwards.
    for rule, s, e, status in found:
        if not rule.needs and not rule.cue:
            add(rule, s, e, status)
    # The cumulative cue: every cue that counted is evidence when together they reach the threshold;
    # below it they are kept as context. Cues that do not count in the writer's own voice (negated,
    # reported, quoted, past) are discounted and never make a third-party concern.
    cues = [(rule, s, e, status) for rule, s, e, status in found if rule.cue]
    if cues:
        met = _cumulative([(r, st) for r, s, e, st in cues], len(t))
        for rule, s, e, status in cues:
            while s < e and t[s].isspace():  # a line cue's match begins with its line break
                s += 1
            if status != "counted":
                discounted.append(sig(rule, s, e, status))
            elif met:
                signals.append(sig(rule, s, e, status))
            else:
                context.append(sig(rule, s, e, "context", "none"))
    kinds = {x.signal for x in signals}
    ideation = bool(kinds & (IDEATION - {"method", "means"}))
    risk = bool(kinds & RISK)
    ideation_sentences = {_sentence_id(t, x.start if norm.offsets is None else _norm_pos(norm, x.start), cache)
                          for x in signals if x.signal in ("active_ideation", "intent")}
    mutual_ids = {r.id for r, s, e, _ in found if (r.id in MUTUAL_INTENT or r.id in MUTUAL_PREP)
                  and _status(r, t, s, e, cache) in ("counted", "past")}
    mutual = bool(mutual_ids & MUTUAL_INTENT) and bool(mutual_ids & MUTUAL_PREP)
    for rule, s, e, _ in found:
        if not rule.needs or rule.needs == "friend":
            continue
        ok = {
            "ideation": ideation,
            "risk": risk,
            "same_sentence_ideation": _sentence_id(t, s, cache) in ideation_sentences,
            "first_person_sentence": _first_person_sentence(t, s, e, cache),
            "mutual": False,
        }[rule.needs] or (mutual and rule.id in mutual_ids)
        if ok:
            add(rule, s, e, _status(rule, t, s, e, cache))
        else:
            context.append(sig(rule, s, e, "context", "none"))
    if friend:
        fr = next((r, s, e) for r, s, e, _ in found if r.needs == "friend")
        if signals or discounted:
            signals.append(sig(fr[0], fr[1], fr[2], "counted"))
        else:
            context.append(sig(fr[0], fr[1], fr[2], "context", "none"))
    # Someone else at risk ("my girlfriend says she wants to kill herself"): the writer's own risk is not
    # raised by it, but the post is a risk situation for the supporter, so it is low at least, with
    # its own signal (the guidance card then speaks to a worried helper).
    reported = [x for x in discounted if x.status == "reported" and x.signal != "cumulative_distress"]
    if reported and not any(x.signal == "third_party" for x in signals):
        first = min(reported, key=lambda x: x.start)
        signals.append(Signal("concern.third_party", "third_party", "low", first.start, first.end, first.evidence))
    signals = _dedupe(signals)
    tier = max_tier(s.tier for s in signals)
    return TriageResult(tier, tuple(signals), tuple(_dedupe(discounted)), tuple(context))


def _cue_threshold(length: int) -> float:
    """The score the cumulative cue needs: 1 in a post of up to ``CUE_SHORT`` characters, else 2."""
    return 1.0 if length <= CUE_SHORT else CUE_LONG_SCORE


def _cumulative(cues: list[tuple[Rule, str]], length: int) -> bool:
    """Whether the counted cues reach the cumulative threshold: each kind once, at its weight."""
    weights: dict[str, float] = {}
    for rule, status in cues:
        if status == "counted":
            weights[rule.id] = rule.cue
    return sum(weights.values()) >= _cue_threshold(length)


def _norm_pos(norm: Normalized, original_pos: int) -> int:
    """The normalised position of an original character (first one at or after it)."""
    return bisect.bisect_left(norm.offsets, original_pos)


def _dedupe(signals: list[Signal]) -> list[Signal]:
    """Drop a signal whose span lies inside another one of the same kind and at least the same tier."""
    signals = sorted(signals, key=lambda x: (x.start, -x.end))
    out: list[Signal] = []
    for s in signals:
        if any(o.signal == s.signal and o.start <= s.start and s.end <= o.end and RANK[o.tier] >= RANK[s.tier] for o in out):
            continue
        out.append(s)
    return out
