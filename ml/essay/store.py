"""Published essay models: one per style, each under MLBOT_HOME/models/<essay service>/."""
from __future__ import annotations

import copy
import logging
import threading
import warnings
from functools import cached_property

import torch
from safetensors.torch import load_file

from ml.errors import ModelNotReady
from ml.essay import DEFAULT_STYLE
from ml.essay.model import EssayLSTM, LstmShape
from ml.essay.plagiarism import CorpusIndex
from ml.essay.tokenizer import EssayTokenizer
from ml.essay.styles import known_styles, service_for_style, unknown_style
from ml.home import ModelHome, ModelRef

log = logging.getLogger(__name__)


class PublishedEssayModel:
    """A style's model, tokenizer and plagiarism index, loaded lazily and only once."""

    def __init__(self, ref: ModelRef):
        self.ref = ref
        self.version = ref.version
        self._lock = threading.Lock()

    @cached_property
    def tokenizer(self) -> EssayTokenizer:
        return EssayTokenizer.from_json((self.ref.path / "tokenizer.json").read_text())

    @cached_property
    def model(self) -> EssayLSTM:
        model = EssayLSTM(LstmShape(**self.ref.card["shape"]))
        model.load_state_dict(load_file(str(self.ref.path / "model.safetensors")))
        model.eval()
        return model

    @cached_property
    def generation_model(self):
        """The model with int8 weights for writing: generation reads every weight for each
        token, so it is bound by memory, and int8 weights make a step several times faster.
        `mlbot eval essay` reports its held-out bpc next to the float model's, and
        bench/essay.py the time of one step of each."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch suggests torchao; this API still works
                return torch.ao.quantization.quantize_dynamic(
                    copy.deepcopy(self.model).untie_for_inference(), {torch.nn.LSTM, torch.nn.Linear},
                    dtype=torch.qint8)
        except Exception:  # a torch without dynamic quantization: float32 is slower, not wrong
            log.warning("essay: int8 quantization unavailable, writing in float32", exc_info=True)
            return self.model

    @cached_property
    def index(self) -> CorpusIndex:
        return CorpusIndex.from_bytes((self.ref.path / "corpus_index.npz").read_bytes())

    def streams(self):
        from ml.essay.train import Streams

        return Streams.from_bytes((self.ref.path / "streams.npz").read_bytes())

    def load_all(self) -> "PublishedEssayModel":
        with self._lock:  # touch everything once, on the caller's thread
            self.tokenizer, self.generation_model, self.index  # noqa: B018
        return self


def load_published(home: ModelHome, style: str = DEFAULT_STYLE) -> PublishedEssayModel:
    ref = home.current(service_for_style(style))
    if ref is None:
        if style == DEFAULT_STYLE or not known_styles(home):
            raise ModelNotReady(f"no essay model for style {style!r} yet: run `mlbot train essay`")
        raise unknown_style(home, style)
    return PublishedEssayModel(ref)

