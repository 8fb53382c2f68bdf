"""Temperature scaling, and the confidence below which the reader says "not sure"."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T that minimizes the held-out negative log-likelihood of softmax(logits / T)."""
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def choose_threshold(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float,
    target_accuracy: float = 0.99, floor: float = 0.4, ceiling: float = 0.9,
) -> float:
    """Lowest confidence at which the answers we keep are right `target_accuracy` of the time."""
    probs = F.softmax(logits / temperature, dim=1)
    confidence, predicted = probs.max(1)
    correct = predicted == labels
    for threshold in torch.arange(floor, ceiling + 1e-9, 0.01).tolist():
        kept = confidence >= threshold
        if kept.sum() == 0:
            break
        if correct[kept].float().mean().item() >= target_accuracy:
            return threshold
    return ceiling
