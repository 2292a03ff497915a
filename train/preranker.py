"""The strong pre-ranker, trained the HAP way against a plain one (PyTorch).

At serving (src/stages/prerank.ts) the light score (<user, item> plus the
popularity bias) ranks the K retrieved candidates; the B = budget x K whose
light score lies closest to the top-M cut are "hard" and only they get the
strong model, whose scores are mapped onto their light scores' mean and
spread (native hapMerge): the strong model only reorders the hard band.

Both pre-rankers learn from the trained ranker (the teacher: its weighted
utility under each page's request weights, at position 1) on candidate
lists rebuilt from the logged pages (the K items nearest the page's user
embedding, the light score over them), the same pages, steps and network:

  plain  a soft-label cross-entropy to the teacher's utility on every
         candidate (a small copy of the ranker);
  HAP    samples told apart as at serving: the hard band (the B nearest the
         cut) on a path of its own, a pairwise logistic loss on the
         teacher's order within the band, its pairs sampled conflict-first
         (pairs the light score orders against the teacher count double:
         those are what the strong model is there to fix); the easy
         candidates on the soft-label path at a low weight, so their
         gradients do not drown the band's.

Offline check on held-out pages (the last fifth): the share of the teacher's
top 50 among the M kept, with the light score alone, with each pre-ranker on
the hard band at `budget`, and with the teacher itself there (the ceiling
of that budget).
"""
import numpy as np
import torch

import ranker as rk
from progress import epochs as run_epochs


def candidates(u_emb, emb, bias, bias_w, K):
    """Top K by <u, item> (retrieval) and their light scores."""
    ip = emb @ u_emb
    k = min(K, ip.shape[0])
    rows = torch.topk(ip, k).indices
    return rows, ip[rows] + bias_w * bias[rows]


def hard_band(light, M, B):
    """Positions of the B light scores nearest the cut between the M-th and (M+1)-th best (hapRoute)."""
    if M >= light.shape[0] or B == 0:
        return torch.zeros(0, dtype=torch.int64)
    top = torch.topk(light, M + 1).values
    t = 0.5 * (top[M - 1] + top[M])
    return torch.topk(-(light - t).abs(), min(B, light.shape[0])).indices


def merged_keep(light, hard, strong, M):
    """The M kept after the strong scores replace the hard band's light scores on their scale (hapMerge)."""
    final = light.clone()
    if hard.numel() > 1 and strong.std() > 0:
        lh = light[hard]
        final[hard] = lh.mean() + (strong - strong.mean()) * (lh.std() / strong.std())
    return torch.topk(final, min(M, final.shape[0])).indices


def inputs(u, items_x, rows):
    """The pre-ranker's x0 for `rows`: the page's user part, then each item's part."""
    return torch.cat([u.expand(rows.shape[0], u.shape[0]), items_x[rows]], dim=1)


class Pages:
    """Per logged page: the candidates, their light scores, the teacher's utility, the hard band."""

    def __init__(self, x, page, w, items_x, emb, bias, bias_w, teacher, user_dim, K, M, budget, max_pages, gen):
        firsts = torch.unique(page, return_inverse=False)
        if firsts.numel() > max_pages:
            firsts = firsts[torch.randperm(firsts.numel(), generator=gen)[:max_pages]].sort().values
        first_row = {int(p): i for i, p in reversed(list(enumerate(page.tolist())))}
        d = emb.shape[1]
        self.pages = []
        with torch.no_grad():
            for p in firsts.tolist():
                r = first_row[p]
                u = x[r, :user_dim]
                rows, light = candidates(u[:d], emb, bias, bias_w, K)
                x0 = inputs(u, items_x, rows)
                probs = torch.sigmoid(teacher.logits(x0))
                wp = w[r]
                util = (probs * wp).sum(1) / wp.sum().clamp(min=1e-9)
                self.pages.append({"u": u, "rows": rows, "light": light, "util": util, "hard": hard_band(light, M, int(budget * rows.shape[0]))})


def soft_bce(z, target):
    return torch.nn.functional.binary_cross_entropy_with_logits(z, target.clamp(1e-6, 1 - 1e-6))


def hap_loss(model, pg, items_x, gen, pairs=256, easy_weight=0.1):
    """The hard band's pairwise loss (conflict pairs double) plus the easy candidates' soft labels at a low weight."""
    hard = pg["hard"]
    z_all = model.logits(inputs(pg["u"], items_x, pg["rows"]))[:, 0]
    easy = torch.ones(z_all.shape[0], dtype=torch.bool)
    easy[hard] = False
    loss = easy_weight * soft_bce(z_all[easy], pg["util"][easy])
    if hard.numel() > 1:
        i = hard[torch.randint(hard.numel(), (pairs,), generator=gen)]
        j = hard[torch.randint(hard.numel(), (pairs,), generator=gen)]
        du = pg["util"][i] - pg["util"][j]
        keep = du != 0
        sign = torch.sign(du[keep])
        conflict = (torch.sign(pg["light"][i] - pg["light"][j])[keep] != sign).float()
        margin = sign * (z_all[i][keep] - z_all[j][keep])
        wgt = 1.0 + conflict
        loss = loss + (wgt * torch.nn.functional.softplus(-margin)).sum() / wgt.sum().clamp(min=1.0)
    return loss


def plain_loss(model, pg, items_x):
    return soft_bce(model.logits(inputs(pg["u"], items_x, pg["rows"]))[:, 0], pg["util"])


def fit(shape, pages, items_x, hap, epochs, lr, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = rk.Dcn(shape, 0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(idx):
        pg = pages[int(idx[0])]
        loss = hap_loss(model, pg, items_x, gen) if hap else plain_loss(model, pg, items_x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    # One page per step, in a fresh order each epoch.
    history = run_epochs("pre-ranker (HAP)" if hap else "pre-ranker (plain)", epochs, len(pages), 1, lambda: torch.randperm(len(pages), generator=gen), step)
    return model, history


def kept_recall(pages, items_x, M, model=None, top=50):
    """Per page, the share of the teacher's top `top` among the M kept: light only (model None), with
    the model on the hard band, or with the teacher itself there ("teacher": the budget's ceiling)."""
    shares = []
    with torch.no_grad():
        for pg in pages:
            best = set(torch.topk(pg["util"], min(top, pg["util"].shape[0])).indices.tolist())
            if model is None:
                kept = torch.topk(pg["light"], min(M, pg["light"].shape[0])).indices
            elif model == "teacher":
                kept = merged_keep(pg["light"], pg["hard"], pg["util"][pg["hard"]], M)
            else:
                hard = pg["hard"]
                kept = merged_keep(pg["light"], hard, model.logits(inputs(pg["u"], items_x, pg["rows"][hard]))[:, 0], M)
            shares.append(len(best & set(kept.tolist())) / len(best))
    return shares


def train_prerankers(shape, data, teacher, epochs, lr, seed, K=1000, M=200, budget=0.2, max_pages=1500):
    """The HAP and the plain pre-ranker on the same pages, and their offline check on held-out pages."""
    gen = torch.Generator().manual_seed(seed)
    pages = Pages(data["x"], data["page"], data["w"], data["items_x"], data["emb"], data["bias"], data["bias_w"], teacher, shape["userDim"], K, M, budget, max_pages, gen).pages
    cut = max(1, int(0.8 * len(pages)))
    train, held = pages[:cut], pages[cut:] or pages[-1:]
    items_x = data["items_x"]
    hap, hap_hist = fit(shape, train, items_x, True, epochs, lr, seed)
    plain, plain_hist = fit(shape, train, items_x, False, epochs, lr, seed)
    check = {
        "pages": {"train": len(train), "heldOut": len(held)},
        "K": K, "M": M, "budget": budget,
        "perPage": {name: kept_recall(held, items_x, M, m) for name, m in (("light", None), ("plain", plain), ("hap", hap), ("teacher", "teacher"))},
        "loss": {"hap": hap_hist, "plain": plain_hist},
    }
    check["teacherTop50Kept"] = {name: float(np.mean(v)) for name, v in check["perPage"].items()}
    return hap, plain, check
