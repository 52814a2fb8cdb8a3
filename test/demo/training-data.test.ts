/**
 * The demo model's training data (weights-tools/train/make_data.py):
 *   * a clip renders to the same bytes every time (the docs promise bit-identical data; sox dithers with a
 *     random seed unless run with -R);
 *   * a synthetic accent changes only vowels: espeak-ng reads the `[[...]]` phoneme input back as exactly the
 *     shifted phonemes, the consonants are the original ones, and only listed vowel shifts occur;
 *   * held-out clips never get a synthetic accent.
 * Random accents and clip indices per run. Skipped without /usr/bin/python3 + numpy, espeak-ng and sox.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(__dirname, '..', '..');
const PY = '/usr/bin/python3';
const tools = ['espeak-ng --version', 'sox --version', `${PY} -c "import numpy"`];
const missing = tools.filter((t) => spawnSync('sh', ['-c', t], { stdio: 'ignore' }).status !== 0);

const SCRIPT = String.raw`
import json, sys, tempfile
import numpy as np
sys.path.insert(0, "weights-tools/train")
import make_data as md
seed = int(sys.stdin.read())
rng = np.random.default_rng(seed)
out = {"accents": [], "renders": []}
texts = ["five nine eight two oh", "four hundred ninety one thousand", "turn on the light", "what time is it"]
for _ in range(6):
    accent = md.draw_accent(rng)
    for text in texts:
        voice = md.TRAIN_BASES[int(rng.integers(0, len(md.TRAIN_BASES)))]
        plain = md.espeak_phonemes(text, voice)
        spoken = md.accented_phonemes(text, voice, accent)
        back = md.espeak_phonemes(spoken, voice)
        out["accents"].append({"accent": accent, "voice": voice, "text": text, "plain": plain, "back": back})
with tempfile.TemporaryDirectory() as tmp:
    for split in ("train", "heldout"):
        for i in [0] + list(rng.integers(1, 400, 2)):   # train clip 0 has a synthetic accent
            a, meta = md.render(int(i), split, 2512, tmp)
            b, _ = md.render(int(i), split, 2512, tmp)
            out["renders"].append({"split": split, "i": int(i), "accent": meta["accent"], "n": len(a),
                                   "identical": bool(np.array_equal(a, b))})
out["shifts"] = md.VOWEL_SHIFTS
print(json.dumps(out))
`;

type Word = string[];
interface Result {
  accents: { accent: Record<string, string>; voice: string; text: string; plain: Word[]; back: Word[] }[];
  renders: { split: string; i: number; accent: string; n: number; identical: boolean }[];
  shifts: Record<string, string[]>;
}

const bare = (p: string) => p.replace(/^[',%=]+/, '');

describe.skipIf(missing.length > 0)('demo training data (make_data.py)', () => {
  const seed = Math.floor(Math.random() * 1e9);
  const run = spawnSync(PY, ['-c', SCRIPT], { cwd: REPO, input: String(seed), encoding: 'utf8', timeout: 120_000 });
  if (run.status !== 0) throw new Error(`make_data.py check failed (seed ${seed}):\n${run.stderr}`);
  const r = JSON.parse(run.stdout) as Result;

  it(`renders every clip to the same bytes twice (seed ${seed})`, () => {
    for (const c of r.renders) {
      expect(c.n, `${c.split} ${c.i}`).toBeGreaterThan(1000);
      expect(c.identical, `${c.split} clip ${c.i} differs between two renders`).toBe(true);
    }
  });

  it('never gives a held-out clip a synthetic accent (and does give some training clips one)', () => {
    for (const c of r.renders.filter((x) => x.split === 'heldout')) expect(c.accent).toBe('');
    expect(r.renders.find((x) => x.split === 'train' && x.i === 0)?.accent).not.toBe('');
  });

  it(`a synthetic accent shifts vowels only, and espeak says exactly the shifted phonemes (seed ${seed})`, () => {
    let shifted = 0;
    for (const a of r.accents) {
      const where = `${a.voice} "${a.text}" with ${JSON.stringify(a.accent)}`;
      expect(a.back.length, where).toBe(a.plain.length);
      a.plain.forEach((word, w) => {
        const got = a.back[w].map(bare);
        expect(got.length, where).toBe(word.length);
        word.map(bare).forEach((p, j) => {
          if (got[j] === p) return;
          // a changed phoneme must be a vowel the accent shifts, into that shift's target
          expect(a.accent[p], `${where}: ${p} → ${got[j]}`).toBe(got[j]);
          expect(r.shifts[p], where).toContain(got[j]);
          shifted++;
        });
      });
    }
    expect(shifted, 'no accent changed any phoneme').toBeGreaterThan(10);
  });
});
