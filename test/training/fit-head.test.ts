/**
 * train.py's fit_head: start weights trained at one input size, fitted to a
 * network at another (models/training/experiments/input-320.json used it).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, systemPython } from '../helpers/paths.js';

const run = promisify(execFile);

const SCRIPT = `
import json, sys, torch
sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'models/training'))})
from model import build_net
from train import fit_head
cfg = json.load(open(${JSON.stringify(join(repoRoot, 'models/training/config.json'))}))
torch.manual_seed(0)
small = build_net(cfg)
small.load_state_dict(torch.load(${JSON.stringify(join(repoRoot, 'models/knee-kl/model.pt'))}))
cfg["input"]["size"] = 320
large = build_net(cfg)
state, note = fit_head(small.state_dict(), large)
large.load_state_dict(state)
same, unchanged = fit_head(large.state_dict(), large)
# A feature map that is the same in every cell: the logit is the weights' sum times it,
# so the fitted head should give nearly the logits of the original (the shipped weights:
# random ones have no smooth map for a resampling to keep).
channels = small.map_shape[0]
value = torch.rand(1, channels, 1, 1)
before = small.classifier(small.head_input(value.expand(1, *small.map_shape)))
after = large.classifier(large.head_input(value.expand(1, *large.map_shape)))
conv_equal = torch.equal(small.state_dict()["stem.0.weight"], state["stem.0.weight"])
print(json.dumps({"note": note, "unchanged": unchanged, "maps": [small.map_shape, large.map_shape],
  "before": before.tolist()[0], "after": after.tolist()[0], "convEqual": conv_equal}))
`;

test('the shipped spatial head resampled to a larger map keeps its logits; the convolutions are kept', async (t) => {
  const { stdout } = await run(systemPython, ['-c', SCRIPT], { cwd: repoRoot, timeout: 120_000 });
  const result = JSON.parse(stdout) as {
    note: string;
    unchanged: string | null;
    maps: number[][];
    before: number[];
    after: number[];
    convEqual: boolean;
  };
  t.is(result.note, '7x7 to 10x10');
  t.is(result.unchanged, null, 'weights of the same size are taken as they are');
  t.deepEqual(result.maps, [
    [192, 7, 7],
    [192, 10, 10],
  ]);
  t.true(result.convEqual);
  result.before.forEach((logit, grade) => {
    const after = result.after[grade] ?? Number.NaN;
    t.true(
      Math.abs(after - logit) <= 0.05 * Math.abs(logit) + 1e-3,
      `grade ${grade}: ${logit} then ${after}`,
    );
  });
});
