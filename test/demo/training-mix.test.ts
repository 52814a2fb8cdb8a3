/**
 * The demo model's training mix (weights-tools/train/train.py `repeat_by_kind`, behind `--kind-repeat`), on
 * random clip lists: every clip of a named kind appears N times in an epoch and every other clip once; an
 * unknown kind is an error that names it. Skipped without /usr/bin/python3 + torch.
 */
import { describe, expect, it } from 'vitest';
import { skipWhen } from '../helpers/skip';
import { missingTools, runPython, TORCH } from './python';

const SCRIPT = String.raw`
import collections, json
import numpy as np
import train
seed = int(sys.stdin.read())
rng = np.random.default_rng(seed)
kinds = ["digits", "number", "command"]
clips = [{"kind": kinds[int(k)]} for k in rng.integers(0, 3, 37)]
ids = train.repeat_by_kind(clips, "number:2,command:3")
counts = collections.Counter(ids)
want = {"digits": 1, "number": 2, "command": 3}
repeat_ok = sorted(counts) == list(range(len(clips))) and all(counts[i] == want[m["kind"]] for i, m in enumerate(clips))
plain_ok = train.repeat_by_kind(clips, "") == list(range(len(clips)))
try:
    train.repeat_by_kind(clips, "numbers:2")
    error = None
except ValueError as e:
    error = str(e)
print(json.dumps({"repeat_ok": repeat_ok, "plain_ok": plain_ok, "error": error,
                  "kinds": sorted(set(m["kind"] for m in clips))}))
`;

describe('demo training mix', skipWhen(missingTools([TORCH])), () => {
  it('repeats the clips of the named kinds', () => {
    const seed = String(1 + Math.floor(Math.random() * 1e6));
    type Result = { repeat_ok: boolean; plain_ok: boolean; error: string | null; kinds: string[] };
    const out = runPython<Result>(SCRIPT, seed);
    expect(out.repeat_ok, `seed ${seed}`).toBe(true);
    expect(out.plain_ok).toBe(true);
    expect(out.error).toMatch(/unknown text kind \['numbers'\]/);
    expect(out.kinds).toEqual(['command', 'digits', 'number']); // all three kinds were drawn
  });
});
