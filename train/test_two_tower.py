"""Unit tests of train/two_tower.py: the tower's shapes and its cold user,
padding, the log-uniform sampler, frozen item embeddings, and the sampled
softmax on a hand-computed case.

    python3 -m unittest discover -s train -p 'test_*.py'
"""
import math
import os
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import two_tower as tt  # noqa: E402


class TwoTowerTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(4)

    def inputs(self, b=3, seq=5, d=8):
        items = tt.unit(torch.randn(b, seq, d))
        action = torch.randint(1, tt.ACTIONS, (b, seq))
        return items, torch.randn(b, seq), action, torch.rand(b, seq) * 30

    def test_outputs_have_the_engine_shapes_and_unit_user_embeddings(self):
        tower = tt.UserTower(8)
        emb, pp = tower(*self.inputs())
        self.assertEqual(tuple(emb.shape), (3, 8))
        self.assertEqual(tuple(pp.shape), (3, 1))
        self.assertTrue(torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5))

    def test_a_cold_user_gets_zeros_and_padding_changes_nothing(self):
        tower = tt.UserTower(8)
        items, price, action, age = self.inputs(b=2)
        action[1] = 0  # all padding: a cold user
        emb, pp = tower(items * (action != 0).unsqueeze(-1), price, action, age)
        self.assertTrue(torch.equal(emb[1], torch.zeros(8)))
        self.assertEqual(pp[1].item(), 0.0)
        # The same sequence with padding in front (as the engine pads) gives the same output.
        pad = lambda x, v: torch.cat([torch.full_like(x[:1, :2, ...], v), x[:1]], dim=1)  # noqa: E731
        emb2, pp2 = tower(pad(items, 0.0), pad(price, 0.0), pad(action, 0), pad(age, 0.0))
        self.assertTrue(torch.allclose(emb2[0], emb[0], atol=1e-5))
        self.assertTrue(torch.allclose(pp2[0], pp[0], atol=1e-5))

    def test_the_log_uniform_sampler_draws_frequent_items_more_and_its_probabilities_sum_to_one(self):
        counts = np.array([1.0, 50.0, 5.0, 0.0, 20.0])
        s = tt.LogUniform(counts, torch.Generator().manual_seed(1))
        self.assertAlmostEqual(float(s.log_q.exp().sum()), 1.0, places=6)
        self.assertEqual(s.by_rank[:3].tolist(), [1, 4, 2])
        draws = torch.bincount(s.sample(20000), minlength=5).double() / 20000
        self.assertTrue(torch.allclose(draws, s.log_q.exp().double(), atol=0.02), f"{draws} vs {s.log_q.exp()}")
        # P(rank 0) = log 2 / log 6.
        self.assertAlmostEqual(float(s.log_q[1].exp()), math.log(2) / math.log(6), places=6)

    def test_frozen_item_embeddings_are_the_content_embeddings(self):
        content = tt.unit(torch.randn(10, 8))
        model = tt.TwoTower(content, 4, 3, frozen=True)
        self.assertFalse(model.items.weight.requires_grad)
        self.assertTrue(torch.allclose(model.item_vectors(torch.arange(10)), content, atol=1e-6))
        trainable = tt.TwoTower(content, 4, 3, frozen=False)
        self.assertTrue(trainable.items.weight.requires_grad)

    def test_sampled_softmax_loss_on_a_hand_computed_case(self):
        # One query q = (1, 0); the positive (1, 0) with Q 0.5; negatives (0.5, 0) with Q 0.25 and an accidental hit.
        q = torch.tensor([[1.0, 0.0]])
        v_pos = torch.tensor([[1.0, 0.0]])
        v_neg = torch.tensor([[0.5, 0.0], [1.0, 0.0]])
        log_q_pos = torch.log(torch.tensor([0.5]))
        log_q_neg = torch.log(torch.tensor([0.25, 0.5]))
        hit = torch.tensor([[False, True]])
        loss = tt.sampled_softmax_loss(q, v_pos, v_neg, log_q_pos, log_q_neg, hit, 2.0)
        a, b = 2.0 - math.log(0.5), 1.0 - math.log(0.25)
        self.assertAlmostEqual(loss.item(), -a + math.log(math.exp(a) + math.exp(b)), places=5)

if __name__ == "__main__":
    unittest.main()
