/**
 * GlmAsr behaviour beyond the goldens: abort, long audio (more windows than one prompt holds), bad input.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resample } from '../../src/audio';
import { buildTranscriptionPrompt } from '../../src/tokenizer';
import { GlmAsr } from '../../src/models/glm-asr/node';
import type { FileProvider } from '../../src/weights/checkpoint';
import { randomF32, testGpu } from '../helpers/gpu';
import { makeWav } from '../server/helpers';

const TINY = join(__dirname, '..', 'goldens', 'tiny');

describe('GlmAsr', () => {
  let asr: GlmAsr;
  beforeAll(async () => {
    asr = await GlmAsr.load(TINY, { gpu: await testGpu(), precision: 'f32' });
  });

  it('rejects with the abort reason, before and during generation', async () => {
    const samples = randomF32(16000 * 3, 1, 0.1);
    await expect(asr.transcribe({ samples, sampleRate: 16000 },
      { signal: AbortSignal.abort(new Error('stop now')) })).rejects.toThrow('stop now');
    const ctl = new AbortController();
    const run = asr.transcribe({ samples, sampleRate: 16000 }, {
      segmenter: 'fixed',
      signal: ctl.signal,
      maxNewTokens: 400,
      onProgress: (p) => { if (p.stage === 'generate' && p.done === 3) ctl.abort(new Error('enough')); },
    });
    await expect(run).rejects.toThrow('enough');
    // The engine is still usable afterwards.
    const t = await asr.transcribe({ samples, sampleRate: 16000 }, { segmenter: 'fixed', maxNewTokens: 3 });
    expect(t.tokens.length).toBeGreaterThan(0);
  });

  it('audio longer than max windows is transcribed in consecutive segments, each as if it were alone', async () => {
    const fe = asr.config.frontEnd;
    const seconds = fe.maxWindows * fe.chunkLength + 7; // 21 full windows (630 s) + 7 s
    const samples = randomF32(seconds * fe.sampleRate, 2, 0.05);
    const t = await asr.transcribe({ samples, sampleRate: 16000 }, { segmenter: 'fixed', maxNewTokens: 3 });
    const cut = fe.maxWindows * fe.chunkLength;
    expect(t.segments.map((s) => [s.start, s.end])).toEqual([[0, cut], [cut, seconds]]);
    expect(t.durationSec).toBeCloseTo(seconds, 6);
    // Every segment's ids and text are those of its audio transcribed on its own.
    const alone = [];
    for (const [a, b] of [[0, cut], [cut, seconds]]) {
      const part = samples.subarray(a * fe.sampleRate, b * fe.sampleRate);
      alone.push(await asr.transcribe({ samples: part, sampleRate: 16000 }, { segmenter: 'fixed', maxNewTokens: 3 }));
    }
    expect(alone.every((x) => x.tokens.length > 0)).toBe(true);
    expect(t.tokens).toEqual(alone.flatMap((x) => x.tokens));
    expect(t.segments.map((s) => s.text)).toEqual(alone.map((x) => x.text));
    expect(t.text).toBe(alone.map((x) => x.text).filter(Boolean).join(' '));
  });

  it('corrupt audio bytes give an AudioDecodeError naming the input', async () => {
    await expect(asr.transcribe(Uint8Array.from([82, 73, 70, 70, 9, 9]),
      { name: 'broken.wav' })).rejects.toThrow(/broken\.wav/);
    await expect(asr.transcribe(new Uint8Array(100),
      { name: 'zeros.bin' })).rejects.toMatchObject({ name: 'AudioDecodeError' });
  });

  it('refuses audio too short for one audio token, with the minimum in the message', async () => {
    await expect(asr.transcribe({ samples: randomF32(960, 4, 0.1), sampleRate: 16000 }, { name: 'blip.wav' }))
      .rejects.toThrow(/blip\.wav: audio is too short \(60\.0 ms\); GLM-ASR needs at least 60\.1 ms/);
    const t = await asr.transcribe({ samples: randomF32(961, 4, 0.1), sampleRate: 16000 },
      { segmenter: 'fixed', maxNewTokens: 2 });
    expect(t.tokens.length).toBeGreaterThan(0);
  });

  it('rejects a beam count above maxBeams with a clear message', async () => {
    await expect(asr.transcribe({ samples: randomF32(16000, 3, 0.1), sampleRate: 16000 },
      { beams: 9 })).rejects.toThrow(/beams must be an integer in \[1, 4\]/);
  });

  it('rejects bad transcribe options up front, naming the option, the value and the range', async () => {
    const audio = { samples: randomF32(16000, 3, 0.1), sampleRate: 16000 };
    for (const maxNewTokens of [0, -1, 1.5, NaN, 8193]) {
      await expect(asr.transcribe(audio, { segmenter: 'fixed', maxNewTokens })).rejects.toThrow(`maxNewTokens must ` +
        `be an integer in [1, 8192] (the decoder's positions), got ${maxNewTokens}`);
    }
    await expect(asr.transcribe(audio, { beams: 0 })).rejects.toMatchObject({ name: 'OptionError', option: 'beams' });
    await expect(asr.transcribe(audio, { lengthPenalty: NaN })).rejects.toThrow('lengthPenalty must be a ' +
      'finite number, got NaN');
    await expect(asr.transcribe(audio, { earlyStopping: 'yes' as never })).rejects.toThrow(`earlyStopping must be ` +
      `true, false or 'never', got "yes"`);
    await expect(asr.transcribe(audio, { signal: {} as AbortSignal })).rejects.toThrow('signal must be an ' +
      'AbortSignal, got an object (Object)');
  });

  it('takes file bytes as Uint8Array or ArrayBuffer; a path string or another type is refused with ' +
    'what to pass', async () => {
    const wav = makeWav(1, 5);
    const fromBytes = await asr.transcribe(wav, { segmenter: 'fixed', maxNewTokens: 2 });
    const fromBuffer = await asr.transcribe(wav.slice().buffer, { segmenter: 'fixed', maxNewTokens: 2 });
    expect(fromBuffer.tokens).toEqual(fromBytes.tokens);
    expect(fromBuffer.durationSec).toBe(1);
    await expect(asr.transcribe('clip.wav' as never)).rejects.toThrow('audio must be the file\'s bytes (e.g. await ' +
      'readFile(path)) or { samples, sampleRate }, got the string "clip.wav"');
    await expect(asr.transcribe(new Int16Array(100) as never)).rejects.toThrow('audio must be a Uint8Array or ' +
      'ArrayBuffer of file bytes, or { samples: Float32Array, sampleRate }, got an object (Int16Array)');
    await expect(asr.transcribe(undefined as never)).rejects.toMatchObject({ name: 'OptionError', option: 'audio' });
    await expect(asr.transcribe({ samples: [0.1, 0.2], sampleRate: 16000 } as never)).rejects.toThrow('audio.samples ' +
      'must be a Float32Array, got an array');
  });

  it('refuses non-finite samples like the file decoders do, naming the input and the sample', async () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const samples = randomF32(16000, 3, 0.1);
      samples[1234] = bad;
      await expect(asr.transcribe({ samples, sampleRate: 16000 }, { name: 'mic' })).rejects.toMatchObject({
        name: 'AudioDecodeError',
        message: `mic: sample 1234 is ${bad}; samples must be finite numbers`,
      });
    }
    await expect(asr.transcribe({ samples: new Float32Array(16000).fill(NaN),
      sampleRate: 16000 })).rejects.toThrow('audio: sample 0 is NaN');
  });

  it('resamples raw samples at other rates to 16 kHz (as decoded files are); the rate is an integer in ' +
    '1-768 kHz', async () => {
    for (const rate of [44100, 8000]) {
      const samples = randomF32(rate * 2, 7, 0.1);
      const t = await asr.transcribe({ samples, sampleRate: rate }, { segmenter: 'fixed', maxNewTokens: 3 });
      expect(t.durationSec).toBe(2);
      const at16k = await asr.transcribe({ samples: resample(samples, rate, 16000), sampleRate: 16000 },
        { segmenter: 'fixed', maxNewTokens: 3 });
      expect(t.tokens).toEqual(at16k.tokens);
    }
    for (const sampleRate of [0, -16000, 999, 768_001, 16000.5, NaN, '16000']) {
      await expect(asr.transcribe({ samples: randomF32(16000, 3, 0.1), sampleRate } as never)).rejects.toMatchObject({
        name: 'OptionError',
        option: 'audio.sampleRate',
        message: `audio.sampleRate must be an integer in [1000, 768000] Hz (the resampler's range), got ` +
          `${typeof sampleRate === 'string' ? '"16000"' : sampleRate}`,
      });
    }
  });
});

describe('GlmAsr.load option and file checks', () => {
  /** A provider that fails the test if anything is read: options are checked before any I/O. */
  const untouchable: FileProvider = {
    name: 'untouchable',
    exists: () => Promise.reject(new Error('read a file')),
    open: () => Promise.reject(new Error('read a file')),
    readText: () => Promise.reject(new Error('read a file')),
  };

  it('rejects bad options before creating a device or reading a file', async () => {
    for (const maxBeams of [0, -1, 1.5, NaN, 65]) {
      await expect(GlmAsr.load(untouchable, { maxBeams })).rejects.toThrow(`maxBeams must be an integer in ` +
        `[1, 64], got ${maxBeams}`);
    }
    await expect(GlmAsr.load(untouchable, { precision: 'bogus' as never })).rejects.toThrow('precision must be one ' +
      'of auto, f32, f16, int8, int4, got "bogus"');
    await expect(GlmAsr.load(untouchable, { gpu: {} as never })).rejects.toMatchObject({ name: 'OptionError',
      option: 'gpu' });
    await expect(GlmAsr.load(untouchable, { onProgress: 1 as never })).rejects.toThrow('onProgress ' +
      'must be a function, got 1');
    await expect(GlmAsr.load('/no/such/folder', { maxBeams: 0 })).rejects.toMatchObject({ option: 'maxBeams' });
    await expect(GlmAsr.load('')).rejects.toMatchObject({ name: 'OptionError', option: 'source' });
    await expect(GlmAsr.load(42 as never)).rejects.toMatchObject({ name: 'OptionError', option: 'source' });
  });

  describe('a tokenizer.json that is broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'glm-asr-tok-'));
    for (const f of readdirSync(TINY)) copyFileSync(join(TINY, f), join(dir, f));
    const good = readFileSync(join(TINY, 'tokenizer.json'), 'utf8');
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('is refused with the file and the problem: not JSON, or a BPE model without merges', async () => {
      writeFileSync(join(dir, 'tokenizer.json'), good.slice(0, 100));
      await expect(GlmAsr.load(dir)).rejects.toThrow(new RegExp(`^${dir}/tokenizer\\.json: ` +
        `\\(root\\): not valid JSON`));
      const json = JSON.parse(good) as { model: Record<string, unknown> };
      delete json.model.merges;
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
      await expect(GlmAsr.load(dir)).rejects.toMatchObject({
        name: 'TokenizerConfigError',
        message: `${dir}/tokenizer.json: model.merges: required field is missing`,
      });
    });
  });
});

describe('activations larger than one storage binding', () => {
  it('encoder window batches and chunked prefill give the same logits as one pass', async () => {
    const { openSafetensorsFile } = await import('../../src/weights/node-file-source');
    const { splitWindows } = await import('../../src/audio');
    const { relL2 } = await import('../helpers/gpu');
    const gpu = await testGpu();
    const asr = await GlmAsr.load(TINY, { gpu, precision: 'f32' });
    const dump = await openSafetensorsFile(join(__dirname, '..', 'goldens', 'dumps', 'tiny-long-2win.safetensors'));
    const raw = await dump.read('input_samples');
    await dump.close();
    const windows = splitWindows(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4),
      asr.config.frontEnd.nSamples);
    expect(windows).toHaveLength(2);
    const logitsOf = async (prefillChunk?: number) => {
      const dec = await asr.prefill(windows, { beams: 1, maxNewTokens: 2, prefillChunk });
      const l = await gpu.readF32(dec.logits, asr.config.decoder.vocab);
      dec.dispose();
      return l;
    };
    const whole = await logitsOf();
    const saved = gpu.caps.maxStorageBindingBytes;
    gpu.caps.maxStorageBindingBytes = 2 << 20; // one tiny encoder window (1.5 MiB of MLP activation) per batch
    try {
      const split = await logitsOf(37); // the 2-window prompt (over 400 positions) in chunks of 37
      // Bit-identical on lavapipe (rel-L2 0); a GPU may pick kernels that sum in another order for other sizes.
      expect(relL2(split, whole)).toBeLessThan(1e-6);
    } finally {
      gpu.caps.maxStorageBindingBytes = saved;
    }
  });
});

describe('a generation that reaches the end of the decoder positions', () => {
  it('stops there with the tokens so far, rather than overflowing the KV cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glm-asr-pos-'));
    try {
      for (const f of readdirSync(TINY)) copyFileSync(join(TINY, f), join(dir, f));
      const config = JSON.parse(readFileSync(join(TINY, 'config.json'),
        'utf8')) as { text_config: Record<string, unknown> };
      config.text_config.max_position_embeddings = 64;
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      const asr = await GlmAsr.load(dir, { gpu: await testGpu(), precision: 'f32' });
      const prompt = buildTranscriptionPrompt(asr.tokenizer, asr.audioTokens(16000)).ids.length;
      const t = await asr.transcribe({ samples: randomF32(16000, 11, 0.1), sampleRate: 16000 },
        { segmenter: 'fixed', maxNewTokens: 64 });
      // This random model never says eos here: it generates until the last position (prompt + n - 1 = 64).
      expect(t.tokens).toHaveLength(64 - prompt + 1);
      asr.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
