/**
 * Silero VAD v5 speech probabilities, one per chunk of 512 samples at 16 kHz (256 at 8 kHz), i.e. per 32 ms.
 *
 *   const vad = await SileroVad.load(provider);          // folder with config.json + model.safetensors
 *   const p = vad.probabilities(samples16k, 16000);      // Float32Array, ⌈samples / 512⌉ values in [0, 1]
 *   const s = vad.stream(16000); s.push(piece) …; s.flush();   // live: the same values, piece by piece
 *
 * Like silero's own `get_speech_timestamps`, the state and context start at zero and the last partial chunk is
 * zero-padded. Browser-safe.
 */
import { VadBranch } from './forward';
import { loadVadWeights, type VadConfig, type VadSource } from './model';

/** Steps encoded per batch: bounds the scratch memory (≈ 1.3 MB at 16 kHz) whatever the input length. */
const BLOCK_STEPS = 256;

export class VadInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VadInputError';
  }
}

/**
 * Samples must be a Float32Array of finite values: one NaN or infinity would make every later probability NaN
 * (it enters the LSTM state). `offset` is the stream position of samples[0], for the message.
 */
function checkSamples(samples: Float32Array, offset: number): void {
  if (!(samples instanceof Float32Array)) {
    const kind = Object.prototype.toString.call(samples);
    throw new VadInputError(`VAD input must be a Float32Array of samples, got ${kind}`);
  }
  for (let i = 0; i < samples.length; i++) {
    // x − x is 0 for finite x and NaN for NaN and ±Infinity.
    if (samples[i] - samples[i] !== 0) {
      throw new VadInputError(`VAD input sample ${offset + i} is ${samples[i]}: samples must be finite`);
    }
  }
}

export class SileroVad {
  readonly config: VadConfig;
  private readonly branches: Map<number, VadBranch>;

  private constructor(config: VadConfig, branches: Map<number, VadBranch>) {
    this.config = config;
    this.branches = branches;
  }

  /** Load from a folder provider (config.json + model.safetensors) or from both files' contents. */
  static async load(source: VadSource): Promise<SileroVad> {
    const { config, branches } = await loadVadWeights(source);
    return new SileroVad(config, new Map(branches.map((b) => [b.rate, new VadBranch(b, BLOCK_STEPS)])));
  }

  /** Sample rates the weights support (16000 and 8000). */
  get sampleRates(): number[] {
    return [...this.branches.keys()];
  }

  /** Samples per chunk (one probability each) at `sampleRate`. */
  chunkSamples(sampleRate: number): number {
    return this.branch(sampleRate).chunk;
  }

  private branch(sampleRate: number): VadBranch {
    const b = this.branches.get(sampleRate);
    if (!b) {
      const rates = this.sampleRates.join(' or ');
      throw new VadInputError(`VAD sample rate ${sampleRate} Hz is not supported: resample to ${rates} Hz`);
    }
    return b;
  }

  /** A fresh stream (zero state and context) at `sampleRate`. */
  stream(sampleRate: number): VadStream {
    return new VadStream(this.branch(sampleRate));
  }

  /** Speech probability of each chunk of `samples` (mono, at `sampleRate`), the last chunk zero-padded. */
  probabilities(samples: Float32Array, sampleRate: number): Float32Array {
    const s = this.stream(sampleRate);
    const head = s.push(samples);
    const tail = s.flush();
    const out = new Float32Array(head.length + tail.length);
    out.set(head);
    out.set(tail, head.length);
    return out;
  }
}

/**
 * Live use: `push` any number of samples, get the probabilities of the chunks they complete. The LSTM state and
 * the last `context` samples carry over between pushes, so any split of the audio gives the same values.
 */
export class VadStream {
  readonly sampleRate: number;
  private readonly branch: VadBranch;
  private readonly h: Float32Array;
  private readonly c: Float32Array;
  private readonly ctx: Float32Array;
  /** Samples of the chunk not complete yet. */
  private readonly partial: Float32Array;
  private partialLength = 0;
  private done = 0;

  constructor(branch: VadBranch) {
    this.branch = branch;
    this.sampleRate = branch.weights.rate;
    this.h = new Float32Array(branch.hidden);
    this.c = new Float32Array(branch.hidden);
    this.ctx = new Float32Array(branch.context);
    this.partial = new Float32Array(branch.chunk);
  }

  /** Chunks completed so far (the number of probabilities returned). */
  get chunks(): number {
    return this.done;
  }

  /** Refused input (see checkSamples) leaves the stream as it was. */
  push(samples: Float32Array): Float32Array {
    checkSamples(samples, this.done * this.branch.chunk + this.partialLength);
    const { chunk } = this.branch;
    let pos = 0;
    const completes = Math.floor((this.partialLength + samples.length) / chunk);
    const out = new Float32Array(completes);
    let done = 0;
    if (this.partialLength > 0) {
      const take = Math.min(chunk - this.partialLength, samples.length);
      this.partial.set(samples.subarray(0, take), this.partialLength);
      this.partialLength += take;
      pos = take;
      if (this.partialLength < chunk) return out;
      this.run(this.partial, 0, 1, out, 0);
      this.partialLength = 0;
      done = 1;
    }
    while (done < completes) {
      const steps = Math.min(this.branch.maxSteps, completes - done);
      this.run(samples, pos, steps, out, done);
      pos += steps * chunk;
      done += steps;
    }
    this.partial.set(samples.subarray(pos), 0);
    this.partialLength = samples.length - pos;
    return out;
  }

  /** End of audio: the pending partial chunk, zero-padded, gives one more probability (none if nothing is pending). */
  flush(): Float32Array {
    if (this.partialLength === 0) return new Float32Array(0);
    this.partial.fill(0, this.partialLength);
    const out = new Float32Array(1);
    this.run(this.partial, 0, 1, out, 0);
    this.partialLength = 0;
    return out;
  }

  private run(src: Float32Array, off: number, steps: number, out: Float32Array, outOff: number): void {
    const { chunk, context } = this.branch;
    this.branch.encode(src, off, steps, this.ctx);
    this.branch.decode(steps, this.h, this.c, out, outOff);
    const end = off + steps * chunk;
    this.ctx.set(src.subarray(end - context, end));
    this.done += steps;
  }
}
