"""Triage of incoming posts: the fixture suites, evidence spans, negation and reported speech."""

import subprocess
import sys

import pytest

from llumi.safety import TIERS, triage
from llumi.safety.evaluate import load_fixture, run_metamorphic_fixtures, run_triage_fixtures
from llumi.safety.normalize import normalize
from llumi.safety.triage import RULE_KEYS, RULES

triage_module = sys.modules["llumi.safety.triage"]  # the module (the package exports the function)

TRIAGE_CASES = load_fixture("triage")["cases"]


@pytest.mark.parametrize("case", TRIAGE_CASES, ids=[c["text"][:40] for c in TRIAGE_CASES])
def test_triage_fixture(case):
    r = triage(case["text"])
    assert r.tier == case["tier"], (r.tier, r.to_dict())
    assert set(case.get("rules", [])) <= set(r.rules)
    assert set(case.get("discounted", [])) <= {s.rule for s in r.discounted}


def test_every_rule_has_a_positive_fixture():
    fired = set()
    for case in TRIAGE_CASES:
        fired |= set(triage(case["text"]).rules)
    missing = {r.id for r in RULES} - fired
    assert not missing, f"rules without a positive fixture: {sorted(missing)}"


def test_suites_pass_as_a_whole():
    assert not run_triage_fixtures().failures
    assert not run_metamorphic_fixtures().failures


def test_metamorphic_variants_keep_the_tier():
    for group in load_fixture("metamorphic")["groups"]:
        base = triage(group["base"]).tier
        assert [triage(v).tier for v in group["variants"]] == [base] * len(group["variants"]), group["base"]


def test_key_shortcut_changes_nothing():
    texts = [c["text"] for c in TRIAGE_CASES]
    for g in load_fixture("metamorphic")["groups"]:
        texts += [g["base"], *g["variants"]]
    for t in texts:
        assert triage(t) == triage(t, _use_keys=False), t
    assert set(RULE_KEYS) == {r.id for r in RULES}


def test_windowed_scanning_of_long_posts_changes_nothing():
    texts = [c["text"] for c in TRIAGE_CASES]
    filler = "We talked about the weather and the bus timetable for a while. " * 30
    for i in range(0, len(texts), 7):
        long_post = filler + "\n".join(texts[i:i + 7]) + "\n" + filler + "Goodbye.\n" + filler
        assert len(long_post) > 3000
        assert triage(long_post) == triage(long_post, _use_keys=False)


def test_evidence_spans_point_into_the_original_text():
    text = "Honestly?? I w4nt to k i l l  myself 😭 and nobody would even notice if I was gone."
    r = triage(text)
    assert r.tier == "moderate"
    assert r.signals, "no evidence"
    for s in r.signals:
        assert text[s.start:s.end] == s.evidence
        assert s.rule and s.signal and s.tier in TIERS
    assert any("k i l l" in s.evidence for s in r.signals)


def test_every_tier_decision_carries_rules_and_evidence():
    for case in TRIAGE_CASES:
        r = triage(case["text"])
        if r.tier != "none":
            assert r.signals and all(s.evidence for s in r.signals), case["text"]
            assert any(s.tier == r.tier for s in r.signals)


def test_negation_and_reported_speech_are_kept_as_discounted_evidence():
    r = triage("My friend said she wanted to die. I don't want to die, but I'm scared for her.")
    statuses = {s.status for s in r.discounted}
    assert statuses == {"reported", "negated"}
    # Neither is the writer's own risk; someone else's is a concern of its own, at low.
    assert r.tier == "low" and r.rules == ("concern.third_party",)
    assert r.signals[0].signal == "third_party" and "wanted to die" in r.signals[0].evidence


def test_someone_else_at_risk_gets_a_card_for_a_worried_helper():
    from llumi.safety.guidance import THIRD_PARTY, guidance_for

    worried = triage("My girlfriend texted me that she wants to kill herself and now she won't pick up.")
    assert worried.tier == "low" and THIRD_PARTY in guidance_for(worried).mode
    assert guidance_for(worried).resources  # the crisis line, for the helper to call with or for her
    own = triage("I want to die.")
    assert THIRD_PARTY not in guidance_for(own).mode
    for text in ("She doesn't want to hurt herself, she says.", "My mom said she would kill me if I failed.",
                 "They want to kill him off in the next season.", "The suspect killed himself before the trial."):
        assert triage(text).tier == "none", text


def test_asking_for_a_friend_undoes_reported_speech():
    plain = triage("my friend says he is suicidal")
    disguised = triage("my friend says he is suicidal. asking for a friend")
    assert plain.tier == "low" and plain.rules == ("concern.third_party",)  # someone else's risk
    assert disguised.tier == "moderate" and "active_ideation.suicidal" in disguised.rules  # the writer's own


def test_past_is_capped_and_resolution_is_not_counted():
    assert triage("Years ago I wanted to kill myself.").tier == "low"
    assert triage("I used to want to kill myself, but not anymore.").tier == "none"
    assert triage("I want to kill myself.").tier == "moderate"


def test_normalize_maps_back_and_folds_tricks():
    n = normalize("I’m g0nna K1LLLL mys3lf 💊")
    assert "kill myself" in n.text and "pills" in n.text and "i'm" in n.text
    i = n.text.index("kill")
    assert n.quote(i, i + 4) == "K1LLLL"[:4] or n.quote(i, i + 4).lower().startswith("k1ll")
    assert normalize("took 10mg at 3am").text == "took 10mg at 3am"  # quantities stay quantities


def test_non_text_is_an_input_error():
    from llumi.errors import InputError

    with pytest.raises(InputError):
        triage(None)


def test_rules_layer_does_not_import_torch():
    code = ("import sys; from llumi.safety import triage, guard; r = triage('I want to die'); "
            "guard('hi', r, 'US'); assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def _texts_for_index_checks():
    texts = [c["text"] for c in TRIAGE_CASES]
    for g in load_fixture("metamorphic")["groups"]:
        texts += [g["base"], *g["variants"]]
    texts += ["endingly unwanted selfish tonightly yourselves overdosed", "i'd said going to die, wanted out of life"]
    return texts


def test_presence_index_equals_substring_tests():
    """The one-pass literal index says a requirement is met exactly when one of its strings is in the text."""
    for text in _texts_for_index_checks():
        t = normalize(text).text
        missing = triage_module._Presence(t).missing
        for req, bit in triage_module._REQ_BITS.items():
            assert (not missing & bit) == any(x in t for x in req), (text, req)


def test_split_branches_match_like_the_whole_alternative():
    """A top-level alternative split into branches gives the spans the unsplit regex gives."""
    import re

    for text in _texts_for_index_checks():
        t = normalize(text).text
        for rule in RULES:
            expected = []
            for alt in triage_module._split_top(rule.pattern.pattern):
                boundary = alt.startswith("\\b")
                for m in re.compile(alt[2:] if boundary else alt).finditer(t):
                    s, e = m.span()
                    if e > s and not (boundary and s > 0 and (t[s - 1].isalnum() or t[s - 1] in "_'")):
                        expected.append((s, e))
            assert rule.pattern.spans(t, windows=False) == expected, (rule.id, text)


LONG_FILLER = (" I still go to work and answer messages, and the people around me think I'm fine. The weekends are"
               " long and the flat is quiet. My sister calls on Sundays and we talk about her kids and the garden."
               " Work is busy, the bus is late most mornings, and I cook the same three dinners every week."
               " I'm writing this down because I need to put it somewhere.")  # over CUE_SHORT on its own


def test_cumulative_cue_needs_several_kinds_in_a_longer_post_and_shows_every_cue():
    one = triage("I'm such a disappointment." + LONG_FILLER)
    assert one.tier == "none" and not one.signals  # one kind of cue in a longer post: an ordinary bad day
    assert len(LONG_FILLER) > triage_module.CUE_SHORT
    text = "I'm such a disappointment. I feel numb most days." + LONG_FILLER
    two = triage(text)
    assert two.tier == "low" and {s.signal for s in two.signals} == {"cumulative_distress"}
    assert {s.rule for s in two.signals} == {"cue.self_contempt", "cue.emptiness"}
    for s in two.signals:  # evidence for every cue that counted, in the original text
        assert text[s.start:s.end] == s.evidence
    # the weakest kinds (tiredness, overwhelm, fear or a plea for help) count half
    assert triage("I'm exhausted. I'm so scared." + LONG_FILLER).tier == "none"
    assert triage("I'm exhausted. I'm so scared. It just hurts so much." + LONG_FILLER).tier == "low"


def test_cumulative_cue_in_a_short_post_and_its_limits():
    assert triage("I hate the person I've become.").tier == "low"  # a title and a line: one cue is the message
    assert triage("I'm exhausted.").tier == "none"  # a weak cue alone never counts
    assert triage("Lost\nmy dog ran off near the park").tier == "none"


def test_cues_not_in_the_writers_own_voice_do_not_add_up():
    negated = triage("I don't think I'm a disappointment and I'm not feeling numb any more." + LONG_FILLER)
    assert negated.tier == "none" and {s.status for s in negated.discounted} == {"negated"}
    past = triage("Years ago I was crying all the time and I felt so numb, but I'm doing better now.")
    assert past.tier == "none"
    # someone else's words: reported, discounted, and not a third-party concern of their own
    reported = triage("She told me I'm pathetic and that I'm a disappointment." + LONG_FILLER)
    assert reported.tier == "none" and not any(s.signal == "third_party" for s in reported.signals)
    assert triage("I'm such a loser lol, I'm crying laughing.").tier == "none"  # laughter: hyperbole


def test_cues_are_read_only_when_nothing_else_raised_the_post():
    r = triage("I want to die. I feel numb and I'm such a disappointment.")
    assert r.tier == "low" and not any(s.rule.startswith("cue.") for s in r.signals + r.context)
