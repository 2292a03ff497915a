"""Unit tests of train/preranker.py: the hard band and the merge as the engine
routes and merges (hapRoute, hapMerge), and the HAP loss.

    python3 -m unittest discover -s train -p 'test_*.py'
"""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(__file__))
import preranker as pr  # noqa: E402
import ranker as rk  # noqa: E402


class PrerankerTest(unittest.TestCase):
    def test_the_hard_band_is_the_budget_nearest_the_keep_cut(self):
        light = torch.tensor([9.0, 1.0, 5.0, 4.0, 8.0, 3.0, 2.0])
        # Keep 3: the cut lies between 5 (3rd) and 4 (4th), at 4.5; the two nearest are 5 and 4.
        self.assertEqual(sorted(pr.hard_band(light, 3, 2).tolist()), [2, 3])
        self.assertEqual(pr.hard_band(light, 7, 2).numel(), 0)
        self.assertEqual(pr.hard_band(light, 3, 0).numel(), 0)

    def test_the_merge_reorders_only_the_hard_band_on_its_light_scale(self):
        light = torch.tensor([9.0, 1.0, 5.0, 4.0, 8.0])
        hard = torch.tensor([2, 3])
        # The strong model prefers position 3 over 2: 3 is kept with M = 3, 2 is not.
        kept = pr.merged_keep(light, hard, torch.tensor([-1.0, 2.0]), 3)
        self.assertEqual(sorted(kept.tolist()), [0, 3, 4])
        # Agreeing with the light order keeps it.
        self.assertEqual(sorted(pr.merged_keep(light, hard, torch.tensor([2.0, -1.0]), 3).tolist()), [0, 2, 4])

    def test_the_hap_loss_is_finite_and_reaches_every_weight(self):
        torch.manual_seed(2)
        shape = {"inputDim": 6, "userDim": 2, "crossLayers": 1, "crossRank": 0, "mlp": [4], "heads": 1, "structure": "parallel"}
        model = rk.Dcn(shape, 0)
        items_x = torch.randn(5, 4)
        pg = {"u": torch.randn(2), "rows": torch.arange(5), "light": torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0]),
              "util": torch.tensor([0.1, 0.9, 0.5, 0.2, 0.3]), "hard": torch.tensor([1, 2, 3])}
        loss = pr.hap_loss(model, pg, items_x, torch.Generator().manual_seed(1))
        self.assertTrue(torch.isfinite(loss))
        loss.backward()
        self.assertTrue(all(p.grad is not None for p in model.parameters()))

if __name__ == "__main__":
    unittest.main()
