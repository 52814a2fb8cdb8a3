/**
 * The demo model's training data (weights-tools/train/make_data.py):
 *   * a clip renders to the same bytes every time (the docs promise bit-identical data; sox dithers with a
 *     random seed unless run with -R);
 *   * a synthetic accent changes only vowels: espeak-ng reads the `[[...]]` phoneme input back as exactly the
 *     listed vowel shifts of the text's phonemes, or (where a shifted string would be misread) as the unshifted
 *     phoneme string;
 *   * held-out clips never get a synthetic accent.
 * Random accents and clip indices per run. Skipped without /usr/bin/python3 + numpy, espeak-ng and sox.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { skipWhen } from '../helpers/skip';
import { missingTools, PY, runPython } from './python';

const missing = missingTools(['espeak-ng --version', 'sox --version', `${PY} -c "import numpy"`]);

const SCRIPT = String.raw`
import json, tempfile
import numpy as np
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
        # what espeak says for the unshifted phoneme string (the fallback when a shift would be misread)
        roundtrip = md.espeak_phonemes("[[" + " ".join("".join(w) for w in plain) + "]]", voice)
        out["accents"].append({"accent": accent, "voice": voice, "text": text, "plain": plain, "back": back,
                               "roundtrip": roundtrip})
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
  accents: {
    accent: Record<string, string>; voice: string; text: string; plain: Word[]; back: Word[]; roundtrip: Word[];
  }[];
  renders: { split: string; i: number; accent: string; n: number; identical: boolean }[];
  shifts: Record<string, string[]>;
}

const bare = (p: string) => p.replace(/^[',%=]+/, '');

describe('demo training data (make_data.py)', skipWhen(missing), () => {
  const seed = Math.floor(Math.random() * 1e9);
  let r: Result;
  beforeAll(() => {
    r = runPython<Result>(SCRIPT, String(seed));
  }, 150_000);

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

  it(`a synthetic accent shifts vowels only: espeak says exactly the shifted phonemes, or the group ` +
    `unshifted (seed ${seed})`, () => {
    let accented = 0;
    for (const a of r.accents) {
      const where = `${a.voice} "${a.text}" with ${JSON.stringify(a.accent)}`;
      const said = JSON.stringify(a.back.map((w) => w.map(bare)));
      // the target: every vowel the accent lists replaced by its shift, everything else as espeak says the text
      const target = a.plain.map((w) => w.map(bare).map((p) => a.accent[p] ?? p));
      for (const [from, to] of Object.entries(a.accent)) expect(r.shifts[from], where).toContain(to);
      if (said === JSON.stringify(target)) {
        if (JSON.stringify(target) !== JSON.stringify(a.plain.map((w) => w.map(bare)))) accented++;
      } else {
        expect(said, `${where}: neither the shifted phonemes nor the unshifted ` +
          `fallback`).toBe(JSON.stringify(a.roundtrip.map((w) => w.map(bare))));
      }
    }
    expect(accented, 'no synthetic accent was spoken').toBeGreaterThan(r.accents.length / 3);
  });
});
