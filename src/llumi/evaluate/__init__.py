"""Evaluation: per-response measures, per-system statistics, a community-preference reward model, an
optional LLM judge, and the report (``llumi eval``).

    from llumi.evaluate import evaluate_systems
    summary = evaluate_systems(Workspace(), {"dpo": "llumi-work/outputs/generate-test/generate.jsonl"})

Modules: ``measures`` (the per-response functions), ``empathy`` (EPITOME mechanisms: lexicon scorer and
trained classifier), ``stats`` (diversity, bootstrap, paired tests), ``reward`` (reward model and win
rates), ``judge`` (rubric and pairwise prompts), ``report`` (evaluate_systems) and ``html`` (the page).
Heavy libraries (torch, sentence-transformers, scikit-learn) are imported only inside the functions
that need them.
"""

from llumi.evaluate.report import evaluate_systems

__all__ = ["evaluate_systems"]
