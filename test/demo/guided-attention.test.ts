/**
 * The demo model's training recipe (weights-tools/train/train.py) guides decoder attention with the CTC
 * alignment posterior of each answer word (`ctc_word_posteriors`, a numpy forward-backward). Its correctness is
 * checked here against an independent computation: the gradient of PyTorch's own CTC loss with respect to the
 * log-probabilities is (softmax − occupancy), so the per-symbol occupancy that torch implies must equal ours
 * summed over the label positions that carry each symbol. Random emissions, repeated labels (which need a blank
 * between them), one-label and tight (length = frames) cases. Skipped without /usr/bin/python3 + torch.
 */
import { describe, expect, it } from 'vitest';
import { skipWhen } from '../helpers/skip';
import { missingTools, runPython, TORCH } from './python';

const SCRIPT = String.raw`
import json
import numpy as np, torch, torch.nn.functional as F
import train
g = torch.Generator().manual_seed(int(sys.stdin.read()))
out = []
for labels, n in (([3, 3, 5, 2], 13), ([1], 6), ([4, 2, 4, 4, 1], 17), ([2, 6, 1], 5), ([5, 5], 3)):
    C = 7
    lp = torch.log_softmax(torch.randn(n, C, generator=g, dtype=torch.float64) * 2, -1)
    post = train.ctc_word_posteriors(lp.numpy(), np.array(labels))
    x = lp.clone().requires_grad_()
    F.ctc_loss(x[:, None], torch.tensor([labels]), torch.tensor([n]), torch.tensor([len(labels)]),
               reduction="sum").backward()
    occ = (lp.exp() - x.grad).numpy()
    mine = np.zeros((n, C))
    for s, l in enumerate(labels):
        mine[:, l] += post[s]
    out.append({"labels": labels, "shape": list(post.shape),
                "max_abs_diff": float(np.abs(mine[:, 1:] - occ[:, 1:]).max()),
                "min_mass_per_label": float(post.sum(1).min()), "max_mass_per_row": float(post.sum(0).max())})
print(json.dumps(out))
`;

describe('demo training: CTC word posteriors for guided attention', skipWhen(missingTools([TORCH])), () => {
  it('equal the occupancy implied by torch.nn.functional.ctc_loss gradients', () => {
    const seed = String(1 + Math.floor(Math.random() * 1e6));
    type Case = { labels: number[]; shape: number[]; max_abs_diff: number; min_mass_per_label: number;
      max_mass_per_row: number };
    const cases = runPython<Case[]>(SCRIPT, seed);
    expect(cases).toHaveLength(5);
    for (const c of cases) {
      expect(c.shape[0], `labels ${c.labels}`).toBe(c.labels.length);
      expect(c.max_abs_diff, `labels ${c.labels}, seed ${seed}`).toBeLessThan(1e-9);
      // every label is emitted on at least one frame in every alignment; a frame emits at most one label
      expect(c.min_mass_per_label).toBeGreaterThan(1 - 1e-9);
      expect(c.max_mass_per_row).toBeLessThan(1 + 1e-9);
    }
  });
});
