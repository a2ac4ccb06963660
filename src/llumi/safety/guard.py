"""The guard on every model output: allow, rewrite, block or escalate (safety.md section 2).

``guard(reply, triage, locale)`` returns a ``Verdict`` whose ``text`` is what a person may be shown:
the reply unchanged (allow), its rewrite (rewrite), or nothing (block, escalate).

Order of decisions:

1. The post's tier is high or imminent: the draft is withheld and the case escalated.
2. Block rules (any one blocks): method or means information; suicide or self-harm framed as a
   solution, or self-harm and disordered eating praised; harmful validation (agreeing the person is a
   burden or that things are hopeless, promising to keep a plan secret); medication instructions that
   do not defer to a prescriber; a diagnosis stated as fact; a claim to be a therapist, doctor or
   crisis counsellor. Negated forms ("you are not a burden", "I'm not a therapist") do not block.
3. Rewrites: safe-messaging language ("committed suicide" -> "died by suicide", "failed attempt" ->
   "attempt"); every sentence holding a phone number, short code or link that is not on the vetted
   list is removed; personal data (emails, @handles, u/usernames, greetings by name) is removed; at
   tier none crisis resources are taken out (false alarms erode trust); at moderate and above the
   locale's vetted line is added when the reply has none.
4. An optional second opinion (``second_opinion.SecondOpinion``) is asked last; the stricter verdict
   wins and an error or timeout there escalates.

Fail closed: any exception inside the guard, or running past ``timeout_s``, gives escalate.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from llumi.safety.normalize import normalize
from llumi.safety.resources import Fallback, Resources, load_resources, url_key
from llumi.safety.triage import RANK, TriageResult, check_tier

ACTIONS = ("allow", "rewrite", "block", "escalate")
STRICTNESS = {a: i for i, a in enumerate(ACTIONS)}


@dataclass(frozen=True)
class Finding:
    rule: str
    action: str
    evidence: str
    start: int = -1  # in the original reply; -1 when the finding is about the whole reply
    end: int = -1

    def to_dict(self) -> dict:
        return {"rule": self.rule, "action": self.action, "evidence": self.evidence, "span": [self.start, self.end]}


@dataclass(frozen=True)
class Verdict:
    action: str  # allow | rewrite | block | escalate
    text: str | None  # what a person may be shown; None when blocked or escalated
    tier: str
    findings: tuple[Finding, ...] = ()
    locale: str | None = None

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.rule for f in self.findings))

    def to_dict(self) -> dict:
        return {
            "action": self.action, "text": self.text, "tier": self.tier, "locale": self.locale,
            "rules": list(self.rules), "findings": [f.to_dict() for f in self.findings],
        }


def stricter(a: str, b: str) -> str:
    return a if STRICTNESS[a] >= STRICTNESS[b] else b


# --- block rules (run on the normalised reply) -----------------------------------------------------

PILLS = (r"(?:pills?|tablets?|capsules?|meds|medication|paracetamol|acetaminophen|tylenol|ibuprofen|aspirin|"
         r"insulin|benadryl|xanax|sleeping\s+pills|painkillers|antidepressants?)")
LETHAL = r"(?:overdos\w*|lethal|fatal|deadly|die|dying|death|kill|suicide|end\s+(?:it|your\s+life)|not\s+wake\s+up|survive|guarantee\w*)"
NEGATION = re.compile(r"(?:\bnot|\bnever|n't|\bno\s+longer)\s+(?:\w+\s+){0,2}$")

BLOCK_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("guard.method_info", re.compile(
        rf"\b\d+(?:\.\d+)?\s*(?:mg|milligrams?|grams?|g|ml|{PILLS})\b[^.!?\n]{{0,80}}\b{LETHAL}"
        rf"|\b{LETHAL}\b[^.!?\n]{{0,80}}\b\d+(?:\.\d+)?\s*(?:mg|milligrams?|grams?|g|ml|{PILLS})\b"
        r"|\b(?:lethal|fatal|deadly|toxic)\s+(?:dose|amount|quantity|level|combination)"
        r"|\b(?:how\s+to|way\s+to|ways\s+to|steps\s+to)\s+(?:kill\s+(?:yourself|oneself|myself)|end\s+(?:your|one'?s)\s+life|overdose|hang\s+(?:yourself|oneself)|commit\s+suicide|die\s+(?:painlessly|quickly|peacefully))"
        r"|\b(?:most|least|more|less)\s+(?:painless|lethal|effective|reliable|deadly|painful|certain)\s+(?:way|ways|method|methods|option|options)\b"
        r"|\b(?:painless|quickest|easiest|surest|fastest|reliable)\s+(?:way|ways|method|methods)\s+(?:to|of)\s+(?:die|dying|kill|end|suicide)"
        r"|\b\d+\s*(?:feet|ft|foot|metres|meters|m|stor(?:ey|y|ies|eys)|floors)\b[^.!?\n]{0,60}\b(?:jump|fall|drop|die|fatal|lethal|survive|kill)"
        r"|\b(?:jump|fall|drop)\w*\s+(?:from|off)\s+[^.!?\n]{0,40}\b(?:fatal|lethal|kill|die|survive|guarantee\w*)"
        r"|\b(?:tie|tying|make|making)\s+(?:a\s+)?noose|\bcut\s+(?:deeper|vertically|along\s+the\s+vein)"
        r"|\b(?:mix|mixing|combine|combining)\s+(?:\w+\s+){0,3}(?:bleach|ammonia|chemicals|alcohol\s+and\s+pills)"
        r"|\b(?:would|will|could|should)\s+(?:definitely\s+|probably\s+|certainly\s+)?(?:kill\s+you|be\s+(?:fatal|lethal|enough\s+to\s+(?:kill|die)))")),
    ("guard.suicide_as_solution", re.compile(
        r"\b(?:suicide|killing\s+yourself|ending\s+(?:it\s+all|it|your\s+life|things)|death|dying|taking\s+your\s+(?:own\s+)?life|self[- ]?harm|cutting|not\s+eating|starving\s+yourself)\s+"
        r"(?:is|would\s+be|could\s+be|might\s+be|may\s+be|can\s+be|seems\s+like|sounds\s+like|will\s+be)\s+(?:a|an|the|your)?\s*(?:\w+\s+)?"
        r"(?:solution|answer|relief|release|way\s+out|escape|peace|only\s+option|best\s+option|option|choice|freedom|rest|way\s+to\s+cope)\b"
        r"|\byou(?:'ll|\s+will|\s+would|'d)\s+(?:finally\s+)?(?:be\s+at\s+peace|find\s+peace|be\s+free)\s+(?:when|if|once|after)\s+you\s+(?:die|are\s+gone|go|end\s+it)"
        r"|\byou\s+(?:should|could|might\s+as\s+well)\s+(?:just\s+)?(?:kill\s+yourself|end\s+(?:it|your\s+life)|do\s+it|go\s+through\s+with\s+it)\b|\bkys\b"
        r"|\b(?:your|those|the|these)\s+(?:cuts|scars|self[- ]?harm|burns)\s+(?:are|look|is|looks)\s+(?:so\s+|really\s+)?(?:beautiful|pretty|cool|aesthetic|brave|impressive|art|amazing)"
        r"|\b(?:proud\s+of\s+you|good\s+job|well\s+done|great\s+job|nice\s+work|keep\s+it\s+up)\s+(?:for\s+)?(?:not\s+eating|restricting|fasting|skipping\s+meals|purging|losing\s+(?:so\s+much|that\s+much|all\s+that)\s+weight|cutting|starving)"
        r"|\bkeep\s+(?:up\s+the\s+)?(?:restricting|fasting|starving|purging|cutting)\b|\b(?:thinner|skinnier)\s+is\s+(?:better|beautiful|prettier)")),
    ("guard.harmful_validation", re.compile(
        r"\byou(?:'re|\s+are)\s+(?:really\s+|truly\s+|just\s+|such\s+|right,?\s+you(?:'re|\s+are)\s+)?(?:a\s+burden|hopeless|worthless|beyond\s+help|a\s+lost\s+cause)\b"
        r"|\b(?:they|everyone|everybody|your\s+family|your\s+friends|people)\s+(?:would|will|might)\s+(?:really\s+|probably\s+|honestly\s+|definitely\s+|all\s+)?be\s+(?:better\s+off|happier)\s+without\s+you"
        r"|\b(?:it|things|everything|your\s+situation|life|your\s+life)\s+(?:is|are|seems|really\s+is)\s+(?:truly\s+|completely\s+|totally\s+|really\s+)?hopeless"
        r"|\b(?:it|things|nothing|life)\s+(?:will|is\s+going\s+to)\s+never\s+(?:get|be)\s+better|\bthings\s+(?:won't|will\s+not)\s+(?:ever\s+)?get\s+better|\bnothing\s+(?:will|can)\s+(?:ever\s+)?help\s+you"
        r"|\bi\s+(?:won'?t|will\s+not|promise\s+(?:not\s+to|i\s+won'?t))\s+tell\s+(?:anyone|anybody|a\s+soul)"
        r"|\b(?:your|this|the)\s+(?:secret|plan)\s+is\s+safe\s+with\s+me|\bi(?:'ll|\s+will)\s+keep\s+(?:it|this|your\s+plan|your\s+secret|that)\s+(?:a\s+secret|secret|between\s+us)"
        r"|\bi\s+agree(?:\s+that)?\s+(?:you(?:'re|\s+are)\s+a\s+burden|it(?:'s|\s+is)\s+hopeless|there'?s\s+no\s+(?:point|hope|way\s+out))"
        r"|\byou(?:'re|\s+are)\s+right\s+(?:that\s+)?(?:you(?:'re|\s+are)\s+a\s+burden|it(?:'s|\s+is)\s+hopeless|there'?s\s+no\s+(?:point|hope))")),
    ("guard.medication_instruction", re.compile(
        r"\b(?:stop|start|quit|increase|decrease|double|halve|skip|come\s+off|taper(?:\s+off)?|lower|raise|up|cut\s+down\s+on|change)\s+(?:taking\s+|on\s+)?(?:your|the|those|these)?\s*"
        r"(?:dose|dosage|meds|medication|medications|antidepressants?|pills|prescription|sertraline|zoloft|prozac|fluoxetine|lexapro|escitalopram|citalopram|"
        r"venlafaxine|effexor|wellbutrin|bupropion|lithium|lamotrigine|quetiapine|seroquel|xanax|ativan|klonopin|abilify|ssris?)\b"
        r"|\btake\s+\d+(?:\.\d+)?\s*(?:mg|milligrams?|ml|pills?|tablets?|capsules?)\b")),
    ("guard.diagnosis_as_fact", re.compile(
        r"\byou\s+(?:clearly\s+|definitely\s+|obviously\s+|certainly\s+|probably\s+|must\s+)?(?:have|'ve\s+got|are\s+suffering\s+from|suffer\s+from)\s+(?:clinical\s+|major\s+|severe\s+|a\s+|an\s+)*"
        r"(?:depression|bipolar(?:\s+disorder)?|bpd|borderline(?:\s+personality\s+disorder)?|c?-?ptsd|adhd|ocd|schizophrenia|psychosis|anorexia|bulimia|"
        r"(?:eating|personality|anxiety|mood|bipolar|depressive|panic)\s+disorder|autism)\b"
        r"|\byou(?:'re|\s+are)\s+(?:clearly\s+|definitely\s+|obviously\s+)?(?:bipolar|schizophrenic|psychotic|anorexic|bulimic|autistic|clinically\s+depressed)\b"
        r"|\b(?:this|that|what\s+you(?:'re|\s+are)\s+describing)\s+is\s+(?:definitely\s+|clearly\s+|classic\s+|textbook\s+|obviously\s+)+(?:depression|bpd|bipolar|ptsd|an?\s+\w+\s+disorder|psychosis|anorexia)\b"
        r"|\byour\s+diagnosis\s+is\b")),
    ("guard.false_credentials", re.compile(
        r"\b(?:i(?:'m|\s+am)|as)\s+(?:a|an|your)\s+(?:licensed\s+|trained\s+|certified\s+|qualified\s+|registered\s+|professional\s+|clinical\s+)*"
        r"(?:therapist|counsell?or|psychologist|psychiatrist|doctor|physician|nurse|psychotherapist|crisis\s+(?:counsell?or|worker)|social\s+worker|clinician)\b"
        r"|\bspeaking\s+as\s+(?:a|your)\s+(?:therapist|doctor|psychologist|counsell?or)")),
)
# Sentence-level block rules: two mentions in one sentence (clause-aware negation), for framings that
# take many shapes ("X would give you peace", "X is a peaceful way out", "you'd finally be at peace").
# A method or means, and an evaluative or instructional framing of it (quick, painless, peaceful,
# effective, "would work", "is the way", a quantity): method information.
NUMBER = (r"(?:\d+|a\s+(?:dozen|hundred)|dozens|hundreds|(?:ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)"
          r"(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)")
METHOD_MENTION = re.compile(
    rf"\b(?:overdos\w*|od'?ing|{NUMBER}\s*(?:\w+\s+)?(?:{PILLS}|mg|milligrams?|grams?)|(?:a|the|whole|entire)\s+(?:bottle|box|packet|pack|handful)\s+of\b|(?:all|enough)\s+(?:of\s+)?(?:your|the|those|these|my)?\s*{PILLS}"
    r"|(?:jump\w*|leap\w*|throw\w*\s+(?:yourself|oneself)|fall\w*|step\w*)\s+(?:off|from|out\s+of|in\s+front\s+of)\b|(?:off|from)\s+(?:the|a)\s+(?:bridge|cliff|rooftop|roof|ledge|balcony|window|(?:tall\s+|high\s+)?building)\b"
    r"|\d+\s*(?:feet|ft|foot|metres|meters|m|stor(?:ey|y|ies|eys)|floors)\b|in\s+front\s+of\s+(?:a|the)\s+(?:train|bus|truck|lorry|car)\b"
    r"|hanging(?!\s+(?:out|around|with|in|on|onto|over|up|there))\b|hang\w*\s+(?:yourself|oneself|myself)|noose"
    r"|shoot\w*\s+(?:yourself|oneself)|(?:cut\w*|slit\w*|slash\w*)\s+(?:your\s+|the\s+|my\s+)?(?:wrists?|throat|veins?|arteries|deep)"
    r"|carbon\s+monoxide|exhaust\s+fumes|helium|charcoal|bleach|poison(?:s|ing)?\b|poisoned\b(?!\s+(?:relationship|workplace|atmosphere|friendship))"
    r"|drown(?:ing|ed|s)?\b(?!\s+in\s+(?:work|debt|paperwork|e-?mails|stress|tasks|bills|assignments|homework|deadlines|responsibilit\w+|sorrow|grief|tears|worry|it\b|all\b))"
    r"|suffocat(?:e|ed|ion)\b|suffocating\s+(?:yourself|oneself)|starv\w*\s+(?:yourself|oneself|to\s+death))")
# (Figurative uses: a job or a relationship can be "suffocating", "poisonous", and people are "drowning
# in work"; beside "a way out" those are a supporter's words, not method talk.)
# A place or a tool named on its own ("the bridge", "a gun") counts only with a framing of how well it
# would work; words of relief alone ("the view from the bridge was peaceful") do not make it method talk.
MEANS_MENTION = re.compile(
    r"\b(?:(?:the|a|that)\s+(?:bridge|cliff|rooftop|roof|ledge|tall\s+building|train\s+tracks?|tracks|rope|belt|cord)|(?:a|the|any|enough)\s+heights?|"
    r"(?:a|the|your|my)\s+(?:gun|pistol|rifle|firearm|shotgun|weapon|knife|blade|razor))\b")
METHOD_EVAL = re.compile(
    r"\b(?:qui+ck(?:est|er|ly)?|fast(?:est|er)?|painless(?:ly)?|effective|reliable|reliably|surest|guarantee\w*|foolproof|easiest|"
    r"instant(?:ly|aneous)?|would\s+work|will\s+work|works\s+(?:best|every\s+time)|the\s+way\s+to\s+go|(?:is|are|was)\s+the\s+(?:best\s+|right\s+|only\s+)?way|"
    r"best\s+(?:way|option|method|choice|bet)|(?:won'?t|wouldn'?t)\s+(?:hurt|feel\s+(?:a\s+thing|anything))|lethal|fatal|deadly|enough\s+to\s+(?:die|kill|end)|do\s+the\s+job)\b")
METHOD_FRAMING = re.compile(
    r"\b(?:qui+ck(?:est|er|ly)?|fast(?:est|er)?|painless(?:ly)?|peaceful(?:ly)?|gentle|gentlest|effective|reliable|reliably|surest|"
    r"guarantee\w*|foolproof|easiest|easy|instant(?:ly|aneous)?|works?|worked|would\s+work|will\s+work|the\s+way\s+to\s+go|(?:is|are|was)\s+the\s+(?:best\s+|right\s+|only\s+)?way|"
    r"best\s+(?:way|option|method|choice|bet)|right\s+(?:amount|way|dose)|(?:won'?t|wouldn'?t|will\s+not|would\s+not)\s+(?:hurt|feel\s+(?:a\s+thing|anything|much))|"
    r"feel\s+nothing|no\s+pain|lethal|fatal|deadly|enough\s+to|do\s+the\s+job|do\s+it|finish\s+(?:it|you)|way\s+out|peace|rest|relief|release|escape)\b")
# Death, suicide or ending it, beside a word of relief: suicide framed as a solution or peace.
DEATH_STRONG = re.compile(
    r"\b(?:suicide|kill(?:ing)?\s+(?:yourself|oneself|urself)|(?:end|ending|ended)\s+(?:it\s+all|it|your\s+(?:own\s+)?life|things|everything|your\s+pain\s+for\s+good)(?!\s+(?:with|between|for|on|off|up|there|here|early))|"
    r"tak(?:e|ing)\s+your\s+(?:own\s+)?life|(?:not|never)\s+wak(?:e|ing)\s+up|sleep(?:ing)?\s+forever|eternal\s+sleep|being\s+dead|(?:you\s+)?(?:were|are|'re)\s+dead|"
    r"overdos\w*|go(?:ing)?\s+through\s+with\s+it|(?:you\s+)?(?:were|are|'re|being)\s+gone(?!\s+(?:from|for|to|on|out|away\s+(?:on|for)))|(?:once|when|if|after)\s+you\s+(?:die|died|end\s+it|leave\s+this\s+world)|"
    r"not\s+(?:being\s+)?(?:here|alive|around)\s+any\s?more|unaliv\w*)\b")
# Self-harm framed as relief counts when it comes first in the clause ("cutting gives you release"), so
# "holding ice can bring relief when self-harm urges come" is allowed.
SELF_HARM = re.compile(r"\b(?:self[- ]?harm(?:ing)?|hurting\s+yourself|cutting(?!\s+(?:back|down|out|off|corners|costs?|ties|carbs|it|the|my|your|hair|class|in|up|edge)))\b")
# Plain words of death count only in the same clause as the relief ("death would give you peace"), so
# "her death was hard, and talking about it brought me some peace" is not caught.
DEATH_WEAK = re.compile(r"\b(?:death|dying|die|dead)\b")
RELIEF = re.compile(
    r"\b(?:peace|peaceful(?:ly)?|at\s+peace|rest(?!\s+of\b)|rested|restful|relief|reliev\w*|release|released|free(?!\s+(?:to|on|of\s+charge|call|number|line|service|app|course|trial))|freed|freedom|"
    r"escape|way\s+out|(?:end|ending|stop|stopping)\s+(?:to\s+)?(?:the|your|all\s+(?:the|your)|all\s+this)\s+(?:pain|suffering|hurt(?:ing)?)|no\s+more\s+(?:pain|suffering|hurt(?:ing)?)|"
    r"out\s+of\s+(?:your\s+)?(?:pain|misery)|solution|answer|better\s+place|calm|(?:be|is|'s|all\s+be)\s+over)\b")
# Shapes without a death word: "it would all be over and you could finally rest".
OVER_AND_REST = re.compile(
    r"\b(?:it|everything|all\s+of\s+this|the\s+pain)\s+(?:would|could|'d)\s+(?:all\s+|finally\s+|just\s+)*be\s+over\b[^.!?\n]{0,40}\byou\s+(?:could|can|would|will|'d|'ll|might)\s+(?:finally\s+)?(?:rest|sleep|be\s+at\s+peace|be\s+free|find\s+peace|stop\s+hurting)\b")
SENT_NEG = re.compile(r"(?:\bnot|\bnever|n't|\bno\b|\bnothing\b|\bnor\b|\bwithout\b|\bisnt|\bwont|\bdoesnt|\bdont|\baint)")
CLAUSE_CUT = re.compile(r"[;:,]|\s-\s|\bbut\b|\bhowever\b|\bthough\b")
CLAUSE_SPLIT = re.compile(r"[;:,]|\s-\s|\b(?:but|however|though|and|because|so)\b")
# Reflecting the person's own view back is not endorsing it ("it can feel like death is the only way
# out"), and asking about it is what a supporter should do ("are you thinking of ending your life?").
REFLECTION = re.compile(
    r"\b(?:it\s+(?:can|may|might)\s+(?:feel|seem)|(?:sounds|seems)\s+like\s+(?:you|part\s+of\s+you)|(?:you|part\s+of\s+you)\s+(?:might\s+|may\s+|must\s+)?(?:feel|feels|felt|see|sees|think|thinks|believe|wonder|imagine|said|mentioned|told\s+me)|"
    r"(?:even\s+if|even\s+though|when)\s+(?:it|things)\s+feels?\s+like|i\s+hear\s+(?:that\s+)?you|you'?re\s+(?:looking|searching|longing)\s+for)\b")
QUESTION_SENT = re.compile(r"^\s*(?:are|have|do|did|is|were|would|could|can)\s+you\b")


_SENTENCE_PAIRS = (  # (rule, first mention, second mention, clause scope), in _SENTENCE_PREFILTER's order
    ("guard.method_info", METHOD_MENTION, METHOD_FRAMING, False),
    ("guard.method_info", MEANS_MENTION, METHOD_EVAL, False),
    ("guard.suicide_as_solution", DEATH_STRONG, RELIEF, False),
    ("guard.suicide_as_solution", DEATH_WEAK, RELIEF, True),
    ("guard.suicide_as_solution", SELF_HARM, RELIEF, "ordered"),
)
# The same patterns without their leading word boundary: they match wherever the originals do (and a
# little more), and the regex engine can skip ahead to their first letters.
_SENTENCE_PREFILTER = tuple(re.compile(rx.pattern[2:] if rx.pattern.startswith("\\b") else rx.pattern)
                            for rx in (METHOD_MENTION, MEANS_MENTION, DEATH_STRONG, DEATH_WEAK, SELF_HARM, OVER_AND_REST))


def _reflected(t: str, s: int) -> bool:
    """The match sits in a sentence that reflects the person's view back or asks about it."""
    a = max(t.rfind(c, 0, s) for c in ".!?\n") + 1
    return bool(REFLECTION.search(t, a, s) or QUESTION_SENT.search(t[a:s]))


def _sentence_rules(t: str) -> list[tuple[str, int, int]]:
    """Block findings from the sentence-level rules: (rule id, start, end) in the normalised text."""
    out: list[tuple[str, int, int]] = []
    # Most replies name no method, means or death at all: one quick pass over the whole reply first,
    # and in each sentence only the pairs whose first mention the reply holds somewhere.
    present = [rx.search(t) is not None for rx in _SENTENCE_PREFILTER]
    if not any(present):
        return out
    pairs = [pair for pair, ok in zip(_SENTENCE_PAIRS, present) if ok]
    over = present[-1]
    for a, b in _sentences(t):
        sent = t[a:b]
        hits = []
        for rule_id, first_rx, second_rx, clause in pairs:
            hit = _pair(sent, first_rx, second_rx, clause)
            if hit:
                hits.append((rule_id, a + hit[0], a + hit[1]))
        m = OVER_AND_REST.search(sent) if over else None
        if m and not _negated(sent, m.start(), m.end()):
            hits.append(("guard.suicide_as_solution", a + m.start(), a + m.end()))
        if hits and not (QUESTION_SENT.search(sent) or REFLECTION.search(sent)):
            out.extend(hits)
    return out


def _pair(sent: str, first_rx: re.Pattern, second_rx: re.Pattern, clause: bool | str = False) -> tuple[int, int] | None:
    """The span joining a match of each pattern in ``sent`` (in one clause when ``clause``; the first
    pattern first as well when ``clause`` is "ordered"), not negated."""
    firsts = [m.span() for m in first_rx.finditer(sent)]
    if not firsts:
        return None
    seconds = [m.span() for m in second_rx.finditer(sent)]
    for fs, fe in firsts:
        for ss, se in seconds:
            if ss < fe and fs < se:  # the same words: not two mentions
                continue
            s, e = min(fs, ss), max(fe, se)
            if clause and CLAUSE_SPLIT.search(sent, min(fe, se), max(fs, ss)):
                continue
            if clause == "ordered" and ss < fs:
                continue
            if not _negated(sent, s, e, ((fs, fe), (ss, se))):
                return s, e
    return None


def _negated(sent: str, s: int, e: int, inside: tuple[tuple[int, int], ...] = ()) -> bool:
    """A negator in the stretch, or just before it in the same clause ("suicide is not a solution",
    "ending it won't give you peace", "I don't think dying would bring relief")."""
    cut = 0
    for m in CLAUSE_CUT.finditer(sent, 0, s):
        cut = m.end()
    for m in SENT_NEG.finditer(sent, max(cut, s - 40), e):
        if not any(a <= m.start() < b for a, b in inside):  # "not waking up" is the mention itself
            return True
    return False


# A medication sentence that defers to a prescriber is fine ("talk to your prescriber before you stop").
DEFER = re.compile(r"\b(?:prescriber|doctor|gp|psychiatrist|pharmacist|nurse|clinician|care\s+team|provider|prescribing)\b")

# --- rewrite helpers (run on the original reply) ---------------------------------------------------

SAFE_MESSAGING = (
    (re.compile(r"\bcommitted\s+suicide\b", re.I), "died by suicide"),
    (re.compile(r"\bcompleted\s+suicide\b", re.I), "died by suicide"),
    (re.compile(r"\bcommits\s+suicide\b", re.I), "dies by suicide"),
    (re.compile(r"\bcommitting\s+suicide\b", re.I), "dying by suicide"),
    (re.compile(r"\bcommit\s+suicide\b", re.I), "die by suicide"),
    (re.compile(r"\b(?:successful|unsuccessful|failed|completed)\s+(suicide\s+)?attempt(s?)\b", re.I), r"\1attempt\2"),
    (re.compile(r"\b([Aa])(\s+attempt)"), r"\1n\2"),  # "a failed attempt" -> "an attempt"
)
PHONE = re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{4,}\d(?![\w/])")
SHORT_CODE = re.compile(r"\b(?:call|text|dial|ring|phone|sms|txt|contact|reach|number\s+is|hotline\s+is|line\s+is|text\s+\w+\s+to)\s+(?:us\s+|them\s+|at\s+|on\s+)?(\d{3,6})\b(?!\s*(?:%|mg|ml|times|years?|days?|hours?|minutes?|am|pm|people))", re.I)
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|uk|au|nz|ca|ie|info|gov|edu|app|me|ly|us|help|line)\b(?:/[^\s<>\"')\]]*)?", re.I)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
HANDLE = re.compile(r"(?<![\w@])(?:/?u/[\w-]{2,}|@[A-Za-z0-9_]{2,})")
GREETING_NAME = re.compile(r"^(\s*(?i:hi|hey|hello|dear))\s+(?!there\b|friend\b|everyone\b|all\b|you\b)[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?(\s*[,!.])")
MY_NAME = re.compile(r"\b(?:my\s+name\s+is|i'm\s+called|call\s+me)\s+[A-Z][a-z]+\b[^.!?\n]*[.!?]?", re.I)
RESOURCE_WORDS = re.compile(r"\b(?:hotline|helpline|crisis\s+(?:line|text\s+line|service|team)|lifeline|samaritans|suicide\s+(?:&\s+|and\s+)?crisis|emergency\s+services|988|1737|116\s*123|13\s*11\s*14|findahelpline|call\s+911|call\s+999|call\s+000|call\s+111|call\s+112)\b", re.I)
SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))*(?:[.!?]+[\"')\]]*|\n|$)")


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in SENTENCE.finditer(text) if m.end() > m.start()]


def _remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Remove the sentences that hold any of ``spans``; tidy the spaces left behind."""
    drop = []
    for a, b in _sentences(text):
        if any(a <= s < b or a < e <= b for s, e in spans):
            drop.append((a, b))
    if not drop:
        return text
    out, pos = [], 0
    for a, b in drop:
        out.append(text[pos:a])
        pos = b
    out.append(text[pos:])
    return re.sub(r"[ \t]{2,}", " ", "".join(out)).strip()


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _contacts(text: str, res: Resources) -> tuple[list[Finding], list[Finding]]:
    """(vetted, unvetted) phone numbers, short codes and links found in ``text``."""
    numbers = res.vetted_numbers()
    urls = res.vetted_urls()
    vetted: list[Finding] = []
    unvetted: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for m in URL.finditer(text):
        if EMAIL.search(text, max(0, m.start() - 64), m.end()) and "@" in text[max(0, m.start() - 64):m.start()]:
            continue  # the domain of an email: handled as personal data
        raw = m.group(0).rstrip(".,;:!?")
        key = url_key(raw)
        ok = any(key == u or key.startswith(u + "/") for u in urls)
        (vetted if ok else unvetted).append(Finding("guard.unvetted_contact", "rewrite", raw, m.start(), m.start() + len(raw)))
        taken.append((m.start(), m.end()))
    for rx, group in ((PHONE, 0), (SHORT_CODE, 1)):
        for m in rx.finditer(text):
            s, e = m.span(group)
            if any(a <= s < b for a, b in taken):
                continue
            raw = m.group(group).strip()
            d = _digits(raw)
            if rx is PHONE and len(d) < 6:
                continue
            if rx is PHONE and re.fullmatch(r"(?:19|20)\d\d\s*[-–]\s*(?:19|20)?\d\d", raw):
                continue  # a range of years
            ok = d in numbers
            (vetted if ok else unvetted).append(Finding("guard.unvetted_contact", "rewrite", raw, s, e))
            taken.append((s, e))
    return vetted, unvetted


def _personal_data(text: str) -> tuple[str, list[Finding]]:
    """Remove sentences with emails, @handles or u/usernames; drop a name from a greeting."""
    findings = []
    for rx in (EMAIL, HANDLE, MY_NAME):
        for m in rx.finditer(text):
            findings.append(Finding("guard.personal_data", "rewrite", m.group(0), m.start(), m.end()))
    if findings:
        text = _remove_spans(text, [(f.start, f.end) for f in findings])
    m = GREETING_NAME.match(text)
    if m:
        findings.append(Finding("guard.personal_data", "rewrite", m.group(0).strip()))
        text = GREETING_NAME.sub(lambda g: g.group(1).strip().capitalize() + g.group(2), text, count=1)
    return text, findings


def _tier_of(triage: TriageResult | str) -> str:
    if isinstance(triage, TriageResult):
        return triage.tier
    if triage is None:
        raise ValueError("guard needs the triage of the post the reply answers")
    return check_tier(triage)


def guard(
    reply: str,
    triage: TriageResult | str,
    locale: str | None = None,
    *,
    timeout_s: float = 1.0,
    resources: Resources | None = None,
    second_opinion=None,
    post: str | None = None,
) -> Verdict:
    """Decide what a person may be shown of ``reply``, given the triage of the post it answers.

    ``triage`` is a ``TriageResult`` or a tier name (missing or unknown: escalate). ``locale`` ('en-GB', 'US', ...) picks the crisis
    line; an unknown one gets the fallback (local emergency services and an international directory).
    ``second_opinion`` (optional) is a ``SecondOpinion``; ``post`` is passed to it. Never raises:
    errors and timeouts give escalate.
    """
    started = time.perf_counter()
    try:
        tier = _tier_of(triage)
    except Exception as e:  # noqa: BLE001 - no usable tier: fail closed
        return Verdict("escalate", None, "imminent", (Finding("guard.no_triage", "escalate", str(e)),), locale)
    try:
        verdict = _guard(reply, tier, locale, resources or load_resources(), started + timeout_s)
    except _Timeout:
        return Verdict("escalate", None, tier, (Finding("guard.timeout", "escalate", f"guard ran past {timeout_s}s"),), locale)
    except Exception as e:  # noqa: BLE001 - fail closed, never allow on error
        return Verdict("escalate", None, tier, (Finding("guard.error", "escalate", f"{type(e).__name__}: {e}"),), locale)
    if second_opinion is not None and verdict.action != "escalate":
        opinion = second_opinion.check(post or "", verdict.text if verdict.text is not None else reply)
        action = stricter(verdict.action, opinion.action)
        findings = verdict.findings + (Finding(opinion.rule, opinion.action, opinion.detail),)
        if action != verdict.action:
            verdict = Verdict(action, None if action in ("block", "escalate") else verdict.text, tier, findings, locale)
        else:
            verdict = Verdict(verdict.action, verdict.text, tier, findings, locale)
    return verdict


class _Timeout(Exception):
    pass


def _guard(reply: str, tier: str, locale: str | None, res: Resources, deadline: float) -> Verdict:
    def tick() -> None:
        if time.perf_counter() > deadline:
            raise _Timeout

    if not isinstance(reply, str):
        raise TypeError(f"reply must be text, got {type(reply).__name__}")
    findings: list[Finding] = []
    if RANK[tier] >= RANK["high"]:
        findings.append(Finding("guard.escalate_tier", "escalate", f"post triaged {tier}: draft withheld, case escalated"))
        return Verdict("escalate", None, tier, tuple(findings), locale)
    tick()
    # 2. block rules
    norm = normalize(reply)
    t = norm.text
    for rule_id, rx in BLOCK_RULES:
        for m in rx.finditer(t):
            s, e = m.span()
            if rule_id in ("guard.harmful_validation", "guard.diagnosis_as_fact", "guard.false_credentials") and NEGATION.search(t[max(0, s - 30):s]):
                continue
            if rule_id == "guard.suicide_as_solution" and _reflected(t, s):
                continue
            if rule_id == "guard.medication_instruction":
                sent_start = max(t.rfind(c, 0, s) for c in ".!?\n") + 1
                sent_end = min([i for i in (t.find(c, e) for c in ".!?\n") if i >= 0] or [len(t)])
                if DEFER.search(t, sent_start, sent_end):
                    continue
            a, b = norm.span(s, e)
            findings.append(Finding(rule_id, "block", reply[a:b], a, b))
        tick()
    done = {f.rule for f in findings}
    for rule_id, s, e in _sentence_rules(t):
        if rule_id not in done:
            a, b = norm.span(s, e)
            findings.append(Finding(rule_id, "block", reply[a:b], a, b))
            done.add(rule_id)
    tick()
    if findings:
        return Verdict("block", None, tier, tuple(findings), locale)
    # 3. rewrites
    text = reply
    for rx, repl in SAFE_MESSAGING:
        for m in rx.finditer(text):
            findings.append(Finding("guard.safe_messaging", "rewrite", m.group(0), m.start(), m.end()))
        text = rx.sub(repl, text)
    tick()
    vetted, unvetted = _contacts(text, res)
    if unvetted:
        findings.extend(unvetted)
        text = _remove_spans(text, [(f.start, f.end) for f in unvetted])
    text, pii = _personal_data(text)
    findings.extend(pii)
    tick()
    entry = res.for_locale(locale)
    if tier == "none":
        vetted, _ = _contacts(text, res)
        spans = [(f.start, f.end) for f in vetted] + [m.span() for m in RESOURCE_WORDS.finditer(text)]
        if spans:
            findings.append(Finding("guard.no_resources_at_none", "rewrite", "crisis resources removed: the post shows no risk"))
            text = _remove_spans(text, spans)
    elif RANK[tier] >= RANK["moderate"] and not _has_locale_line(text, entry):
        findings.append(Finding("guard.resource_added", "rewrite", entry.line()))
        text = (text.rstrip() + "\n\n" + entry.line()).strip()
    tick()
    if text != reply:
        return Verdict("rewrite", text, tier, tuple(findings), locale)
    return Verdict("allow", reply, tier, tuple(findings), locale)


def _has_locale_line(text: str, entry) -> bool:
    if isinstance(entry, Fallback):
        return url_key(entry.directory_url) in url_key(text.lower()) or "findahelpline.com" in text.lower()
    digits = {_digits(c.value) for c in entry.channels if c.type in ("call", "text")}
    found = {_digits(m.group(0)) for m in PHONE.finditer(text)} | {m.group(1) for m in SHORT_CODE.finditer(text)}
    found |= {_digits(x) for x in re.findall(r"\b\d(?:[-. ]?\d){2,5}\b", text)}
    return bool(digits & found)
