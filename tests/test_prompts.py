"""The prompts: one versioned module, conversational messages TRL and chat templates accept."""

from llumi import prompts


def test_gm_messages_are_system_then_user_with_the_post():
    msgs = prompts.gm_messages("Can't sleep", "Every night my mind races.")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == prompts.GM_SYSTEM
    assert msgs[1]["content"] == "Post:\nCan't sleep\n\nEvery night my mind races."
    assert prompts.gm_messages(None, "Only a body")[1]["content"] == "Post:\nOnly a body"
    assert prompts.gm_messages("Only a title", "")[1]["content"] == "Post:\nOnly a title"


def test_im_messages_carry_the_draft_and_the_instruction():
    msgs = prompts.im_messages("Title", "Body", "  my draft  ")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "Revise this reply, keeping the writer's intent and voice" in msgs[0]["content"]
    assert msgs[1]["content"].endswith("Draft reply:\nmy draft")
    assert "Post:\nTitle\n\nBody" in msgs[1]["content"]


def test_prompts_encode_the_safety_expectations():
    for system in (prompts.GM_SYSTEM, prompts.IM_SYSTEM):
        low = system.lower()
        assert "not a therapist" in low
        assert "diagnos" in low and "medication" in low and "prescriber" in low
        assert "crisis line" in low and "question" in low
    assert "Do not add crisis lines to posts that show no such risk" in prompts.GM_SYSTEM
    assert prompts.PROMPT_VERSION and isinstance(prompts.PROMPT_VERSION, str)
    assert prompts.assistant(" hi ") == {"role": "assistant", "content": "hi"}
