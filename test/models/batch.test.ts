/**
 * Continuous batching (docs/batching.md): concurrent transcriptions on one GlmAsr share decoder steps, and each
 * gets exactly the ids it gets alone — the goldens' ids on the tiny checkpoint, greedy and beam-4 mixed, started at
 * different times; a cancelled request leaves without disturbing the others; maxBatch 1 runs them one by one;
 * the demo model gives the same text for clips run together as alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Gpu } from '../../src/gpu';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { GpuSearchModel, type TranscribeOptions, type Transcription } from '../../src/models/glm-asr/transcriber';
import { openSafetensorsFile } from '../../src/weights/node-file-source';
import { testGpu } from '../helpers/gpu';
import { skipWhen } from '../helpers/skip';

const GOLDENS = join(__dirname, '..', 'goldens');
const DEMO = join(__dirname, '..', '..', 'models', 'demo');

/** A golden clip of the `tiny` checkpoint: its samples and the reference greedy and beam-4 ids (eos dropped). */
interface Golden { name: string; samples: Float32Array; maxNewTokens: number; greedy: number[]; beam4: number[] }

async function golden(name: string, eos: Set<number>): Promise<Golden> {
  const dump = await openSafetensorsFile(join(GOLDENS, 'dumps', `${name}.safetensors`));
  const read = async (t: string) => {
    const b = await dump.read(t);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  };
  const strip = (ids: number[]) => (ids.length && eos.has(ids[ids.length - 1]) ? ids.slice(0, -1) : ids);
  const g = {
    name,
    samples: new Float32Array(await read('input_samples')),
    maxNewTokens: Number(dump.metadata!.max_new_tokens),
    greedy: strip(Array.from(new Int32Array(await read('greedy_ids')))),
    beam4: strip(Array.from(new Int32Array(await read('beam4_ids')))),
  };
  await dump.close();
  return g;
}

/** A request: a golden clip, greedy or beam-4. */
interface Request { g: Golden; beams: 1 | 4 }

const options = (r: Request, extra: TranscribeOptions = {}): TranscribeOptions =>
  ({ maxNewTokens: r.g.maxNewTokens, beams: r.beams, segmenter: 'fixed', name: r.g.name, ...extra });

const expected = (r: Request) => (r.beams === 1 ? r.g.greedy : r.g.beam4);

/** Resolves once `asr` has run `n` more decoder steps (polled between event-loop turns). */
async function stepsLater(asr: GlmAsr, n: number): Promise<void> {
  const until = asr.batchStats.steps + n;
  while (asr.batchStats.steps < until) await new Promise((r) => setTimeout(r, 1));
}

describe('continuous batching on the golden tiny checkpoint', () => {
  let gpu: Gpu;
  let asr: GlmAsr;
  let en: Golden, zh: Golden, long: Golden;

  beforeAll(async () => {
    gpu = await testGpu();
    asr = await GlmAsr.load(join(GOLDENS, 'tiny'), { gpu, precision: 'f32', maxBatch: 12 });
    const eos = new Set(asr.config.ids.eosTokenIds);
    [en, zh, long] = await Promise.all(['tiny-en-ldc93s1', 'tiny-zh-funasr-sample', 'tiny-long-2win']
      .map((n) => golden(n, eos)));
  });
  afterAll(() => asr?.dispose());

  it('maxBatch is stored; the default comes from the adapter (at most 4 on a CPU adapter)', async () => {
    expect(asr.maxBatch).toBe(12);
    const d = await GlmAsr.load(join(GOLDENS, 'tiny'), { gpu, precision: 'f32' });
    expect(d.maxBatch).toBe(gpu.caps.cpuAdapter ? 4 : 8);
    d.dispose();
  });

  it('greedy and beam-4 requests started at different times share steps and get their golden ids', async () => {
    // 5 requests, 14 rows: more than one forward holds (8 rows), so steps are cut into several forwards.
    const before = { ...asr.batchStats };
    const first: Request = { g: long, beams: 1 };
    const later: Request[] = [{ g: zh, beams: 4 }, { g: en, beams: 1 }, { g: en, beams: 4 }, { g: zh, beams: 1 }];
    const runs: Promise<Transcription>[] = [asr.transcribe({ samples: first.g.samples, sampleRate: 16000 },
      options(first))];
    // The others join while the first is generating: after 3 of its steps, then two more steps apart.
    await stepsLater(asr, 3);
    runs.push(...later.slice(0, 2).map((r) => asr.transcribe({ samples: r.g.samples, sampleRate: 16000 }, options(r))));
    await stepsLater(asr, 2);
    runs.push(...later.slice(2).map((r) => asr.transcribe({ samples: r.g.samples, sampleRate: 16000 }, options(r))));
    const got = await Promise.all(runs);
    [first, ...later].forEach((r, i) => expect(got[i].tokens, `${r.g.name} beams ${r.beams}`).toEqual(expected(r)));
    // Batching really happened: steps served several sequences and more than one beam group's rows.
    const s = asr.batchStats;
    expect(s.widestSequences).toBeGreaterThanOrEqual(3);
    expect(s.widest).toBeGreaterThan(4);
    expect(s.widest).toBeLessThanOrEqual(8); // cut into forwards of at most 8 rows
    expect(s.rows - before.rows).toBeGreaterThan(s.steps - before.steps);
    // The two requests started together shared an encoder submission.
    expect(s.widestEncoderBatch).toBeGreaterThanOrEqual(2);
  });

  it('a request whose search fails leaves; the others keep their ids', async () => {
    const keep: Request[] = [{ g: en, beams: 1 }, { g: long, beams: 1 }];
    // The only beam request's first top-k fails (as a device error would, for this request alone).
    const topK = vi.spyOn(GpuSearchModel.prototype, 'topK').mockRejectedValueOnce(new Error('injected failure'));
    try {
      const runs = keep.map((r) => asr.transcribe({ samples: r.g.samples, sampleRate: 16000 }, options(r)));
      const failing = asr.transcribe({ samples: zh.samples, sampleRate: 16000 }, options({ g: zh, beams: 4 }));
      await expect(failing).rejects.toThrow(/injected failure/);
      const got = await Promise.all(runs);
      keep.forEach((r, i) => expect(got[i].tokens, `${r.g.name} beams ${r.beams}`).toEqual(expected(r)));
    } finally {
      topK.mockRestore();
    }
  });

  it('a cancelled request and a consumer that stops early leave; the others keep their ids', async () => {
    const keep: Request[] = [{ g: en, beams: 4 }, { g: long, beams: 1 }];
    const stop = new AbortController();
    const cancelled = asr.transcribe({ samples: zh.samples, sampleRate: 16000 },
      options({ g: zh, beams: 1 }, { signal: stop.signal }));
    const runs = keep.map((r) => asr.transcribe({ samples: r.g.samples, sampleRate: 16000 }, options(r)));
    // A stream whose consumer breaks out at its first text, mid-generation.
    const broken = (async () => {
      const stream = asr.transcribeStream({ samples: zh.samples, sampleRate: 16000 }, options({ g: zh, beams: 1 }));
      for await (const e of stream) if (e.type === 'text') return true;
      return false;
    })();
    await stepsLater(asr, 2);
    stop.abort(new Error('cancelled by the test'));
    await expect(cancelled).rejects.toThrow(/cancelled by the test/);
    expect(await broken).toBe(true);
    const got = await Promise.all(runs);
    keep.forEach((r, i) => expect(got[i].tokens, `${r.g.name} beams ${r.beams}`).toEqual(expected(r)));
    // Every row was given back: a request as wide as maxBatch still gets in.
    const wide = await asr.transcribe({ samples: en.samples, sampleRate: 16000 }, options({ g: en, beams: 4 }));
    expect(wide.tokens).toEqual(en.beam4);
  });

  it('a consumer that awaits another transcription between events does not stall it', async () => {
    let inner: Transcription | undefined;
    let outer: number[] = [];
    const stream = asr.transcribeStream({ samples: en.samples, sampleRate: 16000 }, options({ g: en, beams: 1 }));
    for await (const e of stream) {
      if (e.type !== 'segment-end') continue;
      outer = e.segment.tokens!;
      // The outer sequence has stopped stepping; it must have left the step barrier already.
      inner = await asr.transcribe({ samples: zh.samples, sampleRate: 16000 }, options({ g: zh, beams: 1 }));
    }
    expect(outer).toEqual(en.greedy);
    expect(inner?.tokens).toEqual(zh.greedy);
  });

  it('maxBatch 1 runs concurrent requests one by one, with the same ids', async () => {
    const one = await GlmAsr.load(join(GOLDENS, 'tiny'), { gpu, precision: 'f32', maxBatch: 1 });
    const reqs: Request[] = [{ g: en, beams: 1 }, { g: zh, beams: 4 }, { g: long, beams: 1 }];
    const got = await Promise.all(reqs.map((r) => one.transcribe({ samples: r.g.samples, sampleRate: 16000 },
      options(r))));
    reqs.forEach((r, i) => expect(got[i].tokens, `${r.g.name} beams ${r.beams}`).toEqual(expected(r)));
    // A request aborted while it waits for its turn leaves the queue; the one behind it still runs.
    const first = one.transcribe({ samples: long.samples, sampleRate: 16000 }, options({ g: long, beams: 1 }));
    await stepsLater(one, 1);
    const stop = new AbortController();
    // Aborted a turn after its encoder output arrived: by then it waits for the decoder rows the first one holds.
    const onProgress = (p: { stage: string; done: number; total: number }) => {
      if (p.stage === 'encode' && p.done === p.total) setTimeout(() => stop.abort(new Error('gave up waiting')), 0);
    };
    const queued = one.transcribe({ samples: en.samples, sampleRate: 16000 },
      options({ g: en, beams: 4 }, { signal: stop.signal, onProgress }));
    const behind = one.transcribe({ samples: zh.samples, sampleRate: 16000 }, options({ g: zh, beams: 1 }));
    await expect(queued).rejects.toThrow(/gave up waiting/);
    expect((await first).tokens).toEqual(long.greedy);
    expect((await behind).tokens).toEqual(zh.greedy);
    expect(one.batchStats.widestSequences).toBe(1);
    expect(one.batchStats.widest).toBe(4); // a beam-4 request runs alone, whatever maxBatch
    one.dispose();
  });
});

const noDemo = existsSync(join(DEMO, 'model.safetensors')) ? null : `${DEMO}/model.safetensors is missing`;
describe('continuous batching on the demo model', skipWhen(noDemo), () => {
  // f32 on every clip, and 4-bit weights quantised at load (the quantised matrix-vector kernel) on three.
  it.each([['f32', 6], ['int4', 3]] as const)('%s: its sample clips transcribed together give the ids each gives alone',
    async (precision, count) => {
      const gpu = await testGpu();
      const asr = await GlmAsr.load('demo', { gpu, precision, maxBatch: 8 });
      const clips = Object.keys(JSON.parse(readFileSync(join(DEMO, 'samples', 'expected.json'), 'utf8'))).sort()
        .slice(0, count);
      const wavs = clips.map((c) => new Uint8Array(readFileSync(join(DEMO, 'samples', c))));
      const beams = (i: number) => (i % 3 === 2 ? 2 : 1);
      const alone: Transcription[] = [];
      for (const [i, w] of wavs.entries()) alone.push(await asr.transcribe(w, { beams: beams(i) }));
      const steps = asr.batchStats.steps;
      const together = await Promise.all(wavs.map((w, i) => asr.transcribe(w, { beams: beams(i) })));
      clips.forEach((c, i) => {
        expect(together[i].tokens, c).toEqual(alone[i].tokens);
        expect(together[i].text, c).toBe(alone[i].text);
      });
      const shared = asr.batchStats.steps - steps;
      const separate = alone.reduce((n, t) => n + t.tokens.length, 0);
      expect(shared).toBeLessThan(separate); // fewer steps than tokens: steps were shared
      asr.dispose();
    });
});
