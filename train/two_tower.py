"""The two-tower retrieval model, trained from the logs (PyTorch).

Reads what tools/train/sequences.ts wrote (tt_*.npy: per engagement the
user's action sequence before it, the item, the request's context; the
catalog's content embeddings and log prices) and writes:

  user_tower.onnx       the user tower, with the inputs and outputs the engine
                        feeds and reads (src/models/user-tower.ts): items
                        [B, L, d], log_price [B, L], action [B, L] int64,
                        age_days [B, L] -> user_emb [B, d], price_pref [B, 1]
  item_embeddings.npy   the item tower's embeddings (unit rows), n x d
  page_user.npy         the trained tower's user_emb | price_pref at each
                        logged page (the ranker's user features, recomputed)
  tt_parity_*.npy       inputs and PyTorch outputs for the ONNX parity check

The user tower is a transformer encoder (pre-norm blocks, self-attention
over the sequence) whose tokens are the acted-on item's embedding, the
action type, the action's age and the item's price; a learned user token
at the end of the sequence reads the whole sequence, and its output,
projected, is added to a learned recency- and action-weighted pooling of
the sequence's item embeddings (a skip path, so training starts from the
plain average taste); normalised, that is the user embedding (Zalando RCG:
one output position is the customer embedding). Item embeddings are trainable and
start from the content embeddings (Zalando RCG_tr); the same table is the
tower's input, so what the engine serves (the catalog's embeddings in the
tower and in the index) is what was trained. --frozen keeps them at the
content embeddings (the ablation, RCG_ntr). The loss is a sampled softmax
over the engaged item and shared negatives drawn log-uniformly by the
items' frequency rank, with the logQ correction (Zalando: log-uniform
sampling). Context debiasing (Yandex): a context tower (surface, device)
adds its own term to the training logits and is left out at serving, so the
user tower need not learn what the request's context already tells the
ranker. The preferred price is an attention pooling of the sequence's
prices, fitted to the engaged items' prices.

    python3 train/two_tower.py --data DIR --out DIR [--epochs 3] [--batch 512]
        [--epoch-examples 65536] [--negatives 512] [--lr 0.002] [--seed 1] [--frozen]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from progress import epochs  # noqa: E402

ACTIONS = 6  # codes 0 (padding) .. 5 (purchase), src/models/schema.ts


def unit(x, eps=1e-12):
    return x / torch.sqrt((x * x).sum(-1, keepdim=True) + eps)


class Block(nn.Module):
    """A pre-norm transformer encoder block written with plain ops (exports to any ONNX opset)."""

    def __init__(self, d, heads, ff):
        super().__init__()
        self.heads = heads
        self.dh = d // heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)

    def forward(self, x, bias):
        b, t, d = x.shape
        qkv = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        att = torch.softmax(qkv[0] @ qkv[1].transpose(-1, -2) * (self.dh ** -0.5) + bias, dim=-1)
        o = (att @ qkv[2]).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(o)
        return x + self.ff2(torch.relu(self.ff1(self.ln2(x))))


class UserTower(nn.Module):
    def __init__(self, d, width=32, layers=2, heads=2):
        super().__init__()
        self.item = nn.Linear(d, width)
        self.action = nn.Embedding(ACTIONS, width)
        self.age = nn.Linear(1, width)
        self.price = nn.Linear(1, width)
        self.user = nn.Parameter(torch.zeros(1, 1, width))
        self.blocks = nn.ModuleList([Block(width, heads, 2 * width) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.out = nn.Linear(width, d)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        # A skip path: softmax(a[action] - age / tau) pooling of the item
        # embeddings, so training starts from a recency-weighted taste.
        self.pool_w = nn.Parameter(torch.tensor([0.0, -6.0, 0.0, 0.5, 1.0, 1.5]))
        self.pool_inv_tau = nn.Parameter(torch.tensor([0.05]))
        # Preferred price: softmax(w[action] - age / tau) pooling of the prices.
        self.price_w = nn.Parameter(torch.zeros(ACTIONS))
        self.price_inv_tau = nn.Parameter(torch.tensor([0.05]))

    def forward(self, items, log_price, action, age_days):
        valid = (action != 0).to(torch.float32)  # [B, L]
        tok = self.item(items) + self.action(action) + self.age(torch.log1p(age_days).unsqueeze(-1)) + self.price(log_price.unsqueeze(-1))
        b = tok.shape[0]
        x = torch.cat([tok, self.user.expand(b, 1, self.user.shape[2])], dim=1)
        keep = torch.cat([valid, torch.ones_like(valid[:, :1])], dim=1)
        bias = ((keep - 1.0) * 1e4).unsqueeze(1).unsqueeze(1)  # [B, 1, 1, L + 1]
        for block in self.blocks:
            x = block(x, bias)
        any_valid = valid.max(dim=1, keepdim=True).values  # [B, 1]: 0 for a cold user
        pad = (valid - 1.0) * 1e4
        pooled = (torch.softmax(self.pool_w[action] - age_days * self.pool_inv_tau + pad, dim=-1).unsqueeze(1) @ items).squeeze(1)
        user_emb = unit(pooled + self.out(self.ln(x[:, -1]))) * any_valid
        s = self.price_w[action] - age_days * self.price_inv_tau + pad
        price_pref = (torch.softmax(s, dim=-1) * log_price).sum(-1, keepdim=True) * any_valid
        return user_emb, price_pref


class TwoTower(nn.Module):
    def __init__(self, content, surfaces, devices, frozen):
        super().__init__()
        n, d = content.shape
        # Sparse gradients: a step touches only its batch's and negatives' rows (SparseAdam).
        self.items = nn.Embedding(n, d, sparse=True)
        with torch.no_grad():
            self.items.weight.copy_(content)
        self.items.weight.requires_grad_(not frozen)
        self.tower = UserTower(d)
        # Context debiasing: used in training only.
        self.surface = nn.Embedding(surfaces + 1, d)
        self.device = nn.Embedding(devices + 1, d)
        nn.init.zeros_(self.surface.weight)
        nn.init.zeros_(self.device.weight)
        self.log_scale = nn.Parameter(torch.tensor([math.log(10.0)]))

    def item_vectors(self, rows):
        return unit(self.items(rows))

    def user(self, rows, code, age, log_price_table):
        r = rows.clamp(min=0)
        items = self.item_vectors(r) * (rows >= 0).unsqueeze(-1).to(torch.float32)
        return self.tower(items, log_price_table[r] * (rows >= 0).to(torch.float32), code, age)


class LogUniform:
    """Negatives by frequency rank k with P(k) = log((k + 2) / (k + 1)) / log(n + 1)."""

    def __init__(self, counts, gen):
        self.n = len(counts)
        self.by_rank = torch.from_numpy(np.argsort(-counts, kind="stable"))
        rank = torch.empty(self.n, dtype=torch.int64)
        rank[self.by_rank] = torch.arange(self.n)
        self.log_q = torch.log(torch.log((rank + 2.0) / (rank + 1.0)) / math.log(self.n + 1.0))
        self.gen = gen

    def sample(self, s):
        u = torch.rand(s, generator=self.gen, dtype=torch.float64)
        k = (torch.exp(u * math.log(self.n + 1.0)) - 1.0).long().clamp(0, self.n - 1)
        return self.by_rank[k]


def sampled_softmax_loss(q, v_pos, v_neg, log_q_pos, log_q_neg, hit, scale):
    """Mean cross-entropy of the positive among [positive, shared negatives]: logits
    scale * <q, v> - log Q(item) (the logQ correction), a negative equal to the
    row's positive (`hit`, [B, S]) left out."""
    pos = scale * (q * v_pos).sum(-1, keepdim=True) - log_q_pos.unsqueeze(1)
    neg = (scale * (q @ v_neg.T) - log_q_neg.unsqueeze(0)).masked_fill(hit, -1e9)
    logits = torch.cat([pos, neg], dim=1)
    return nn.functional.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.int64))


def load(data, name):
    return torch.from_numpy(np.load(os.path.join(data, name)))


def train(args):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    gen = torch.Generator().manual_seed(args.seed)
    with open(os.path.join(args.data, "tt_meta.json")) as f:
        meta = json.load(f)
    content = load(args.data, "tt_item_emb.npy")
    log_price = load(args.data, "tt_item_logprice.npy")
    rows = load(args.data, "tt_train_rows.npy").long()
    code = load(args.data, "tt_train_code.npy").long()
    age = load(args.data, "tt_train_age.npy")
    target = load(args.data, "tt_train_target.npy").long()
    ctx = load(args.data, "tt_train_ctx.npy").long()
    n = rows.shape[0]
    if n == 0:
        raise SystemExit("no engagement with a history before it in the logs: nothing to train the two-tower model on")
    model = TwoTower(content, len(meta["surfaces"]), len(meta["devices"]), args.frozen)
    sampler = LogUniform(np.bincount(target.numpy(), minlength=content.shape[0]).astype(np.float64), gen)
    dense = [p for name, p in model.named_parameters() if p.requires_grad and name != "items.weight"]
    opts = [torch.optim.Adam(dense, lr=args.lr)]
    if not args.frozen:
        opts.append(torch.optim.SparseAdam([model.items.weight], lr=args.lr))
    m = min(n, args.epoch_examples) if args.epoch_examples > 0 else n
    t0 = time.time()
    model.train()

    def step(idx):
        u, pp = model.user(rows[idx], code[idx], age[idx], log_price)
        q = u + model.surface(ctx[idx, 0]) + model.device(ctx[idx, 1])
        neg = sampler.sample(args.negatives)
        t = target[idx]
        scale = model.log_scale.exp().clamp(max=100.0)
        loss = sampled_softmax_loss(q, model.item_vectors(t), model.item_vectors(neg), sampler.log_q[t], sampler.log_q[neg], neg.unsqueeze(0) == t.unsqueeze(1), scale)
        loss = loss + 0.1 * ((pp.squeeze(1) - log_price[t]) ** 2).mean()
        for opt in opts:
            opt.zero_grad()
        loss.backward()
        for opt in opts:
            opt.step()
        return loss.item()

    history = epochs("two-tower", args.epochs, m, args.batch, lambda: torch.randperm(n, generator=gen)[:m], step)
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    with torch.no_grad():
        emb = model.item_vectors(torch.arange(content.shape[0])).numpy().astype("<f4")
    np.save(os.path.join(args.out, "item_embeddings.npy"), emb)
    write_pages(args, model, log_price)
    export_onnx(args, model, log_price)
    summary = {"examples": n, "epochExamples": m, "epochs": args.epochs, "loss": history, "seconds": time.time() - t0, "frozen": args.frozen}
    with open(os.path.join(args.out, "two-tower-summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def write_pages(args, model, log_price):
    """The trained tower at each logged page: user_emb | price_pref, the ranker's recomputed user part."""
    rows = load(args.data, "tt_page_rows.npy").long()
    code = load(args.data, "tt_page_code.npy").long()
    age = load(args.data, "tt_page_age.npy")
    outs = []
    with torch.no_grad():
        for start in range(0, rows.shape[0], 1024):
            u, pp = model.user(rows[start:start + 1024], code[start:start + 1024], age[start:start + 1024], log_price)
            outs.append(torch.cat([u, pp], dim=1))
    d = model.items.weight.shape[1]
    page = torch.cat(outs).numpy() if outs else np.zeros((0, d + 1))
    np.save(os.path.join(args.out, "page_user.npy"), page.astype("<f4"))


def export_onnx(args, model, log_price):
    """The user tower as ONNX, fed item embeddings as the engine feeds them, and its parity inputs and outputs."""
    rows = load(args.data, "tt_train_rows.npy")[:32].long()
    code = load(args.data, "tt_train_code.npy")[:32].long()
    age = load(args.data, "tt_train_age.npy")[:32]
    with torch.no_grad():
        r = rows.clamp(min=0)
        pad = (rows >= 0).to(torch.float32)
        items = model.item_vectors(r) * pad.unsqueeze(-1)
        lp = log_price[r] * pad
        inputs = (items, lp, code, age)
        emb, pp = model.tower(*inputs)
    path = os.path.join(args.out, "user_tower.onnx")
    torch.onnx.export(
        model.tower, inputs, path, input_names=["items", "log_price", "action", "age_days"], output_names=["user_emb", "price_pref"],
        dynamic_axes={"items": {0: "batch", 1: "seq"}, "log_price": {0: "batch", 1: "seq"}, "action": {0: "batch", 1: "seq"},
                      "age_days": {0: "batch", 1: "seq"}, "user_emb": {0: "batch"}, "price_pref": {0: "batch"}},
        opset_version=14, do_constant_folding=True)
    for name, arr in (("items", items), ("log_price", lp), ("action", code.to(torch.float32)), ("age_days", age), ("user_emb", emb), ("price_pref", pp)):
        np.save(os.path.join(args.out, f"tt_parity_{name}.npy"), arr.numpy().astype("<f4"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--epoch-examples", type=int, default=65536, help="engagements per epoch, a fresh random sample each (0: all)")
    p.add_argument("--negatives", type=int, default=512)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--frozen", action="store_true", help="keep the item embeddings at the content embeddings (the ablation)")
    s = train(p.parse_args())
    print(json.dumps(s))


if __name__ == "__main__":
    main()
