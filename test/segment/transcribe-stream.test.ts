/**
 * Segmentation and streaming with the demo model (models/demo) on a long recording built from its held-out samples
 * and long pauses: segment times against the known utterance offsets, each segment's text, no decoder run on
 * silence or noise, the event stream, and the decoder's log-probabilities against a CPU log-softmax.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeAudio } from '../../src/audio';
import { Decoder } from '../../src/models/glm-asr/decoder';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { DEFAULT_SEGMENTER } from '../../src/models/glm-asr/segments';
import { GpuSearchModel, TextDeltas, type TranscribeEvent } from '../../src/models/glm-asr/transcriber';
import { Tokenizer } from '../../src/tokenizer';
import { randomF32, testGpu } from '../helpers/gpu';

const REPO = join(__dirname, '..', '..');
const SAMPLES = join(REPO, 'models', 'demo', 'samples');
const expected: Record<string, string> = JSON.parse(readFileSync(join(SAMPLES, 'expected.json'), 'utf8'));
/** Clips the VAD finds and the demo model gets right on their own. */
const CLIPS = ['digits-oh.wav', 'command-hum.wav', 'command-bandpass.wav'];
/** Silence between utterances: longer than a chunk, so each utterance is a chunk of its own. */
const GAP_SEC = 31;
/**
 * A segment starts at most the padding + one 32 ms VAD frame before its clip, and ends at most that after it;
 * inside the clip it may start (end) up to 0.5 s late (early): the clips have silence at their edges.
 */
const OUTSIDE_SEC = DEFAULT_SEGMENTER.padMs / 1000 + 0.035;
const INSIDE_SEC = 0.5;

describe('segmenter vad and transcribeStream (demo model)', () => {
  let asr: GlmAsr;
  let recording: Float32Array;
  const offsets: [number, number][] = [];

  beforeAll(async () => {
    asr = await GlmAsr.load('demo', { gpu: await testGpu(), precision: 'f32' });
    const parts: Float32Array[] = [];
    let n = 0;
    const add = (x: Float32Array) => {
      parts.push(x);
      n += x.length;
    };
    add(randomF32(16000 * 2, 1, 0.002)); // faint noise, not speech
    for (const [i, name] of CLIPS.entries()) {
      const clip = (await decodeAudio(readFileSync(join(SAMPLES, name)), name)).samples;
      offsets.push([n / 16000, (n + clip.length) / 16000]);
      add(clip);
      add(randomF32(16000 * GAP_SEC, 10 + i, 0.002));
    }
    recording = new Float32Array(n);
    let at = 0;
    for (const p of parts) {
      recording.set(p, at);
      at += p.length;
    }
  });
  afterAll(() => asr?.dispose());
  afterEach(() => vi.restoreAllMocks());

  it('one segment per utterance, at its offsets, with its text and statistics', async () => {
    const t = await asr.transcribe({ samples: recording, sampleRate: 16000 });
    expect(t.segments.length).toBe(CLIPS.length);
    t.segments.forEach((s, i) => {
      const [a, b] = offsets[i];
      expect(s.start, `segment ${i} start`).toBeGreaterThan(a - OUTSIDE_SEC);
      expect(s.start, `segment ${i} start`).toBeLessThan(a + INSIDE_SEC);
      expect(s.end, `segment ${i} end`).toBeLessThan(b + OUTSIDE_SEC);
      expect(s.end, `segment ${i} end`).toBeGreaterThan(b - INSIDE_SEC);
      expect(s.text).toBe(expected[CLIPS[i]]);
      expect(s.avgLogprob).toBeLessThan(0);
      expect(s.avgLogprob).toBeGreaterThan(-1);
      expect(s.noSpeechProb).toBeGreaterThanOrEqual(0);
      expect(s.noSpeechProb).toBeLessThan(0.5);
    });
    expect(t.text).toBe(CLIPS.map((c) => expected[c]).join(' '));
    expect(t.tokens).toEqual(t.segments.flatMap((s) => s.tokens));
  });

  it('silence and noise give an empty transcript without running the decoder', async () => {
    const prefill = vi.spyOn(Decoder.prototype, 'prefill');
    for (const samples of [new Float32Array(16000 * 40), randomF32(16000 * 40, 7, 0.01)]) {
      const t = await asr.transcribe({ samples, sampleRate: 16000 });
      expect(t.text).toBe('');
      expect(t.segments).toEqual([]);
    }
    expect(prefill).not.toHaveBeenCalled();
    // The same audio with segmenter 'fixed' does run it (the spy sees it).
    const silence = { samples: new Float32Array(16000 * 2), sampleRate: 16000 };
    await asr.transcribe(silence, { segmenter: 'fixed', maxNewTokens: 2 });
    expect(prefill).toHaveBeenCalled();
  });

  it('streams segment-start, text deltas that join to the segment text, segment-end, then done', async () => {
    const events: TranscribeEvent[] = [];
    for await (const e of asr.transcribeStream({ samples: recording, sampleRate: 16000 })) events.push(e);
    expect(events.at(-1)!.type).toBe('done');
    const ends = events.filter((e) => e.type === 'segment-end');
    expect(ends.length).toBe(CLIPS.length);
    for (const [i, end] of ends.entries()) {
      const own = events.filter((e) => 'index' in e && e.index === i);
      expect(own[0]).toMatchObject({ type: 'segment-start', start: end.segment.start, end: end.segment.end });
      expect(own.at(-1)).toBe(end);
      const deltas = own.filter((e) => e.type === 'text').map((e) => e.delta);
      expect(deltas.length).toBeGreaterThan(1);
      expect(deltas.join('')).toBe(end.segment.text);
    }
    // The first segment ends before the later audio is decoded: its end comes before the next segment's start.
    const firstEnd = events.findIndex((e) => e.type === 'segment-end');
    expect(events.findIndex((e) => e.type === 'segment-start' && e.index === 1)).toBeGreaterThan(firstEnd);
  });

  it('a consumer that stops early stops the work, and the engine stays usable', async () => {
    const prefill = vi.spyOn(Decoder.prototype, 'prefill');
    const step = vi.spyOn(GpuSearchModel.prototype, 'step');
    let stepsAtBreak = 0;
    for await (const e of asr.transcribeStream({ samples: recording, sampleRate: 16000 })) {
      if (e.type === 'text') {
        stepsAtBreak = step.mock.calls.length;
        break;
      }
    }
    expect(prefill).toHaveBeenCalledTimes(1);
    // The search stops at its next step (a step in flight finishes), not after the segment's last token.
    expect(step.mock.calls.length - stepsAtBreak).toBeLessThanOrEqual(1);
    const t = await asr.transcribe({ samples: recording, sampleRate: 16000 });
    expect(t.segments.length).toBe(CLIPS.length);
  });

  it('rejects a bad segmenter or audioBlocks before any work', async () => {
    const audio = { samples: recording, sampleRate: 16000 };
    await expect(asr.transcribe(audio, { segmenter: 'silero' as never })).rejects.toMatchObject({
      name: 'OptionError', option: 'segmenter', message: `segmenter must be one of 'vad', 'fixed', got "silero"`,
    });
    await expect(asr.transcribe(audio, { audioBlocks: 2 as never })).rejects.toMatchObject({ option: 'audioBlocks' });
  });

  it("maxChunkSeconds: the demo model's 3 s from its generation_config.json, or the option's", async () => {
    expect(asr.config.frontEnd.maxChunkSeconds).toBe(3);
    // Two clips 1.5 s apart (4.1 s in all): two chunks within 3 s, one within 10 s.
    const [a, b] = await Promise.all(CLIPS.slice(1).map(async (name) =>
      (await decodeAudio(readFileSync(join(SAMPLES, name)), name)).samples));
    const pair = new Float32Array(a.length + 24000 + b.length);
    pair.set(a);
    pair.set(randomF32(24000, 7, 0.002), a.length);
    pair.set(b, a.length + 24000);
    const audio = { samples: pair, sampleRate: 16000 };
    const split = await asr.transcribe(audio, { maxNewTokens: 20 });
    expect(split.segments.map((s) => s.text)).toEqual(CLIPS.slice(1).map((c) => expected[c]));
    expect((await asr.transcribe(audio, { maxChunkSeconds: 10, maxNewTokens: 20 })).segments.length).toBe(1);
    for (const bad of [1.9, 30.5, Number.NaN, '10']) {
      await expect(asr.transcribe(audio, { maxChunkSeconds: bad as number })).rejects.toMatchObject({
        name: 'OptionError', option: 'maxChunkSeconds',
        message: expect.stringMatching(/^maxChunkSeconds must be a number in \[2, 30\] \(the model's window\), got /),
      });
    }
  });

  it('beam search: the same avgLogprob as greedy on the same tokens, whatever lengthPenalty', async () => {
    const clip = { samples: recording.subarray(0, Math.round((offsets[0][1] + 1) * 16000)), sampleRate: 16000 };
    const greedy = (await asr.transcribe(clip)).segments[0];
    for (const lengthPenalty of [1, 0.5]) {
      const beam = (await asr.transcribe(clip, { beams: 2, lengthPenalty })).segments[0];
      expect(beam.tokens).toEqual(greedy.tokens);
      expect(Math.abs(beam.avgLogprob! - greedy.avgLogprob!)).toBeLessThan(1e-5);
    }
  });

  it("greedy log-probabilities equal a CPU log-softmax of the decoder's logits", async () => {
    const fe = asr.config.frontEnd;
    const samples = new Float32Array(fe.nSamples);
    samples.set(recording.subarray(Math.round(offsets[0][0] * 16000), Math.round(offsets[0][1] * 16000)));
    const decoder = await asr.prefill([{ samples, validSamples: Math.round((offsets[0][1] - offsets[0][0]) * 16000) }],
      { beams: 1, maxNewTokens: 8 });
    const model = new GpuSearchModel(asr.gpu, decoder, asr.config.decoder.vocab, 1, { logprobs: true });
    try {
      for (let step = 0; step < 4; step++) {
        const logits = await asr.gpu.readF32(decoder.logits, asr.config.decoder.vocab);
        const [id] = await model.argmax(1);
        let max = -Infinity;
        let arg = 0;
        logits.forEach((v, i) => {
          if (v > max) [max, arg] = [v, i];
        });
        let sum = 0;
        for (const v of logits) sum += Math.exp(v - max);
        expect(id).toBe(arg);
        expect(Math.abs(model.lastLogprobs[0] - (logits[id] - max - Math.log(sum)))).toBeLessThan(1e-5);
        await model.step(Int32Array.of(id));
      }
    } finally {
      model.dispose();
      decoder.dispose();
    }
  });
});

describe('TextDeltas', () => {
  it('never splits a multi-byte character: Mandarin ids one by one give whole characters that join to the text', () => {
    const tok = Tokenizer.fromJSON(readFileSync(join(REPO, 'test', 'goldens', 'tiny', 'tokenizer.json'), 'utf8'));
    const text = '你好，世界。今天天气很好';
    const ids = tok.encode(text, { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan([...text].length); // some characters span several byte tokens
    const deltas = new TextDeltas(tok);
    const out = ids.map((id) => deltas.push(id));
    expect(out.join('')).toBe(text);
    for (const d of out) expect(d).not.toMatch(/\uFFFD/);
    expect(out.filter((d) => d === '').length).toBeGreaterThan(0); // partial characters were held back
  });

  it('drops leading and holds back trailing whitespace, so the deltas join to the trimmed text', () => {
    const tok = Tokenizer.fromJSON(readFileSync(join(REPO, 'test', 'goldens', 'tiny', 'tokenizer.json'), 'utf8'));
    const ids = tok.encode('  one two  ', { addSpecialTokens: false });
    const deltas = new TextDeltas(tok);
    expect(ids.map((id) => deltas.push(id)).join('')).toBe('one two');
  });
});
