"""The learned ensemble (HarmonRank-style): one score from the objective
probabilities p and the request's weights w, by a small MLP on [p | w | p*w],
trained with a ranking-aligned loss instead of a per-item one.

The loss is a differentiable AUC over the pairs of one page: for items i, j
served together with relevance rel_i > rel_j (rel = sum_o w_o y_o, the
request's weights on what the user did), softplus(-(s_i - s_j)) =
log(1 + exp(-(s_i - s_j))), the logistic surrogate of ranking j above i,
weighted by rel_i - rel_j and averaged over the pairs. The engine runs the
exported MLP (src/models/ensemble.ts) when a request asks for it.
"""
import numpy as np
import torch
from torch import nn


class Ensemble(nn.Module):
    def __init__(self, objectives, hidden):
        super().__init__()
        widths = [3 * objectives] + list(hidden) + [1]
        self.layers = nn.ModuleList([nn.Linear(widths[j], widths[j + 1]) for j in range(len(widths) - 1)])

    def forward(self, p, w):
        a = torch.cat([p, w, p * w], dim=1)
        for j, layer in enumerate(self.layers):
            a = layer(a)
            if j < len(self.layers) - 1:
                a = torch.relu(a)
        return a[:, 0]

    def serving_tensors(self):
        out = {}
        for j, layer in enumerate(self.layers):
            out[f"layer.{j}.weight"] = layer.weight.detach().contiguous().numpy().astype("<f4")
            out[f"layer.{j}.bias"] = layer.bias.detach().contiguous().numpy().astype("<f4")
        return out


def pairwise_auc_loss(scores, rel, page):
    """Mean over same-page pairs with rel_i > rel_j of (rel_i - rel_j) * softplus(-(s_i - s_j)); 0 without pairs."""
    same = page[:, None] == page[None, :]
    gap = rel[:, None] - rel[None, :]
    mask = same & (gap > 0)
    if not bool(mask.any()):
        return scores.sum() * 0.0
    diff = scores[:, None] - scores[None, :]
    losses = gap * nn.functional.softplus(-diff)
    return losses[mask].sum() / gap[mask].sum()


def train_ensemble(p, w, y, page, hidden, epochs, pages_per_batch, lr, seed, log):
    """Trains on per-item rows (p, w: N x H; y: N x H labels; page: N page ids, rows of a page contiguous)."""
    torch.manual_seed(seed)
    rel = (w * y).sum(dim=1)
    model = Ensemble(p.shape[1], hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    # Row ranges of each page (rows of a page are contiguous in the export).
    starts = np.flatnonzero(np.r_[True, page[1:].numpy() != page[:-1].numpy()])
    bounds = list(zip(starts, list(starts[1:]) + [len(page)]))
    history = []
    for epoch in range(epochs):
        order = torch.randperm(len(bounds)).tolist()
        total, batches = 0.0, 0
        for b in range(0, len(order), pages_per_batch):
            rows = torch.cat([torch.arange(bounds[k][0], bounds[k][1]) for k in order[b:b + pages_per_batch]])
            opt.zero_grad()
            loss = pairwise_auc_loss(model(p[rows], w[rows]), rel[rows], page[rows])
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
        history.append(total / max(1, batches))
        log(f"ensemble epoch {epoch + 1}/{epochs} loss {history[-1]:.4f}")
    return model, history
