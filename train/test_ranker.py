"""Unit tests of train/ranker.py: the network's shapes, the safetensors
writer, and the position branch (the examination of a position-based click
model, left out at serving).

    python3 -m unittest discover -s train -p 'test_*.py'
"""
import json
import os
import struct
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import ranker  # noqa: E402

SHAPE = {"inputDim": 7, "userDim": 3, "crossLayers": 2, "crossRank": 0, "mlp": [5, 4], "heads": 2, "structure": "parallel"}


class RankerTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(3)

    def test_serving_tensors_have_the_engine_names_and_shapes(self):
        model = ranker.Dcn(SHAPE, positions=4)
        t = model.serving_tensors()
        self.assertEqual(sorted(t), sorted(["cross.0.weight", "cross.0.bias", "cross.1.weight", "cross.1.bias", "mlp.0.weight", "mlp.0.bias", "mlp.1.weight", "mlp.1.bias", "heads.weight", "heads.bias"]))
        self.assertEqual(t["cross.0.weight"].shape, (7, 7))
        self.assertEqual(t["mlp.0.weight"].shape, (5, 7))
        self.assertEqual(t["mlp.1.weight"].shape, (4, 5))
        self.assertEqual(t["heads.weight"].shape, (2, 7 + 4))
        self.assertTrue(all(a.dtype == np.float32 for a in t.values()))

    def test_the_serving_weights_are_the_network_at_position_one(self):
        model = ranker.Dcn(SHAPE, positions=4)
        with torch.no_grad():
            model.position.weight.copy_(torch.randn(5, 2))
        x = torch.randn(6, 7)
        plain = ranker.Dcn(SHAPE, positions=0)
        t = model.serving_tensors()
        with torch.no_grad():
            for l, layer in enumerate(plain.cross):
                layer.weight.copy_(torch.from_numpy(t[f"cross.{l}.weight"]))
                layer.bias.copy_(torch.from_numpy(t[f"cross.{l}.bias"]))
            for j, layer in enumerate(plain.mlp):
                layer.weight.copy_(torch.from_numpy(t[f"mlp.{j}.weight"]))
                layer.bias.copy_(torch.from_numpy(t[f"mlp.{j}.bias"]))
            plain.heads.weight.copy_(torch.from_numpy(t["heads.weight"]))
            plain.heads.bias.copy_(torch.from_numpy(t["heads.bias"]))
            self.assertTrue(torch.allclose(plain.logits(x), model.logits(x), atol=1e-6))
            # Position 1 examines with probability 1: its loss is the plain binary cross-entropy.
            y = (torch.rand(6, 2) < 0.5).float()
            first = torch.ones(6, dtype=torch.int64)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(model.logits(x), y)
            self.assertAlmostEqual(model.loss(x, first, y).item(), bce.item(), places=5)

    def test_the_loss_at_a_lower_position_is_that_of_exam_times_the_probability(self):
        model = ranker.Dcn(SHAPE, positions=4)
        with torch.no_grad():
            model.position.weight.copy_(torch.tensor([[0.0, 0.0], [0.3, 0.1], [0.0, 0.0], [-0.4, -1.1], [0.0, 0.0]]))
            x = torch.randn(3, 7)
            y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
            third = torch.full((3,), 3, dtype=torch.int64)
            exam = torch.exp(torch.tensor([-0.7, -1.2]))  # rows 3 - 1 of the branch
            p = exam * torch.sigmoid(model.logits(x))
            want = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
            self.assertAlmostEqual(model.loss(x, third, y).item(), want.item(), places=5)

    def test_the_position_branch_learns_the_examination_of_position_based_clicks(self):
        # Clicks drawn as exam(p) * c(x) with exam(p) = p^-0.7, positions independent of x:
        # the branch's log-examination comes out as -0.7 log p.
        n, d = 20000, 7
        x = torch.randn(n, d)
        pos = torch.randint(1, 6, (n,))
        c = torch.sigmoid(x[:, 0] - 0.5)
        exam = pos.float() ** -0.7
        y = (torch.rand(n) < exam * c).float().unsqueeze(1).repeat(1, 2)
        model = ranker.Dcn(SHAPE, positions=5)
        groups = [{"params": [q for k, q in model.named_parameters() if not k.startswith("position.")]}, {"params": model.position.parameters(), "lr": 0.05}]
        opt = torch.optim.Adam(groups, lr=0.01)
        for _ in range(4):
            for idx in torch.randperm(n).split(256):
                opt.zero_grad()
                model.loss(x[idx], pos[idx], y[idx]).backward()
                opt.step()
        with torch.no_grad():
            learned = model.log_exam(torch.arange(1, 6))[:, 0]
        want = -0.7 * torch.log(torch.arange(1, 6).float())
        self.assertLess((learned - want).abs().max().item(), 0.15, f"learned {learned.tolist()}, want {want.tolist()}")

    def test_the_cross_layer_is_the_engines(self):
        model = ranker.Dcn({**SHAPE, "crossLayers": 1, "mlp": []}, positions=0)
        x = torch.randn(3, 7)
        with torch.no_grad():
            w, b = model.cross[0].weight, model.cross[0].bias
            x1 = x * (x @ w.T + b) + x
            want = torch.cat([x1, x], dim=1) @ model.heads.weight.T + model.heads.bias
            self.assertTrue(torch.allclose(model.logits(x), want, atol=1e-6))

    def test_safetensors_round_trip(self):
        tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1.5, -2.0], dtype=np.float32)}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.safetensors")
            ranker.write_safetensors(path, tensors, "test")
            with open(path, "rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                self.assertEqual(n % 8, 0)
                header = json.loads(f.read(n))
                data = f.read()
        self.assertEqual(header["__metadata__"]["about"], "test")
        for name, arr in tensors.items():
            lo, hi = header[name]["data_offsets"]
            self.assertEqual(header[name]["shape"], list(arr.shape))
            np.testing.assert_array_equal(np.frombuffer(data[lo:hi], dtype="<f4").reshape(arr.shape), arr)


if __name__ == "__main__":
    unittest.main()
