import { describe, expect, it } from 'vitest';
import { beamSearch } from '../../src/generate';
import type { BeamSearchOptions, BeamStepInfo, EarlyStopping } from '../../src/generate';
import { MockModel, randomLogits, scriptedLogits, type LogitsFn } from './mock-model';
import { referenceBeamSearch } from './reference-search';

const EOS = 9;
const V = 12;
// readable token names for the scripted cases
const A = 0, C = 2, D = 3, Q = 4, R = 5, S = 6, W = 7, X = 8, Y = 1, Z = 10;

const lnp = (...ps: number[]): number => ps.reduce((s, p) => s + Math.log(p), 0);

async function run(logits: LogitsFn, options: BeamSearchOptions, vocab = V) {
  const model = new MockModel(vocab, logits);
  const result = await beamSearch(model, options);
  return { model, result };
}

/** The expected `reorder` calls for a reference run: beam_idx of every step that the model continues past,
 * the first one all 0 (the model holds only row 0 then), identities skipped. */
function expectedReorders(beamIdx: number[][], steps: number): number[][] {
  return beamIdx
    .slice(0, steps - 1)
    .map((src, i) => (i === 0 ? src.map(() => 0) : src))
    .filter((src) => !src.every((s, i) => s === i));
}

describe('beamSearch against a plain re-implementation of transformers v5 _beam_search', () => {
  const earlies: EarlyStopping[] = [true, false, 'never'];
  const penalties = [1, 0, 2, -0.5, 0.7];

  it('gives the same hypotheses, scores, steps and KV reorders on random models', async () => {
    let cases = 0;
    let withEos = 0;
    let withLength = 0;
    for (let seed = 0; seed < 240; seed++) {
      const beams = 1 + (seed % 5);
      const eosTokenIds = [[EOS], [EOS, 10, 11], [EOS, 3]][seed % 3];
      const lengthPenalty = penalties[seed % penalties.length];
      const earlyStopping = earlies[Math.floor(seed / 5) % 3];
      const maxNewTokens = 1 + (seed % 13);
      const vocab = [V, 16, 30][Math.floor(seed / 15) % 3];
      if (Math.max(2, 1 + eosTokenIds.length) * beams > beams * vocab) continue;
      const logits = randomLogits(vocab, seed, eosTokenIds);
      const opts = { beams, maxNewTokens, eosTokenIds, lengthPenalty, earlyStopping };
      const { model, result } = await run(logits, opts, vocab);
      const ref = referenceBeamSearch(logits, vocab, opts);
      const ctx = JSON.stringify({ seed, ...opts, vocab });

      const seq = ref.sequence;
      const endsOnEos = eosTokenIds.includes(seq[seq.length - 1]);
      expect(result.tokens, ctx).toEqual(endsOnEos ? seq.slice(0, -1) : seq);
      expect(result.eosToken, ctx).toBe(endsOnEos ? seq[seq.length - 1] : undefined);
      expect(result.finishReason, ctx).toBe(endsOnEos ? 'eos' : 'length');
      expect(result.score, ctx).toBe(ref.score);
      expect(result.steps, ctx).toBe(ref.steps);
      expect(
        result.hypotheses.map((h) => ({ seq: h.eosToken === undefined ? h.tokens :
          [...h.tokens, h.eosToken], score: h.score })),
        ctx,
      ).toEqual(ref.slots.filter((s) => s.finished).map((s) => ({ seq: s.sequence, score: s.score })));
      for (const h of result.hypotheses) expect(h.tokens.some((t) => eosTokenIds.includes(t)), ctx).toBe(false);

      const K = Math.max(2, 1 + eosTokenIds.length) * beams;
      const topKs = model.calls.filter((c) => c.op === 'topK');
      expect(topKs.length, ctx).toBe(ref.steps);
      expect(topKs.every((c) => c.op === 'topK' && c.k === (c.rows === 1 ? Math.min(K, vocab) : K)), ctx).toBe(true);
      expect(model.stepCalls.length, ctx).toBe(ref.steps - 1);
      expect(model.stepCalls.every((t) => t.length === beams), ctx).toBe(true);
      expect(model.reorders, ctx).toEqual(expectedReorders(ref.beamIdx, ref.steps));
      cases++;
      if (endsOnEos) withEos++;
      else withLength++;
    }
    expect(cases).toBeGreaterThan(200);
    expect(withEos).toBeGreaterThan(40);
    expect(withLength).toBeGreaterThan(20);
  });

  it('handles a vocabulary smaller than the candidate count (dead beams fill the first step)', async () => {
    for (let seed = 0; seed < 40; seed++) {
      const beams = 3 + (seed % 3);
      const eosTokenIds = seed % 2 ? [0] : [0, 1];
      const vocab = 4 + (seed % 3); // K = 2B or 3B > vocab
      const opts = {
        beams,
        maxNewTokens: 2 + (seed % 6),
        eosTokenIds,
        lengthPenalty: penalties[seed % penalties.length],
        earlyStopping: earlies[seed % 3],
      };
      const logits = randomLogits(vocab, 1000 + seed, eosTokenIds, 1.5);
      const { model, result } = await run(logits, opts, vocab);
      const ref = referenceBeamSearch(logits, vocab, opts);
      const seq = ref.sequence;
      const endsOnEos = eosTokenIds.includes(seq[seq.length - 1]);
      expect(result.tokens).toEqual(endsOnEos ? seq.slice(0, -1) : seq);
      expect(result.score).toBe(ref.score);
      expect(result.steps).toBe(ref.steps);
      expect(model.reorders).toEqual(expectedReorders(ref.beamIdx, ref.steps));
    }
  });
});

describe('beamSearch, handcrafted cases', () => {
  it('accepts an eos only when it ranks among the first B candidates of its step', async () => {
    // prompt: A .4, C .35, EOS .25 → the eos candidate ranks 2nd (0-based) of the first step
    const logits = scriptedLogits(V, {
      '': { [A]: 0.4, [C]: 0.35, [EOS]: 0.25 },
      [A]: { [EOS]: 0.55, [D]: 0.44 },
      [C]: { [EOS]: 0.55, [D]: 0.44 },
    });
    const common = { maxNewTokens: 6, eosTokenIds: [EOS], lengthPenalty: 0, earlyStopping: true };
    // B = 2: rank 2 ≥ B, so the immediate eos is never a hypothesis, although its score
    // (ln .25 = -1.39) beats both hypotheses that are found
    const two = (await run(logits, { ...common, beams: 2 })).result;
    expect(two.tokens).toEqual([A]);
    expect(two.eosToken).toBe(EOS);
    expect(two.score).toBeCloseTo(lnp(0.4, 0.55), 5);
    expect(two.hypotheses.map((h) => h.tokens)).toEqual([[A], [C]]);
    expect(lnp(0.25)).toBeGreaterThan(two.score);
    // B = 3: rank 2 < B, accepted, and it wins
    const three = (await run(logits, { ...common, beams: 3 })).result;
    expect(three.tokens).toEqual([]);
    expect(three.finishReason).toBe('eos');
    expect(three.score).toBeCloseTo(lnp(0.25), 5);
  });

  it('length_penalty decides between a short and a long hypothesis', async () => {
    // short: X EOS, sum = ln(.7·.5) = -1.05;  long: Y Z W EOS, sum = ln(.29·.5·.5·.6) = -3.13
    const logits = scriptedLogits(V, {
      '': { [X]: 0.7, [Y]: 0.29 },
      [X]: { [EOS]: 0.5, [Q]: 0.49 },
      [Y]: { [Z]: 0.5 },
      [`${X},${Q}`]: { [R]: 0.99 },
      [`${Y},${Z}`]: { [W]: 0.5 },
      [`${X},${Q},${R}`]: { [S]: 0.99 },
      [`${Y},${Z},${W}`]: { [EOS]: 0.6 },
    });
    const common = { beams: 2, maxNewTokens: 10, eosTokenIds: [EOS], earlyStopping: true };
    const short = lnp(0.7, 0.5);
    const long = lnp(0.29, 0.5, 0.5, 0.6);

    const lp0 = (await run(logits, { ...common, lengthPenalty: 0 })).result;
    expect(lp0.tokens).toEqual([X]);
    expect(lp0.score).toBeCloseTo(short, 5);
    expect(lp0.hypotheses.map((h) => h.tokens)).toEqual([[X], [Y, Z, W]]);

    const lp1 = (await run(logits, { ...common, lengthPenalty: 1 })).result;
    expect(lp1.tokens).toEqual([X]);
    expect(lp1.score).toBeCloseTo(short / 2, 5);

    const lp2 = (await run(logits, { ...common, lengthPenalty: 2 })).result;
    expect(lp2.tokens).toEqual([Y, Z, W]);
    expect(lp2.score).toBeCloseTo(long / 16, 5);
    expect(lp2.hypotheses[1].score).toBeCloseTo(short / 4, 5);
  });

  describe('earlyStopping', () => {
    // Finished after step 1: [] (eos, -0.94). Step 2: [A] (eos, -1.16/2 = -0.58).
    // Step 3: [A C] (eos, -1.62/3 = -0.541). Step 5: [A C C D] (eos, -2.66/5 = -0.532).
    const logits = scriptedLogits(V, {
      '': { [A]: 0.6, [EOS]: 0.39 },
      [A]: { [EOS]: 0.52, [C]: 0.47 },
      [`${A},${C}`]: { [EOS]: 0.7, [C]: 0.29 },
      [`${A},${C},${C}`]: { [D]: 0.95 },
      [`${A},${C},${C},${D}`]: { [EOS]: 0.9 },
    });
    const common = { beams: 2, maxNewTokens: 8, eosTokenIds: [EOS], lengthPenalty: 1 };
    const steps = async (earlyStopping: EarlyStopping) => {
      const infos: BeamStepInfo[] = [];
      const { result, model } = await run(logits, { ...common, earlyStopping, onStep: (i) => infos.push(i) });
      return { result, infos, model };
    };

    it('true: stops as soon as B hypotheses are finished', async () => {
      const { result, infos, model } = await steps(true);
      expect(result.tokens).toEqual([A]);
      expect(result.score).toBeCloseTo(lnp(0.6, 0.52) / 2, 5);
      expect(result.steps).toBe(2);
      expect(infos.map((i) => [i.step, i.finished, i.done])).toEqual([
        [1, 1, false],
        [2, 2, true],
      ]);
      expect(model.stepCalls.length).toBe(1);
    });

    it('false: goes on while best running sum / current length beats the worst finished score', async () => {
      // after step 2 the best running beam [A C] has -1.27/2 = -0.63 > -0.94: go on; after step 3
      // [A C C] has -2.50/3 = -0.83 < -0.58: stop, with the step-3 hypothesis
      const { result } = await steps(false);
      expect(result.tokens).toEqual([A, C]);
      expect(result.score).toBeCloseTo(lnp(0.6, 0.47, 0.7) / 3, 5);
      expect(result.steps).toBe(3);
    });

    it("'never' (length_penalty > 0): bounds running beams with maxNewTokens, finds the later hypothesis", async () => {
      // after step 3 [A C C] is bounded by -2.50/8 = -0.31 > -0.58: go on
      const { result } = await steps('never');
      expect(result.tokens).toEqual([A, C, C, D]);
      expect(result.score).toBeCloseTo(lnp(0.6, 0.47, 0.29, 0.95, 0.9) / 5, 5);
      expect(result.steps).toBe(5);
      expect(result.hypotheses.map((h) => h.tokens)).toEqual([
        [A, C, C, D],
        [A, C],
      ]);
    });

    it("'never' with length_penalty ≤ 0 uses the current length, like false", async () => {
      const never = await run(logits, { ...common, lengthPenalty: 0, earlyStopping: 'never' });
      const no = await run(logits, { ...common, lengthPenalty: 0, earlyStopping: false });
      expect(never.result).toEqual(no.result);
    });

    it('false: a running beam that only ties the worst finished score cannot improve it (strict >)', async () => {
      // step 1 finishes [] (eos); step 2: D and EOS have the same logit after [A], so the running
      // beam [A D] and the hypothesis [A EOS] have bit-identical sums (lengthPenalty 0: no division)
      const tie = scriptedLogits(V, { '': { [A]: 0.5, [EOS]: 0.3 }, [A]: { [D]: 0.45, [EOS]: 0.45 } });
      const { result, model } = await run(tie, { ...common, lengthPenalty: 0, earlyStopping: false });
      expect(result.hypotheses.map((h) => h.tokens)).toEqual([[], [A]]);
      expect(result.hypotheses[1].score).toBe(Math.fround(result.hypotheses[1].score));
      expect(result.steps).toBe(2);
      expect(model.stepCalls.length).toBe(1);
    });

    it('defaults to true, as the reference call generate(num_beams=B, early_stopping=True) does', async () => {
      const dflt = (await run(logits, { beams: 2, maxNewTokens: 8, eosTokenIds: [EOS] })).result;
      expect(dflt).toEqual((await steps(true)).result);
    });
  });

  it('respects maxNewTokens: at the limit the best B candidates become hypotheses', async () => {
    const logits = scriptedLogits(V, { '': { [A]: 0.5, [C]: 0.3, [D]: 0.2 - 1e-6 } }); // eos never likely
    const { result, model } = await run(logits, { beams: 3, maxNewTokens: 2, eosTokenIds: [EOS] });
    expect(result.finishReason).toBe('length');
    expect(result.eosToken).toBeUndefined();
    expect(result.steps).toBe(2);
    expect(result.hypotheses.map((h) => h.tokens)).toEqual([
      [A, 0],
      [A, 1],
      [A, 2],
    ]);
    expect(result.tokens).toEqual([A, 0]);
    expect(result.score).toBeCloseTo(lnp(0.5, 1 / 12) / 2, 5);
    expect(model.stepCalls.length).toBe(1);

    for (const maxNewTokens of [1, 4, 7]) {
      const r = (await run(randomLogits(V, 5, [EOS], 2), { beams: 4, maxNewTokens, eosTokenIds: [] })).result;
      expect(r.tokens.length).toBe(maxNewTokens);
      expect(r.finishReason).toBe('length');
      expect(r.hypotheses.length).toBe(4);
    }
  });

  it('handles several eos ids: K = (1 + n_eos)·B candidates, and the eos that ended it', async () => {
    const logits = scriptedLogits(V, { '': { 10: 0.6, [A]: 0.3 }, [A]: { 11: 0.9 } });
    const { result, model } = await run(logits, { beams: 2, maxNewTokens: 5,
      eosTokenIds: [EOS, 10, 11], earlyStopping: true });
    expect(result.tokens).toEqual([]);
    expect(result.eosToken).toBe(10);
    expect(result.hypotheses).toEqual([
      { tokens: [], score: expect.closeTo(lnp(0.6), 5), eosToken: 10 },
      { tokens: [A], score: expect.closeTo(lnp(0.3, 0.9) / 2, 5), eosToken: 11 },
    ]);
    expect(model.calls.filter((c) => c.op === 'topK').map((c) => (c.op === 'topK' ? c.k : 0))).toEqual([8, 8]);
  });

  it('reorders the KV rows to the beams the new beams continue', async () => {
    // step 1: [A] (row 0), [C] (row 1); step 2: [C D] from row 1 beats [A D] from row 0 → reorder([1, 0])
    const logits = scriptedLogits(V, {
      '': { [A]: 0.6, [C]: 0.4 },
      [A]: { [D]: 0.3 },
      [C]: { [D]: 0.99 },
    });
    const model = new MockModel(V, logits);
    await beamSearch(model, { beams: 2, maxNewTokens: 3, eosTokenIds: [EOS] });
    expect(model.reorders).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(model.stepCalls).toEqual([
      [A, C],
      [D, D],
    ]);
    expect(model.rows.slice(0, 2)).toEqual([
      [C, D],
      [A, D],
    ]);
  });

  it('never puts an eos inside tokens', async () => {
    for (let seed = 0; seed < 80; seed++) {
      const eosTokenIds = [EOS, 10];
      const r = (await run(randomLogits(V, 500 + seed, eosTokenIds), {
        beams: 1 + (seed % 4),
        maxNewTokens: 12,
        eosTokenIds,
        earlyStopping: [true, false, 'never'][seed % 3] as EarlyStopping,
      })).result;
      expect(r.tokens.some((t) => eosTokenIds.includes(t))).toBe(false);
      expect(r.hypotheses.every((h) => !h.tokens.some((t) => eosTokenIds.includes(t)))).toBe(true);
    }
  });

  describe('abort', () => {
    const logits = randomLogits(V, 42, [EOS], 1);

    it('stops between steps and returns the best running beam', async () => {
      const ac = new AbortController();
      const infos: BeamStepInfo[] = [];
      const { result, model } = await run(logits, {
        beams: 3,
        maxNewTokens: 20,
        eosTokenIds: [],
        signal: ac.signal,
        onStep: (i) => {
          infos.push(i);
          if (i.step === 2) ac.abort();
        },
      });
      expect(result.finishReason).toBe('aborted');
      expect(result.steps).toBe(2);
      expect(result.tokens).toEqual(infos[1].best);
      expect(result.score).toBeCloseTo(infos[1].bestScore / 2, 6);
      expect(model.stepCalls.length).toBe(1);
    });

    it('before the first call: nothing runs', async () => {
      const model = new MockModel(V, logits);
      const result = await beamSearch(model, { beams: 2, maxNewTokens: 5, eosTokenIds: [EOS],
        signal: AbortSignal.abort() });
      expect(result).toEqual({ tokens: [], score: NaN, finishReason: 'aborted', hypotheses: [], steps: 0 });
      expect(model.calls).toEqual([]);
    });

    it('inside a model call that rejects because of it', async () => {
      const ac = new AbortController();
      const model = new MockModel(V, logits, {
        onStep: (n) => {
          if (n === 2) {
            ac.abort();
            throw new DOMException('stopped', 'AbortError');
          }
        },
      });
      const result = await beamSearch(model, { beams: 2, maxNewTokens: 20, eosTokenIds: [], signal: ac.signal });
      expect(result.finishReason).toBe('aborted');
      expect(result.steps).toBe(3);
      expect(result.tokens.length).toBe(3);
    });
  });

  it('validates its options', async () => {
    const model = new MockModel(V, randomLogits(V, 1, [EOS]), { maxRows: 4 });
    const base = { beams: 2, maxNewTokens: 4, eosTokenIds: [EOS] };
    await expect(beamSearch(model, { ...base, beams: 5 })).rejects.toThrow(RangeError);
    await expect(beamSearch(model, { ...base, beams: 0 })).rejects.toThrow(RangeError);
    await expect(beamSearch(model, { ...base, maxNewTokens: 0 })).rejects.toThrow(RangeError);
    await expect(beamSearch(model, { ...base, eosTokenIds: [-1] })).rejects.toThrow(RangeError);
    await expect(beamSearch(model, { ...base, lengthPenalty: NaN })).rejects.toThrow(RangeError);
    await expect(beamSearch(model,
      { ...base, earlyStopping: 'sometimes' as unknown as EarlyStopping })).rejects.toThrow(RangeError);
    expect(model.calls).toEqual([]);
  });
});
