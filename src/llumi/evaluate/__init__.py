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

__all__ = ["evaluate_systems"]


def __getattr__(name: str):
    # Imported on first use: the report pulls in the safety layer (its rules compile in ~0.7 s), and
    # `llumi --help` or `llumi ingest` should not pay for that through `llumi.evaluate.cli`.
    if name == "evaluate_systems":
        from llumi.evaluate.report import evaluate_systems

        return evaluate_systems
    raise AttributeError(f"module 'llumi.evaluate' has no attribute {name!r}")
