"""The safety layer: risk triage of posts, a guard on every output, vetted crisis resources.

Pure Python and fast; nothing here imports torch (the optional learned classifier does, lazily).

    >>> from llumi.safety import triage, guard
    >>> t = triage("everyone would be better off without me")
    >>> t.tier
    'low'
    >>> guard("You are not a burden. Can I ask: are you thinking about suicide?", t, "en-GB").action
    'allow'
"""

from llumi.safety.guard import Finding, Verdict, guard
from llumi.safety.guidance import Guidance, guidance_for
from llumi.safety.resources import load_resources
from llumi.safety.triage import TIERS, Signal, TriageResult, tier_at_least, triage

__all__ = ["TIERS", "Finding", "Guidance", "Signal", "TriageResult", "Verdict", "guard", "guidance_for",
           "load_resources", "tier_at_least", "triage"]
