"""Model resolution: packaged defaults, GGUF files, local folders, hub ids, and their errors."""

from __future__ import annotations

import json

import pytest

from llumi import models
from llumi.errors import InputError, LlumiError
from llumi.models import resolve_model
from tests.tiny_model import make_tiny_model

CHAT = [
    [{"role": "user", "content": "I feel alone at night and I keep thinking about the exams."}],
    [{"role": "system", "content": "You are a kind peer supporter."},
     {"role": "user", "content": "My friend stopped talking to me and I do not know why."}],
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_a_local_model_folder_is_used_as_it_is(tiny):
    r = resolve_model(str(tiny))
    assert r.kind == "folder" and r.path == tiny.resolve() and r.source_gguf is None
    meta = r.describe()
    assert meta["spec"] == str(tiny) and meta["config_sha256"].startswith("sha256:")


def test_a_folder_without_config_is_refused(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_a_missing_gguf_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="not found"):
        resolve_model(str(tmp_path / "nope.gguf"))


def test_a_missing_path_lists_the_packaged_defaults(tmp_path):
    with pytest.raises(InputError, match="smollm2-135m.*gemma3-270m"):
        resolve_model(str(tmp_path / "no-such-folder"))


def test_an_unknown_name_offline_says_the_hub_is_unreachable(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LlumiError) as e:
        resolve_model("llumi-tests/no-such-model-anywhere")
    msg = str(e.value)
    assert "'llumi-tests/no-such-model-anywhere' is not a local folder or a packaged default" in msg
    assert "hub is unreachable" in msg and "smollm2-135m" in msg


def test_a_packaged_default_whose_package_is_missing_says_what_to_install(monkeypatch):
    fake = models.PackagedModel(name="fake-1m", pip="llumi-fake-model", module="llumi_fake_model_pkg",
                                filename="fake.gguf", description="test")
    monkeypatch.setitem(models.PACKAGED, "fake-1m", fake)
    with pytest.raises(LlumiError, match="pip install llumi-fake-model"):
        resolve_model("fake-1m")


def test_a_gguf_file_is_converted_once_into_a_cached_folder(tiny, tmp_path, monkeypatch):
    """Round trip: our GGUF export, read back by transformers, generates what the original does."""
    from llumi.assist.backends import TransformersBackend
    from llumi.assist.gguf_export import export_gguf

    gguf = export_gguf(tiny, tmp_path / "tiny.gguf", outtype="f32")
    cache = tmp_path / "cache"
    r = resolve_model(str(gguf), cache_dir=cache)
    assert r.kind == "gguf" and r.source_gguf == gguf.resolve()
    assert r.path.parent == cache and r.path.name.startswith("tiny-")
    meta = json.loads((r.path / "meta.json").read_text())
    assert meta["source_sha256"] == r.source_sha256 and r.path.name.endswith(r.source_sha256[:12])
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary folder left over

    def no_second_conversion(*a, **k):
        raise AssertionError("converted twice")

    monkeypatch.setattr(models, "convert_gguf", no_second_conversion)
    assert resolve_model(str(gguf), cache_dir=cache).path == r.path

    original = TransformersBackend(tiny).generate_ids(CHAT, max_new_tokens=8)
    converted = TransformersBackend(r.path).generate_ids(CHAT, max_new_tokens=8)
    assert converted == original


# --- the real packaged default (slow: a 135M model on the CPU) --------------------------------

@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    return resolve_model("smollm2-135m", cache_dir=tmp_path_factory.mktemp("llumi-cache"))


@pytest.mark.slow
def test_smollm2_is_converted_from_its_package_and_generates(smollm2):
    from llumi.assist.backends import TransformersBackend

    assert smollm2.kind == "packaged" and smollm2.source_gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    meta = json.loads((smollm2.path / "meta.json").read_text())
    assert meta["source_sha256"] == smollm2.source_sha256
    config = json.loads((smollm2.path / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    backend = TransformersBackend(str(smollm2.path))
    [reply] = backend.chat([[{"role": "user", "content": "Say hello to a friend."}]], max_new_tokens=8)
    assert reply.strip()


@pytest.mark.slow
def test_smollm2_exported_to_gguf_decodes_the_same_greedy_tokens_in_llama_cpp(smollm2, tmp_path):
    """The merged default model, exported at f16 with the packaged GGUF's tokenizer metadata, gives
    llama.cpp the same first 16 greedy tokens as transformers. (f16 rounding of the dequantised
    weights has not changed any of these argmaxes; q8_0 may, so it is only checked to load.)"""
    from llumi.assist.backends import LlamaCppBackend, TransformersBackend
    from llumi.assist.gguf_export import export_gguf

    gguf = export_gguf(smollm2.path, tmp_path / "smollm2-f16.gguf", outtype="f16", reference_gguf=smollm2.source_gguf)
    prompts = [[{"role": "user", "content": "I feel lonely since I moved to a new city. What could I do?"}]]
    expected = TransformersBackend(str(smollm2.path)).generate_ids(prompts, max_new_tokens=16)
    prompt_ids, got = LlamaCppBackend(gguf, parallel=1).greedy_token_ids(prompts[0], 16)
    assert len(prompt_ids) > 10
    assert got == expected[0]
