/**
 * Checks of what callers pass to `GlmAsr.load` and `transcribe`, run before any work starts (no device, no file
 * read, no decoding), so that a wrong option fails at once with a message naming the option, the value and what
 * is allowed — not later inside a kernel or a cache.
 */
import { AudioDecodeError, getResampler, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, TARGET_SAMPLE_RATE } from '../../audio';
import type { Gpu } from '../../gpu';
import { MIN_CHUNK_SECONDS } from './config';
import type { FileProvider } from '../../weights/checkpoint';

/** A beam search keeps all beams' candidates in one flattened top-k, which holds at most 64 rows (ops/sample.ts). */
export const MAX_BEAMS = 64;
export const PRECISIONS = ['auto', 'f32', 'f16', 'int8', 'int4'] as const;
/** How audio is cut for transcription (TranscribeOptions.segmenter). */
export const SEGMENTERS = ['vad', 'fixed'] as const;
export type SegmenterKind = (typeof SEGMENTERS)[number];
/** Audio blocks of a several-window prompt (TranscribeOptions.audioBlocks). */
export const AUDIO_BLOCKS = ['single', 'per-window'] as const;
export type AudioBlocks = (typeof AUDIO_BLOCKS)[number];

/** A `load` or `transcribe` argument that is not acceptable; `option` names it (`maxNewTokens`, `audio.sampleRate`). */
export class OptionError extends RangeError {
  override readonly name = 'OptionError';
  constructor(readonly option: string, message: string) {
    super(`${option} ${message}`);
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'function') return 'a function';
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return 'an array';
  return `an object (${v.constructor?.name ?? 'no prototype'})`;
}

function integerIn(option: string, v: unknown, min: number, max: number, note = ''): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new OptionError(option, `must be an integer in [${min}, ${max}]${note}, got ${show(v)}`);
  }
  return v;
}

function record(options: unknown): Record<string, unknown> {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', `must be an object, got ${show(options)}`);
  }
  return options as Record<string, unknown>;
}

function optional(option: string, v: unknown, type: 'function' | 'object' | 'string'): void {
  if (v !== undefined && typeof v !== type) throw new OptionError(option, `must be a ${type}, got ${show(v)}`);
}

function isProvider(p: unknown): p is FileProvider {
  return typeof p === 'object' && p !== null &&
    ['exists', 'open', 'readText'].every((m) => typeof (p as Record<string, unknown>)[m] === 'function');
}

/** Most rows one batched decoder step may serve (`LoadOptions.maxBatch`). */
export const MAX_BATCH = 256;

/** Validates `load`'s source and options (see LoadOptions); throws OptionError. */
export function checkLoadOptions(source: unknown, options: unknown): void {
  if (!(typeof source === 'string' && source.length > 0) && !isProvider(source)) {
    const what = "a folder path, a Hugging Face repo id, 'demo' or a FileProvider";
    throw new OptionError('source', `must be ${what}, got ${show(source)}`);
  }
  if (options === undefined) return;
  const o = record(options);
  if (o.precision !== undefined && !(PRECISIONS as readonly unknown[]).includes(o.precision)) {
    throw new OptionError('precision', `must be one of ${PRECISIONS.join(', ')}, got ${show(o.precision)}`);
  }
  if (o.maxBeams !== undefined) integerIn('maxBeams', o.maxBeams, 1, MAX_BEAMS);
  if (o.maxBatch !== undefined) integerIn('maxBatch', o.maxBatch, 1, MAX_BATCH);
  // Checked by shape, not instanceof: the ESM and CJS builds (or two copies of the package) have distinct classes.
  const isGpu = (g: unknown) => typeof g === 'object' && g !== null && typeof (g as Gpu).tensor === 'function' &&
    typeof (g as Gpu).caps === 'object';
  if (o.gpu !== undefined && !isGpu(o.gpu)) {
    throw new OptionError('gpu', `must be a Gpu (Gpu.create()), got ${show(o.gpu)}`);
  }
  optional('gpuOptions', o.gpuOptions, 'object');
  optional('onProgress', o.onProgress, 'function');
  const isVadFiles = (v: Record<string, unknown>) => typeof v.config === 'string' && v.weights instanceof Uint8Array;
  if (o.vad !== undefined && !isProvider(o.vad) && !(typeof o.vad === 'object' && o.vad !== null &&
    isVadFiles(o.vad as Record<string, unknown>))) {
    const what = 'a FileProvider or { config: string, weights: Uint8Array }';
    throw new OptionError('vad', `must be ${what}, got ${show(o.vad)}`);
  }
}

function oneOf<T extends string>(option: string, v: unknown, allowed: readonly T[]): void {
  if (v !== undefined && !(allowed as readonly unknown[]).includes(v)) {
    throw new OptionError(option, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(v)}`);
  }
}

/** Validates `transcribe`'s options against the loaded model's limits; throws OptionError. */
export function checkTranscribeOptions(options: unknown,
  limits: { maxBeams: number; maxPositions: number; windowSeconds: number }): void {
  const o = record(options);
  oneOf('segmenter', o.segmenter, SEGMENTERS);
  const chunk = o.maxChunkSeconds;
  const chunkOk = typeof chunk === 'number' && chunk >= MIN_CHUNK_SECONDS && chunk <= limits.windowSeconds;
  if (chunk !== undefined && !chunkOk) {
    throw new OptionError('maxChunkSeconds', `must be a number in [${MIN_CHUNK_SECONDS}, ${limits.windowSeconds}] ` +
      `(the model's window), got ${show(chunk)}`);
  }
  oneOf('audioBlocks', o.audioBlocks, AUDIO_BLOCKS);
  if (o.beams !== undefined) integerIn('beams', o.beams, 1, limits.maxBeams, ' (maxBeams at load)');
  if (o.maxNewTokens !== undefined) {
    integerIn('maxNewTokens', o.maxNewTokens, 1, limits.maxPositions, " (the decoder's positions)");
  }
  if (o.lengthPenalty !== undefined && !(typeof o.lengthPenalty === 'number' && Number.isFinite(o.lengthPenalty))) {
    throw new OptionError('lengthPenalty', `must be a finite number, got ${show(o.lengthPenalty)}`);
  }
  if (o.earlyStopping !== undefined && ![true, false, 'never'].includes(o.earlyStopping as boolean | string)) {
    throw new OptionError('earlyStopping', `must be true, false or 'never', got ${show(o.earlyStopping)}`);
  }
  if (o.signal !== undefined && typeof (o.signal as AbortSignal | null)?.throwIfAborted !== 'function') {
    throw new OptionError('signal', `must be an AbortSignal, got ${show(o.signal)}`);
  }
  optional('name', o.name, 'string');
  optional('onProgress', o.onProgress, 'function');
}

/** Audio given to transcribe: encoded file bytes, or mono samples at any supported rate. */
export type AudioInput = Uint8Array | ArrayBuffer | { samples: Float32Array; sampleRate: number };

/**
 * The audio argument as file bytes (to decode) or as 16 kHz mono samples: raw samples get the checks the file
 * decoders apply (finite values, a usable rate) and are resampled like decoded audio. Throws OptionError for an
 * argument of the wrong kind, AudioDecodeError (naming `name`) for bad sample values.
 */
export function audioArgument(audio: unknown, name: string): { bytes: Uint8Array } | { samples: Float32Array } {
  if (audio instanceof Uint8Array) return { bytes: audio };
  if (audio instanceof ArrayBuffer) return { bytes: new Uint8Array(audio) };
  if (typeof audio === 'string') {
    const what = "the file's bytes (e.g. await readFile(path)) or { samples, sampleRate }";
    throw new OptionError('audio', `must be ${what}, got the string ${show(audio)}`);
  }
  if (typeof audio !== 'object' || audio === null || ArrayBuffer.isView(audio) || !('samples' in audio)) {
    const what = 'a Uint8Array or ArrayBuffer of file bytes, or { samples: Float32Array, sampleRate }';
    throw new OptionError('audio', `must be ${what}, got ${show(audio)}`);
  }
  const { samples, sampleRate } = audio as { samples: unknown; sampleRate: unknown };
  if (!(samples instanceof Float32Array)) {
    throw new OptionError('audio.samples', `must be a Float32Array, got ${show(samples)}`);
  }
  const note = " Hz (the resampler's range)";
  const rate = integerIn('audio.sampleRate', sampleRate, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, note);
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i])) {
      throw new AudioDecodeError(name, `sample ${i} is ${samples[i]}; samples must be finite numbers`);
    }
  }
  return { samples: rate === TARGET_SAMPLE_RATE ? samples : getResampler(rate, TARGET_SAMPLE_RATE).process(samples) };
}
