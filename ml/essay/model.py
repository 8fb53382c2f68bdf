"""The essay language model: an LSTM over subword tokens with tied input/output embeddings.

The LSTM's output is projected down to the embedding size so that the decoder can share
the embedding matrix (tying saves a V x E matrix and regularises rare tokens).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class LstmShape:
    vocab_size: int
    embedding: int = 256
    hidden: int = 1024
    layers: int = 1
    dropout: float = 0.1
    embedding_dropout: float = 0.05

    def as_dict(self) -> dict:
        return asdict(self)


State = tuple[torch.Tensor, torch.Tensor]


class EssayLSTM(nn.Module):
    def __init__(self, shape: LstmShape):
        super().__init__()
        self.shape = shape
        self.embed = nn.Embedding(shape.vocab_size, shape.embedding)
        self.embed_drop = nn.Dropout(shape.embedding_dropout)
        self.lstm = nn.LSTM(shape.embedding, shape.hidden, shape.layers, batch_first=True,
                            dropout=shape.dropout if shape.layers > 1 else 0.0)
        self.drop = nn.Dropout(shape.dropout)
        self.project = nn.Linear(shape.hidden, shape.embedding)
        self.decoder_bias = nn.Parameter(torch.zeros(shape.vocab_size))
        self.untied_decoder: nn.Linear | None = None
        nn.init.normal_(self.embed.weight, std=0.05)

    def initial_state(self, batch: int) -> State:
        zeros = torch.zeros(self.shape.layers, batch, self.shape.hidden)
        return zeros, zeros.clone()

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """tokens [batch, time] -> logits [batch, time, vocab] and the state after the last step."""
        x = self.embed_drop(self.embed(tokens))
        out, state = self.lstm(x, state)
        out = self.project(self.drop(out))
        if self.untied_decoder is not None:
            return self.untied_decoder(out), state
        return out @ self.embed.weight.t() + self.decoder_bias, state

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
