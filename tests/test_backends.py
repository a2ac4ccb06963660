"""Generation backends and the GGUF export: llama.cpp must decode what transformers decodes."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llumi.assist.backends import LlamaCppBackend, OpenAIBackend, TransformersBackend, load_backend
from llumi.assist.gguf_export import export_gguf
from llumi.errors import ConfigError, InputError, LlumiError
from tests.tiny_model import make_tiny_gemma3, make_tiny_model

PROMPTS = [
    [{"role": "user", "content": "I feel alone at night and I keep thinking about the exams."}],
    [{"role": "system", "content": "You are a kind peer supporter."},
     {"role": "user", "content": "My friend stopped talking to me and I do not know why."}],
    [{"role": "user", "content": "hi"}],
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tiny_gguf(tiny, tmp_path_factory):
    return export_gguf(tiny, tmp_path_factory.mktemp("gguf") / "tiny-f32.gguf", outtype="f32")


@pytest.fixture(scope="module")
def hf(tiny):
    return TransformersBackend(str(tiny), batch_size=2)


@pytest.fixture(scope="module")
def llama(tiny_gguf):
    return LlamaCppBackend(tiny_gguf, threads=1, n_ctx=512, parallel=2)


def test_gguf_export_decodes_the_same_greedy_tokens_in_llama_cpp_as_transformers(hf, llama):
    expected = hf.generate_ids(PROMPTS, max_new_tokens=16)
    for messages, exp in zip(PROMPTS, expected):
        prompt_ids, got = llama.greedy_token_ids(messages, 16)
        assert prompt_ids == hf._encode([messages])["input_ids"][0].tolist()  # same template, same tokens
        assert got == exp


def test_gemma3_export_decodes_the_same_greedy_tokens_too(tmp_path):
    """gemma3 (the other packaged default's architecture): no rotary permutation, norms stored as 1 + w."""
    folder = make_tiny_gemma3(tmp_path / "gemma3")
    gguf = export_gguf(folder, tmp_path / "gemma3-f32.gguf", outtype="f32")
    hf = TransformersBackend(str(folder))
    llama = LlamaCppBackend(gguf, threads=1, n_ctx=256, parallel=1)
    expected = hf.generate_ids(PROMPTS[:2], max_new_tokens=12)
    for messages, exp in zip(PROMPTS[:2], expected):
        assert llama.greedy_token_ids(messages, 12)[1] == exp


def _complete(text: str) -> str:
    """A random model can stop inside a UTF-8 character: transformers shows the partial bytes as
    U+FFFD, llama.cpp leaves them out. Compare the complete characters."""
    return text.strip().rstrip("\ufffd")


def test_both_local_backends_give_the_same_text_batched_and_streamed(hf, llama):
    texts = [_complete(t) for t in hf.chat(PROMPTS, max_new_tokens=12)]
    assert [_complete(t) for t in llama.chat(PROMPTS, max_new_tokens=12)] == texts
    assert all(texts)
    assert _complete("".join(hf.stream(PROMPTS[1], max_new_tokens=12))) == texts[1]
    assert _complete("".join(llama.stream(PROMPTS[1], max_new_tokens=12))) == texts[1]


def test_batched_left_padded_generation_equals_one_at_a_time(hf):
    batched = hf.generate_ids(PROMPTS, max_new_tokens=10)
    single = [hf.generate_ids([p], max_new_tokens=10)[0] for p in PROMPTS]
    assert batched == single


def test_sampling_follows_the_seed(hf):
    a = hf.chat(PROMPTS[:1], max_new_tokens=10, temperature=1.0, seed=1)
    assert hf.chat(PROMPTS[:1], max_new_tokens=10, temperature=1.0, seed=1) == a


def test_a_peft_adapter_is_applied(tiny, tmp_path, hf):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny)
    peft = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_" in name:
                p.normal_(0, 0.5)
    peft.save_pretrained(tmp_path / "adapter")
    adapted = TransformersBackend(str(tiny), adapter=tmp_path / "adapter")
    assert adapted.describe()["adapter"] == str(tmp_path / "adapter")
    assert adapted.generate_ids(PROMPTS, max_new_tokens=10) != hf.generate_ids(PROMPTS, max_new_tokens=10)
    with pytest.raises(InputError, match="adapter_config.json"):
        TransformersBackend(str(tiny), adapter=tmp_path)


def test_export_rebuilds_the_tokenizer_and_chat_template(tiny_gguf, tiny):
    import gguf

    reader = gguf.GGUFReader(str(tiny_gguf))
    field = lambda k: reader.fields[k].contents()  # noqa: E731
    config = json.loads((tiny / "config.json").read_text())
    assert field("general.architecture") == "llama"
    assert field("tokenizer.ggml.model") == "gpt2" and field("tokenizer.ggml.pre") == "gpt-2"
    assert len(field("tokenizer.ggml.tokens")) == config["vocab_size"]
    assert field("tokenizer.ggml.eos_token_id") == config["eos_token_id"]
    assert field("tokenizer.ggml.add_bos_token") is False
    assert "<|im_start|>" in field("tokenizer.chat_template")
    names = {t.name for t in reader.tensors}
    assert "output.weight" not in names  # tied embeddings
    assert {"token_embd.weight", "blk.1.attn_q.weight", "blk.1.attn_k.weight", "output_norm.weight"} <= names


@pytest.mark.parametrize("outtype,qtype", [("q8_0", "Q8_0"), ("q4_0", "Q4_0")])
def test_export_copies_the_reference_gguf_metadata(tiny, tiny_gguf, tmp_path, outtype, qtype):
    import gguf

    out = export_gguf(tiny, tmp_path / f"tiny-{outtype}.gguf", outtype=outtype, reference_gguf=tiny_gguf)
    ref, new = gguf.GGUFReader(str(tiny_gguf)), gguf.GGUFReader(str(out))
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.pre", "general.name"):
        assert new.fields[key].contents() == ref.fields[key].contents()
    types = {t.name: t.tensor_type for t in new.tensors}
    assert types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType[qtype]
    assert types["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32
    assert LlamaCppBackend(out, threads=1, n_ctx=256, parallel=1).chat(PROMPTS[:1], max_new_tokens=4)
    with pytest.raises(InputError, match="not the GGUF this model came from"):
        export_gguf(make_tiny_model(tmp_path / "bigger", vocab_size=450), tmp_path / "x.gguf", reference_gguf=out)


def test_export_refuses_what_it_cannot_convert(tiny, tmp_path):
    with pytest.raises(InputError, match="outtype"):
        export_gguf(tiny, tmp_path / "x.gguf", outtype="q4_k")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    with pytest.raises(InputError, match="LoRA adapter"):
        export_gguf(tmp_path / "adapter", tmp_path / "x.gguf")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "gpt_neox"}))
    with pytest.raises(InputError, match="gpt_neox"):
        export_gguf(other, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_a_missing_gguf_gives_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        LlamaCppBackend(tmp_path / "missing.gguf")


def test_load_backend_chooses_by_name(tiny_gguf):
    assert isinstance(load_backend("llamacpp", gguf=tiny_gguf, threads=1, n_ctx=256, parallel=1), LlamaCppBackend)
    assert isinstance(load_backend("openai", base_url="http://127.0.0.1:9/v1", model="m"), OpenAIBackend)
    with pytest.raises(ConfigError, match="transformers, llamacpp, openai"):
        load_backend("vllm")


# --- OpenAI-compatible server: a fake one on a random local port ------------------------------

class _FakeOpenAI(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        question = body["messages"][-1]["content"]
        if question == "fail":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": "model exploded"}')
            return
        answer = f"you said: {question}"
        if not body.get("stream"):
            payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload.encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b": keep-alive\n\n")
        for piece in [answer[:4], answer[4:10], answer[10:]]:
            event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def fake_server():
    _FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_openai_backend_chats_in_order_with_the_settings_given(fake_server):
    backend = OpenAIBackend(fake_server, "llumi-gm", api_key="secret")  # bare root: /v1 is added
    convs = [[{"role": "user", "content": f"post {i}"}] for i in range(5)]
    assert backend.chat(convs, max_new_tokens=7, temperature=0.0, seed=3) == [f"you said: post {i}" for i in range(5)]
    req = _FakeOpenAI.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer secret"
    assert req["model"] == "llumi-gm" and req["max_tokens"] == 7 and req["temperature"] == 0.0 and req["seed"] == 3
    assert req["stream"] is False


def test_openai_backend_streams_server_sent_events(fake_server):
    backend = OpenAIBackend(fake_server + "/v1", "m")
    pieces = list(backend.stream([{"role": "user", "content": "hello there"}]))
    assert len(pieces) == 3 and "".join(pieces) == "you said: hello there"
    assert _FakeOpenAI.requests[-1]["stream"] is True


def test_openai_backend_reports_server_errors(fake_server):
    with pytest.raises(LlumiError, match="HTTP 500.*model exploded"):
        OpenAIBackend(fake_server, "m").chat([[{"role": "user", "content": "fail"}]])


def test_openai_backend_reports_an_unreachable_server():
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LlumiError, match=f"cannot reach the OpenAI-compatible server at http://127.0.0.1:{port}"):
        OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", timeout=5).chat([[{"role": "user", "content": "hi"}]])
    with pytest.raises(ConfigError, match="not an http"):
        OpenAIBackend("localhost:8000", "m")
