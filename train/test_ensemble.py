"""Unit tests of train/ensemble.py: the pairwise AUC loss on hand-computed
cases, and the MLP's input and export."""
import math
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(__file__))
import ensemble  # noqa: E402


def softplus(x):
    return math.log1p(math.exp(x))


class EnsembleTest(unittest.TestCase):
    def test_loss_of_one_pair(self):
        loss = ensemble.pairwise_auc_loss(torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0]), torch.tensor([0, 0]))
        self.assertAlmostEqual(loss.item(), softplus(-2.0), places=6)

    def test_loss_weights_pairs_by_their_relevance_gap_and_ignores_other_pages_and_ties(self):
        scores = torch.tensor([0.0, 1.0, 3.0, 5.0, 9.0])
        rel = torch.tensor([2.0, 0.0, 1.0, 1.0, 0.0])
        page = torch.tensor([0, 0, 0, 1, 2])  # items 3 and 4 are alone on their pages
        want = (2 * softplus(1.0) + 1 * softplus(3.0) + 1 * softplus(-2.0)) / 4
        self.assertAlmostEqual(ensemble.pairwise_auc_loss(scores, rel, page).item(), want, places=6)

    def test_no_pairs_gives_zero_with_a_gradient(self):
        s = torch.tensor([1.0, 2.0], requires_grad=True)
        loss = ensemble.pairwise_auc_loss(s, torch.tensor([1.0, 1.0]), torch.tensor([0, 0]))
        loss.backward()
        self.assertEqual(loss.item(), 0.0)

    def test_the_mlp_reads_p_w_and_their_product_and_exports_its_layers(self):
        torch.manual_seed(1)
        net = ensemble.Ensemble(2, [3])
        p, w = torch.tensor([[0.5, 0.25]]), torch.tensor([[1.0, 2.0]])
        a = torch.tensor([[0.5, 0.25, 1.0, 2.0, 0.5, 0.5]])
        l0, l1 = net.layers
        want = l1(torch.relu(l0(a)))[:, 0]
        self.assertTrue(torch.allclose(net(p, w), want))
        t = net.serving_tensors()
        self.assertEqual({k: v.shape for k, v in t.items()}, {"layer.0.weight": (3, 6), "layer.0.bias": (3,), "layer.1.weight": (1, 3), "layer.1.bias": (1,)})


if __name__ == "__main__":
    unittest.main()
