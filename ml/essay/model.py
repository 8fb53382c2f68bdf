"""The essay language model: an LSTM over subword tokens with tied input/output embeddings.

The LSTM's output is projected down to the embedding size so that the decoder can share
the embedding matrix (tying saves a V x E matrix and regularises rare tokens).

Regularisation follows AWD-LSTM (Merity et al., 2018): the recurrent (hidden-to-hidden)
weights are dropped with DropConnect once per window ("weight drop"), and the embedding
and output activations use one dropout mask for every time step of a window ("locked" or
variational dropout), so the noise does not change from step to step inside a sequence.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LstmShape:
    vocab_size: int
    embedding: int = 256
    hidden: int = 1024
    layers: int = 1
    dropout: float = 0.1            # locked dropout on the LSTM's output (and between layers)
    embedding_dropout: float = 0.05  # locked dropout on the embeddings
    weight_drop: float = 0.0        # DropConnect on the recurrent weights while training

    def as_dict(self) -> dict:
        return asdict(self)


State = tuple[torch.Tensor, torch.Tensor]


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout with one mask per sequence ([batch, 1, features]) shared by all time steps."""
    if not training or p <= 0:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)
    return x * mask


class EssayLSTM(nn.Module):
    def __init__(self, shape: LstmShape):
        super().__init__()
        self.shape = shape
        self.embed = nn.Embedding(shape.vocab_size, shape.embedding)
        self.lstm = nn.LSTM(shape.embedding, shape.hidden, shape.layers, batch_first=True,
                            dropout=shape.dropout if shape.layers > 1 else 0.0)
        self.project = nn.Linear(shape.hidden, shape.embedding)
        self.decoder_bias = nn.Parameter(torch.zeros(shape.vocab_size))
        self.untied_decoder: nn.Linear | None = None
        nn.init.normal_(self.embed.weight, std=0.05)

    def initial_state(self, batch: int) -> State:
        zeros = torch.zeros(self.shape.layers, batch, self.shape.hidden)
        return zeros, zeros.clone()

    def _recurrent(self, x: torch.Tensor, state: State | None):
        if not (self.training and self.shape.weight_drop > 0):
            return self.lstm(x, state)
        # DropConnect: a dropped copy of each weight_hh for this window; the gradient flows
        # back to the real parameter through the dropout.
        weights = {name: F.dropout(p, self.shape.weight_drop) if name.startswith("weight_hh") else p
                   for name, p in self.lstm.named_parameters()}
        return torch.func.functional_call(self.lstm, weights, (x, state))

    def features(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """tokens [batch, time] -> the LSTM's outputs [batch, time, hidden] and the last state."""
        x = locked_dropout(self.embed(tokens), self.shape.embedding_dropout, self.training)
        return self._recurrent(x, state)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        out = self.project(locked_dropout(features, self.shape.dropout, self.training))
        if self.untied_decoder is not None:
            return self.untied_decoder(out)
        return out @ self.embed.weight.t() + self.decoder_bias

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """tokens [batch, time] -> logits [batch, time, vocab] and the state after the last step."""
        out, state = self.features(tokens, state)
        return self.decode(out), state

    def untie_for_inference(self) -> "EssayLSTM":
        """Copy the tied decoder into a Linear layer of its own, so that quantization (which
        works on Linear layers) covers the largest matrix too. For inference copies only."""
        decoder = nn.Linear(self.shape.embedding, self.shape.vocab_size)
        with torch.no_grad():
            decoder.weight.copy_(self.embed.weight)
            decoder.bias.copy_(self.decoder_bias)
        self.untied_decoder = decoder
        return self


def detach(state: State) -> State:
    return state[0].detach(), state[1].detach()
