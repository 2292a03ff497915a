"""The DCN-v2 multi-task ranker, trained from the logs (PyTorch).

Reads what tools/train/export.ts wrote (x.npy: the ranker's inputs as served,
y.npy: click / wishlist / cart / purchase labels, pos.npy: the positions) and
the source bundle's ranker.json (the shape to train), and writes the weights
in the bundle format (ranker.safetensors, the tensor names and layout the
engine's native DCN-v2 reads) and the ranker's config.

The network is the engine's: x_{l+1} = x0 * (W_l x_l + b_l) + x_l for each
cross layer, an MLP with ReLU on x0 (parallel structure), heads on
[x_L, h], one sigmoid per objective; the loss is the mean of the heads'
binary cross-entropies. Position debiasing (Zalando, section 5.3): during
training a position branch gives each position's examination, one learned
log-probability per position and head relative to position 1, and the
network is fitted to P(action at p) = exam(p) * sigmoid(z) (the
position-based click model: an item is acted on if looked at and wanted), so
it need not explain the position bias with the items; at serving the
position is fixed to the first one, whose examination is 1 by construction:
the heads are served as they are. --no-position trains without it (the
ablation). The branch learns at its own rate (--position-lr): Adam moves a
parameter by about the learning rate per step, and the network's rate over
a few hundred steps cannot reach the lower positions' bias.

With --ensemble WIDTHS (e.g. 16,8) it then trains the learned ensemble
(train/ensemble.py) on the trained ranker's serving outputs and writes
ensemble.safetensors and ensemble.json too.

    python3 train/ranker.py --data DIR --config ranker.json --out DIR
        [--epochs 3] [--batch 512] [--lr 0.002] [--position-lr 0.05] [--seed 1] [--no-position]
        [--ensemble 16,8]
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ensemble as ens  # noqa: E402
from progress import epochs  # noqa: E402


class Dcn(nn.Module):
    def __init__(self, shape, positions):
        super().__init__()
        d = shape["inputDim"]
        if shape.get("crossRank", 0) != 0 or shape.get("structure", "stacked") != "parallel":
            raise SystemExit("only full-rank parallel DCN-v2 shapes are trained here")
        self.cross = nn.ModuleList([nn.Linear(d, d) for _ in range(shape["crossLayers"])])
        widths = [d] + list(shape["mlp"])
        self.mlp = nn.ModuleList([nn.Linear(widths[j], widths[j + 1]) for j in range(len(shape["mlp"]))])
        self.heads = nn.Linear(d + widths[-1], shape["heads"])
        # Per-position log-examination (training only), read relative to row 1; row 0 is unused (positions are 1-based).
        self.position = nn.Embedding(positions + 1, shape["heads"]) if positions > 0 else None
        if self.position is not None:
            nn.init.zeros_(self.position.weight)

    def logits(self, x0):
        """The heads' logits as served (position 1)."""
        x = x0
        for layer in self.cross:
            x = x0 * layer(x) + x
        h = x0
        for layer in self.mlp:
            h = torch.relu(layer(h))
        return self.heads(torch.cat([x, h], dim=1))

    def log_exam(self, pos):
        """log exam(p) per head, relative to position 1 (0 there)."""
        return self.position(pos) - self.position.weight[1]

    def loss(self, x0, pos, y):
        """Mean binary cross-entropy of the heads; with the position branch, of exam(p) * sigmoid(z)."""
        z = self.logits(x0)
        if self.position is None:
            return nn.functional.binary_cross_entropy_with_logits(z, y)
        logp = (self.log_exam(pos) + nn.functional.logsigmoid(z)).clamp(max=-1e-6)
        return -(y * logp + (1 - y) * torch.log1p(-torch.exp(logp))).mean()

    def serving_tensors(self):
        """The weights as the engine reads them (position 1: the heads as they are)."""
        out = {}
        for l, layer in enumerate(self.cross):
            out[f"cross.{l}.weight"] = layer.weight
            out[f"cross.{l}.bias"] = layer.bias
        for j, layer in enumerate(self.mlp):
            out[f"mlp.{j}.weight"] = layer.weight
            out[f"mlp.{j}.bias"] = layer.bias
        out["heads.weight"] = self.heads.weight
        out["heads.bias"] = self.heads.bias
        return {k: v.detach().to(torch.float32).contiguous().numpy() for k, v in out.items()}


def write_safetensors(path, tensors, about):
    """Writes F32 tensors in the safetensors format (8-byte header length, JSON header, raw data)."""
    header = {"__metadata__": {"format": "pt", "about": about}}
    offset = 0
    blobs = []
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def train(args):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    x = torch.from_numpy(np.load(os.path.join(args.data, "x.npy")))
    y = torch.from_numpy(np.load(os.path.join(args.data, "y.npy")))
    pos = torch.from_numpy(np.load(os.path.join(args.data, "pos.npy")).astype(np.int64))
    with open(args.config) as f:
        config = json.load(f)
    shape = config["shape"]
    if x.shape[1] != shape["inputDim"] or y.shape[1] != shape["heads"]:
        raise SystemExit(f"data is {x.shape[1]} inputs x {y.shape[1]} labels, the ranker takes {shape['inputDim']} x {shape['heads']}")
    positions = 0 if args.no_position else int(pos.max().item())
    model = Dcn(shape, positions)
    # The position branch gets a learning rate of its own: Adam moves a
    # parameter by about lr per step, so at the network's rate a few hundred
    # steps cannot reach the lower positions' examination (log exam about -2 at 20).
    groups = [{"params": [p for n, p in model.named_parameters() if not n.startswith("position.")]}]
    if model.position is not None:
        groups.append({"params": model.position.parameters(), "lr": args.position_lr})
    opt = torch.optim.Adam(groups, lr=args.lr)
    n = x.shape[0]
    t0 = time.time()

    def step(idx):
        opt.zero_grad()
        loss = model.loss(x[idx], pos[idx], y[idx])
        loss.backward()
        opt.step()
        return loss.item()

    history = epochs("ranker", args.epochs, n, args.batch, lambda: torch.randperm(n), step)
    os.makedirs(args.out, exist_ok=True)
    tensors = model.serving_tensors()
    about = f"multi-task ranker trained from logs ({n} served items, {args.epochs} epochs, position debiasing {'off' if args.no_position else 'on'})"
    write_safetensors(os.path.join(args.out, "ranker.safetensors"), tensors, about)
    with open(os.path.join(args.out, "ranker.json"), "w") as f:
        json.dump({**config, "about": about}, f, indent=2)
        f.write("\n")
    # Serving-path outputs on a few rows, for the parity check against the native DCN-v2.
    with torch.no_grad():
        check_x = x[: min(64, n)]
        probs = torch.sigmoid(model.logits(check_x))
    np.save(os.path.join(args.out, "parity_x.npy"), check_x.numpy().astype("<f4"))
    np.save(os.path.join(args.out, "parity_p.npy"), probs.numpy().astype("<f4"))
    curve = None
    if model.position is not None:
        # The learned log-examination of clicks per position (the click head is the first), 0 at position 1.
        with torch.no_grad():
            curve = model.log_exam(torch.arange(1, model.position.num_embeddings))[:, 0].tolist()
    summary = {"rows": n, "epochs": args.epochs, "loss": history, "seconds": time.time() - t0, "positionLogExam": curve}
    if args.ensemble:
        summary["ensembleLoss"] = train_ensemble_on(args, model, x, y)
    if args.preranker:
        summary["preranker"] = train_prerankers_on(args, model, x)
    with open(os.path.join(args.out, "train-summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def train_ensemble_on(args, model, x, y):
    """The learned ensemble on the trained ranker's serving outputs (position 1), written beside the ranker."""
    hidden = [int(h) for h in args.ensemble.split(",") if h]
    w = torch.from_numpy(np.load(os.path.join(args.data, "w.npy")))
    page = torch.from_numpy(np.load(os.path.join(args.data, "page.npy")).astype(np.int64))
    with torch.no_grad():
        p = torch.sigmoid(model.logits(x))
    net, history = ens.train_ensemble(p, w, y, page, hidden, args.epochs, 64, args.lr, args.seed, lambda m: sys.stderr.write(m + "\n"))
    about = f"learned ensemble {args.ensemble} trained with a pairwise AUC loss on {int(page.max().item()) + 1} pages"
    write_safetensors(os.path.join(args.out, "ensemble.safetensors"), net.serving_tensors(), about)
    with open(os.path.join(args.out, "ensemble.json"), "w") as f:
        json.dump({"format": "mlp-v1", "hidden": hidden, "about": about}, f, indent=2)
        f.write("\n")
    with torch.no_grad():
        k = min(64, x.shape[0])
        np.save(os.path.join(args.out, "ens_parity_p.npy"), p[:k].numpy().astype("<f4"))
        np.save(os.path.join(args.out, "ens_parity_w.npy"), w[:k].numpy().astype("<f4"))
        np.save(os.path.join(args.out, "ens_parity_s.npy"), net(p[:k], w[:k]).numpy().astype("<f4"))
    return history


def train_prerankers_on(args, teacher, x):
    """The strong pre-ranker the HAP way and a plain one (train/preranker.py), the HAP one written as the bundle's."""
    import preranker as pr

    with open(args.preranker) as f:
        config = json.load(f)
    shape = config["shape"]
    with open(os.path.join(args.data, "meta.json")) as f:
        meta = json.load(f)
    items_x = torch.from_numpy(np.load(os.path.join(args.data, "items_x.npy")))
    d = items_x.shape[1] - 4
    data = {
        "x": x, "page": torch.from_numpy(np.load(os.path.join(args.data, "page.npy")).astype(np.int64)),
        "w": torch.from_numpy(np.load(os.path.join(args.data, "w.npy"))), "items_x": items_x,
        "emb": items_x[:, :d].contiguous(), "bias": items_x[:, d + 3].contiguous(), "bias_w": float(meta.get("biasWeight", 0.0)),
    }
    sys.stderr.write("pre-ranker: candidate lists from the logged pages, the trained ranker as the teacher\n")
    hap, plain, check = pr.train_prerankers(shape, data, teacher, args.epochs, args.lr, args.seed)
    for name, net in (("preranker", hap), ("preranker-plain", plain)):
        about = f"strong pre-ranker trained from logs ({'HAP: hard band pairwise, easy soft labels' if name == 'preranker' else 'plain: soft labels on every candidate'}), teacher: the trained ranker"
        write_safetensors(os.path.join(args.out, f"{name}.safetensors"), net.serving_tensors(), about)
        with open(os.path.join(args.out, f"{name}.json"), "w") as f:
            json.dump({**config, "about": about}, f, indent=2)
            f.write("\n")
    with torch.no_grad():
        k = min(64, x.shape[0])
        np.save(os.path.join(args.out, "prerank_parity_x.npy"), x[:k, : shape["inputDim"]].numpy().astype("<f4"))
        for name, net in (("preranker", hap), ("preranker-plain", plain)):
            np.save(os.path.join(args.out, f"{name}_parity_p.npy"), torch.sigmoid(net.logits(x[:k, : shape["inputDim"]])).numpy().astype("<f4"))
    return check


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-position", action="store_true")
    p.add_argument("--position-lr", type=float, default=0.05, help="learning rate of the position branch")
    p.add_argument("--ensemble", default="", help="hidden widths of the learned ensemble, e.g. 16,8 (default: none)")
    p.add_argument("--preranker", default="", help="the pre-ranker's config (its shape): also train it, the HAP way and plain")
    s = train(p.parse_args())
    print(json.dumps({k: s[k] for k in ("rows", "epochs", "loss", "seconds")}))


if __name__ == "__main__":
    main()
