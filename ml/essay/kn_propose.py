"""The Kneser-Ney 5 model dressed as the LSTM, so the writer's sampler runs on it unchanged.

`mlbot eval essay` compares the LSTM writer with "the same sampler on the Kneser-Ney 5
model": same plan, same candidates, same judge, only the proposer differs. The sampler asks
its model for the next-token logits of a batch of rows and carries a state per row; here the
state is the last order-1 tokens of each row (as a float tensor shaped like an LSTM state,
so the sampler's batching and row selection work as they are).
"""
from __future__ import annotations

import numpy as np
import torch

from ml.essay.ngram import KneserNey


class KneserNeyAsModel:
    def __init__(self, kn: KneserNey):
        self.kn = kn
        self.width = max(1, kn.order - 1)

    def _logits(self, rows: torch.Tensor) -> torch.Tensor:
        out = np.stack([np.log(np.maximum(self.kn.next_distribution([int(t) for t in row if t >= 0]), 1e-12))
                        for row in rows.long().tolist()])
        return torch.from_numpy(out).float()

    def __call__(self, tokens: torch.Tensor, state=None):
        """tokens [batch, time] -> (logits [batch, 1, vocab] for the last step, new state)."""
        batch = tokens.shape[0]
        if state is None:
            h = torch.full((1, batch, self.width), -1.0)
        else:
            h = state[0]
        h = torch.cat([h[0], tokens.float()], dim=1)[:, -self.width:].unsqueeze(0)
        logits = self._logits(h[0]).unsqueeze(1)
        return logits, (h, h.clone())
