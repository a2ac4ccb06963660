"""The supporter's guidance card for each tier: what to ask (in the C-SSRS screener's order), what to
avoid saying, and which vetted resources to offer. It guides a person; it is not a clinical rating."""

from __future__ import annotations

from dataclasses import dataclass

from llumi.safety.resources import Fallback, load_resources
from llumi.safety.triage import RANK, TriageResult

# The C-SSRS screener's questions, in order (past month; the last one asks about lifetime and past 3 months).
CSSRS_QUESTIONS = (
    "Have you wished you were dead or wished you could go to sleep and not wake up?",
    "Have you actually had any thoughts about killing yourself?",
    "Have you thought about how you might do this?",
    "Have you had any intention of acting on these thoughts?",
    "Have you started to work out or worked out the details of how to kill yourself? Do you intend to carry out this plan?",
    "Have you done anything, started to do anything, or prepared to do anything to end your life? Was it in the past 3 months?",
)
AVOID = (
    "Promising to keep thoughts of suicide or a plan secret.",
    "Debating whether life is worth living, or telling them how they should feel.",
    "Describing or asking for details of methods beyond whether they have a plan and access to means.",
    "Framing suicide as a solution, or using 'committed suicide' ('died by suicide' is the safer phrase).",
    "Diagnosing, or giving advice about starting, stopping or changing medication.",
)
MODES = {
    "none": "Normal drafting. No crisis resources are pushed.",
    "low": "Draft allowed. Consider asking directly about suicidal thoughts: asking does not plant the idea.",
    "moderate": "The draft must include a direct, caring question about safety and one local crisis line.",
    "high": "Draft withheld. Escalate: ask the questions below now, share the crisis line and emergency number, and involve your platform's escalation path.",
    "imminent": "Draft withheld. Emergency first: encourage calling the emergency number now, stay with them, and escalate immediately.",
}

# Added to the mode when the post describes someone else at risk (signal third_party).
THIRD_PARTY = ("The writer describes someone else who may be at risk: help them ask that person directly about "
               "suicide, not leave them alone if they are in danger, and call the crisis line or emergency "
               "services together.")


@dataclass(frozen=True)
class Guidance:
    tier: str
    mode: str
    questions: tuple[str, ...]
    avoid: tuple[str, ...]
    resources: tuple[str, ...]
    emergency_first: bool = False

    def to_dict(self) -> dict:
        return {"tier": self.tier, "mode": self.mode, "questions": list(self.questions), "avoid": list(self.avoid),
                "resources": list(self.resources), "emergency_first": self.emergency_first}

    def text(self) -> str:
        lines = [f"Guidance ({self.tier}): {self.mode}"]
        if self.questions:
            lines.append("Ask, in this order:")
            lines += [f"  {i}. {q}" for i, q in enumerate(self.questions, 1)]
        if self.resources:
            lines.append("Offer:")
            lines += [f"  - {r}" for r in self.resources]
        if self.tier != "none":
            lines.append("Avoid:")
            lines += [f"  - {a}" for a in self.avoid]
        return "\n".join(lines)


def guidance_for(triage: TriageResult | str, locale: str | None = None) -> Guidance:
    """The card for a triage result (or a tier name) and the supporter's locale."""
    tier = triage.tier if isinstance(triage, TriageResult) else triage
    entry = load_resources().for_locale(locale)
    if tier == "none":
        return Guidance(tier, MODES[tier], (), (), ())
    if tier == "low":
        questions = CSSRS_QUESTIONS[:2]
    else:
        questions = CSSRS_QUESTIONS
    resources: list[str] = []
    if RANK[tier] >= RANK["moderate"] or tier == "low":
        resources.append(entry.line())
    if tier == "imminent":
        emergency = entry.line() if isinstance(entry, Fallback) else f"Emergency number ({entry.country}): {entry.emergency}"
        resources.insert(0, emergency)
    mode = MODES[tier]
    if isinstance(triage, TriageResult) and any(s.signal == "third_party" for s in triage.signals):
        mode = f"{mode} {THIRD_PARTY}"
    return Guidance(tier, mode, questions, AVOID, tuple(dict.fromkeys(resources)), tier == "imminent")
