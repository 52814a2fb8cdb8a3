import { describe, expect, it } from 'vitest';
import { beamSearch, greedy } from '../../src/generate';
import { MockModel, randomLogits, scriptedLogits } from './mock-model';
import { referenceGreedy } from './reference-search';

const EOS = 9;

describe('greedy', () => {
  it('matches a plain argmax loop; tokens exclude the eos; n tokens cost n - 1 steps', async () => {
    for (let seed = 0; seed < 60; seed++) {
      const V = 12 + (seed % 5);
      const eosIds = seed % 3 === 0 ? [EOS, 10, 11] : [EOS];
      const maxNewTokens = 1 + (seed % 9);
      const logits = randomLogits(V, seed, eosIds);
      const model = new MockModel(V, logits);
      const res = await greedy(model, { maxNewTokens, eosTokenIds: eosIds });
      const ref = referenceGreedy(logits, maxNewTokens, eosIds);
      const last = ref[ref.length - 1];
      if (eosIds.includes(last)) {
        expect(res).toEqual({ tokens: ref.slice(0, -1), finishReason: 'eos', eosToken: last });
      } else {
        expect(ref.length).toBe(maxNewTokens);
        expect(res).toEqual({ tokens: ref, finishReason: 'length' });
      }
      expect(res.tokens.some((t) => eosIds.includes(t))).toBe(false);
      expect(model.stepCalls.length).toBe(ref.length - 1);
      expect(model.reorders).toEqual([]);
    }
  });

  it('equals beam search with one beam and earlyStopping true', async () => {
    let sawEos = 0;
    for (let seed = 100; seed < 160; seed++) {
      const V = 10 + (seed % 7);
      const eosIds = seed % 2 ? [EOS] : [EOS, 3];
      const maxNewTokens = 1 + (seed % 11);
      const logits = randomLogits(V, seed, eosIds);
      const g = await greedy(new MockModel(V, logits), { maxNewTokens, eosTokenIds: eosIds });
      const b = await beamSearch(new MockModel(V, logits), {
        beams: 1,
        maxNewTokens,
        eosTokenIds: eosIds,
        earlyStopping: true,
      });
      expect(b.tokens).toEqual(g.tokens);
      expect(b.finishReason).toBe(g.finishReason);
      expect(b.eosToken).toBe(g.eosToken);
      if (g.finishReason === 'eos') sawEos++;
    }
    expect(sawEos).toBeGreaterThan(10);
  });

  it('respects maxNewTokens', async () => {
    const logits = scriptedLogits(12, {}); // uniform: argmax is always token 0, never the eos
    const model = new MockModel(12, logits);
    const res = await greedy(model, { maxNewTokens: 5, eosTokenIds: [EOS] });
    expect(res).toEqual({ tokens: [0, 0, 0, 0, 0], finishReason: 'length' });
    expect(model.stepCalls.length).toBe(4);
  });

  it('counts the eos in maxNewTokens and stops on any eos id', async () => {
    const logits = scriptedLogits(12, { '': { 4: 0.9 }, '4': { 11: 0.9 } });
    expect(await greedy(new MockModel(12, logits), { maxNewTokens: 2, eosTokenIds: [EOS, 10, 11] })).toEqual({
      tokens: [4],
      finishReason: 'eos',
      eosToken: 11,
    });
    expect(await greedy(new MockModel(12, logits), { maxNewTokens: 1, eosTokenIds: [EOS, 10, 11] })).toEqual({
      tokens: [4],
      finishReason: 'length',
    });
    // without eos ids the search only stops at the length limit
    expect((await greedy(new MockModel(12, logits), { maxNewTokens: 3, eosTokenIds: [] })).tokens).toEqual([4, 11, 0]);
  });

  it('streams tokens through onToken', async () => {
    const logits = randomLogits(20, 7, [EOS]);
    const seen: [number, number][] = [];
    const res = await greedy(new MockModel(20, logits), {
      maxNewTokens: 8,
      eosTokenIds: [EOS],
      onToken: (t, i) => seen.push([t, i]),
    });
    expect(seen).toEqual(res.tokens.map((t, i) => [t, i]));
  });

  it('stops with finishReason aborted and the tokens so far', async () => {
    const logits = scriptedLogits(12, {});
    const ac = new AbortController();
    const model = new MockModel(12, logits);
    const res = await greedy(model, {
      maxNewTokens: 10,
      eosTokenIds: [EOS],
      signal: ac.signal,
      onToken: (_t, i) => {
        if (i === 2) ac.abort();
      },
    });
    expect(res).toEqual({ tokens: [0, 0, 0], finishReason: 'aborted' });
    expect(model.stepCalls.length).toBe(2);
  });

  it('does nothing when the signal is already aborted', async () => {
    const model = new MockModel(12, scriptedLogits(12, {}));
    const res = await greedy(model, { maxNewTokens: 4, eosTokenIds: [EOS], signal: AbortSignal.abort() });
    expect(res).toEqual({ tokens: [], finishReason: 'aborted' });
    expect(model.calls).toEqual([]);
  });

  it('turns a model call rejected because of the abort into aborted; other errors propagate', async () => {
    const ac = new AbortController();
    const model = new MockModel(12, scriptedLogits(12, {}), {
      onStep: (n) => {
        if (n === 1) {
          ac.abort();
          throw new DOMException('stopped', 'AbortError');
        }
      },
    });
    const res = await greedy(model, { maxNewTokens: 10, eosTokenIds: [EOS], signal: ac.signal });
    expect(res).toEqual({ tokens: [0, 0], finishReason: 'aborted' });

    const failing = new MockModel(12, scriptedLogits(12, {}), {
      onStep: () => {
        throw new Error('device lost');
      },
    });
    await expect(greedy(failing, { maxNewTokens: 10, eosTokenIds: [EOS] })).rejects.toThrow('device lost');
  });

  it('validates its options', async () => {
    const model = new MockModel(12, scriptedLogits(12, {}));
    await expect(greedy(model, { maxNewTokens: 0, eosTokenIds: [EOS] })).rejects.toThrow(RangeError);
    await expect(greedy(model, { maxNewTokens: 3, eosTokenIds: [12] })).rejects.toThrow(RangeError);
  });
});
