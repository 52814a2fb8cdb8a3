/**
 * What the CLI's commands share (src/cli/main.ts, src/cli/eval.ts): exit codes, argument parsing and checks that
 * turn mistakes into usage errors, bounded input reads, the progress line, and loading a model.
 */
import { open, stat } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MIN_CHUNK_SECONDS } from '../models/glm-asr/config';
import { AUDIO_BLOCKS, MAX_BATCH, MAX_BEAMS, OptionError, PRECISIONS, SEGMENTERS } from '../models/glm-asr/options';
import { GlmAsr } from '../models/glm-asr/node';
import type { TranscribeOptions } from '../models/glm-asr/transcriber';
import type { Transcriber } from '../server/transcriber';
import { resolveModelSource } from '../hub';

/** Bad usage: exit 2 with one line on stderr. */
export class UsageError extends Error {}

export const EXIT = { ok: 0, fileFailed: 1, usage: 2, model: 3 } as const;

/**
 * parseArgs with its errors as usage errors. A negative number after an option is taken as the option's value,
 * so that `--beams -1` is answered with what is wrong with -1 rather than parseArgs's "ambiguous" error.
 */
export function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const args = [...(config.args ?? [])];
  for (let i = 0; i + 1 < args.length; i++) {
    const name = /^--([^=]+)$/.exec(args[i])?.[1];
    if (name && config.options?.[name]?.type === 'string' && /^-\.?\d/.test(args[i + 1])) {
      args.splice(i, 2, `${args[i]}=${args[i + 1]}`);
    }
  }
  try {
    return parseArgs({ ...config, args }) as ReturnType<typeof parseArgs<T>>;
  } catch (e) {
    const code = String((e as { code?: unknown }).code);
    if (!code.startsWith('ERR_PARSE_ARGS')) throw e;
    // Node's message goes on to explain `--` for positionals starting with '-', which is not what went wrong here.
    const unknown = /^Unknown option '([^']+)'/.exec((e as Error).message);
    throw new UsageError(unknown ? `unknown option ${unknown[1]}` : (e as Error).message.replace(/\s*\n\s*/g, ' '));
  }
}

export function integer(flag: string, value: string, min: number, max: number): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `a positive integer` : `an integer from ${min} to ${max}`;
    throw new UsageError(`${flag} must be ${range}, got "${value}"`);
  }
  return n;
}

/** `--max-batch N` (serve, worker, transcribe): undefined when absent, for the engine's default. */
export function maxBatchArg(value: string | undefined): number | undefined {
  return value === undefined ? undefined : integer('--max-batch', value, 1, MAX_BATCH);
}

/** Transcriptions `asr` runs at once, batched: its `maxBatch` (absent: 1, one by one). */
export function batchOf(asr: Transcriber): number {
  return asr.maxBatch ?? 1;
}

/**
 * Runs `work` on each item, up to `limit` at once (the engine batches concurrent transcriptions), and runs what
 * each item `say`s in input order: the output of the earliest unfinished item as it comes, that of later items
 * once every item before them is done. Stops taking new items once `stop` is aborted.
 */
export async function inInputOrder<T>(items: readonly T[], limit: number, stop: AbortSignal,
  work: (item: T, say: (output: () => void) => void) => Promise<void>): Promise<void> {
  const held: (() => void)[][] = items.map(() => []);
  const done = items.map(() => false);
  let head = 0;
  const flush = () => {
    for (; head < items.length; head++) {
      for (const output of held[head].splice(0)) output();
      if (!done[head]) return;
    }
  };
  let next = 0;
  const runner = async () => {
    while (next < items.length && !stop.aborted) {
      const i = next++;
      try {
        await work(items[i], (output) => {
          held[i].push(output);
          if (i === head) flush();
        });
      } finally {
        done[i] = true;
        flush();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
}

/** A number of seconds of at least `min` (the upper bound, if any, is the loaded model's: transcribe checks it). */
export function seconds(flag: string, value: string, min: number): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n < min) {
    throw new UsageError(`${flag} must be a number of seconds ≥ ${min}, got "${value}"`);
  }
  return n;
}

export function oneOf<const T extends readonly string[]>(flag: string, value: string, allowed: T): T[number] {
  if (!allowed.includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value;
}

/**
 * The arguments of the commands that transcribe files (transcribe, eval): the model and transcription options,
 * each checked before the model loads, and `--format`, one of `formats`. The upper bounds of --max-new-tokens and
 * --max-chunk-seconds are the loaded model's, which transcribe checks. `extra`: a command's own options, returned
 * unchecked as `extra`.
 */
export function transcriptionArgs<const F extends readonly string[], const X extends ParseArgsOptionsConfig = {}>(
  args: string[], formats: F, extra?: X,
) {
  const { values, positionals } = parse({
    args,
    allowPositionals: true,
    options: {
      ...extra,
      model: { type: 'string' },
      beams: { type: 'string', default: '1' },
      'max-new-tokens': { type: 'string', default: '500' },
      segmenter: { type: 'string', default: 'vad' },
      'audio-blocks': { type: 'string', default: 'single' },
      'max-chunk-seconds': { type: 'string' },
      'max-input-mb': { type: 'string', default: '1024' },
      precision: { type: 'string', default: 'auto' },
      format: { type: 'string', default: formats[0] },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.model) throw new UsageError('--model is required');
  const beams = integer('--beams', values.beams!, 1, MAX_BEAMS);
  const maxNewTokens = integer('--max-new-tokens', values['max-new-tokens']!, 1, Number.MAX_SAFE_INTEGER);
  const maxInputBytes = integer('--max-input-mb', values['max-input-mb']!, 1, 2 ** 21) * 2 ** 20;
  const precision = oneOf('--precision', values.precision!, PRECISIONS);
  const format = oneOf('--format', values.format!, formats);
  const segmenter = oneOf('--segmenter', values.segmenter!, SEGMENTERS);
  const audioBlocks = oneOf('--audio-blocks', values['audio-blocks']!, AUDIO_BLOCKS);
  const chunkFlag = values['max-chunk-seconds'];
  const maxChunkSeconds = chunkFlag === undefined ? undefined
    : seconds('--max-chunk-seconds', chunkFlag, MIN_CHUNK_SECONDS);
  return {
    positionals, model: values.model, quiet: values.quiet!, format, precision, maxInputBytes,
    beams, decode: { segmenter, maxChunkSeconds, audioBlocks, beams, maxNewTokens }, extra: values as OptionValues<X>,
  };
}

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** What parseArgs gives for an options table (no `multiple` options). */
export type OptionValues<X extends ParseArgsOptionsConfig> = {
  [K in keyof X]?: X[K]['type'] extends 'boolean' ? boolean : string;
};

/** The options transcribing one file: `transcriptionArgs`'s `decode`, and its progress bar labelled `label`. */
export function fileOptions(
  decode: ReturnType<typeof transcriptionArgs>['decode'], name: string, label: string, progress: Progress,
): TranscribeOptions {
  return {
    name,
    ...decode,
    onProgress: (p) => {
      const unit = p.stage === 'generate' ? 'tokens' : p.stage === 'vad' ? 'seconds' : 'windows';
      progress.bar(`${label} ${p.stage}`, Math.round(p.done), Math.round(p.total), unit);
    },
  };
}

/**
 * An input file's bytes, read with a bound: a regular file up to `maxBytes` (its size is checked before reading),
 * a pipe or FIFO (e.g. bash's `<(...)`) until its end or `maxBytes`. Directories and devices are refused, so
 * that `/dev/zero` or `/dev/stdin` on a terminal is an error, not an endless read.
 */
export async function readInput(file: string, maxBytes: number): Promise<Uint8Array> {
  const st = await stat(file);
  const limit = `the ${maxBytes / 2 ** 20} MiB limit (--max-input-mb)`;
  if (st.isFile() && st.size > maxBytes) throw new Error(`is ${(st.size / 2 ** 20).toFixed(1)} MiB, over ${limit}`);
  if (!st.isFile() && !st.isFIFO() && !st.isSocket()) {
    const kind = st.isDirectory() ? 'a directory'
      : st.isCharacterDevice() ? 'a character device'
        : st.isBlockDevice() ? 'a block device' : 'not a file';
    throw new Error(`is ${kind}, not an audio file (a regular file or a pipe)`);
  }
  const fh = await open(file, 'r');
  try {
    const buf = new Uint8Array(2 ** 20);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, maxBytes + 1 - total), null);
      if (bytesRead === 0) break;
      chunks.push(buf.slice(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw new Error(`holds more than ${limit}`);
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** One progress line on stderr when it is a TTY; nothing otherwise. */
export class Progress {
  private shown = false;
  constructor(private readonly enabled: boolean) {}
  bar(label: string, done: number, total: number, unit: 'bytes' | 'windows' | 'tokens' | 'seconds'): void {
    if (!this.enabled) return;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const amount = unit === 'bytes'
      ? `${(done / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MiB`
      : `${done}/${total} ${unit}`;
    process.stderr.write(`\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${amount}`);
    this.shown = true;
  }
  done(): void {
    if (this.shown) process.stderr.write('\r\x1b[2K');
    this.shown = false;
  }
}

/**
 * The model named by `--model` (a folder, a repo id, which is downloaded, or "demo"), with progress; null when it
 * cannot be loaded, after one line on stderr (the caller exits with EXIT.model).
 */
export async function loadModel(
  model: string, precision: (typeof PRECISIONS)[number], maxBeams: number, progress: Progress, quiet: boolean,
  maxBatch?: number,
): Promise<GlmAsr | null> {
  let asr: GlmAsr;
  try {
    const dir = await resolveModelSource(model, {
      onProgress: (p) => progress.bar(`download ${p.file}`, p.bytes, p.totalBytes, 'bytes'),
    });
    asr = await GlmAsr.load(dir, {
      precision,
      maxBeams,
      maxBatch,
      onProgress: (p) => progress.bar('load', p.bytesDone, p.bytesTotal, 'bytes'),
    });
  } catch (e) {
    progress.done();
    console.error(`glm-asr: cannot load model "${model}": ${(e as Error).message}`);
    return null;
  }
  progress.done();
  if (asr.notice && !quiet) console.error(`glm-asr: ${asr.notice}`);
  return asr;
}

/**
 * An option the loaded model cannot take (e.g. --max-new-tokens beyond its decoder) as its command-line flag, for
 * one usage line; null for any other error.
 */
export function optionFlag(e: unknown): string | null {
  if (!(e instanceof OptionError)) return null;
  const flags: Record<string, string> = {
    maxNewTokens: '--max-new-tokens', beams: '--beams', maxChunkSeconds: '--max-chunk-seconds',
    // live sessions (transcribe -)
    maxUtteranceSeconds: '--max-chunk-seconds', 'turnDetection.threshold': '--vad-threshold',
    'turnDetection.silenceDurationMs': '--silence-ms', 'turnDetection.prefixPaddingMs': '--prefix-padding-ms',
    partialIntervalMs: '--partial-interval-ms',
  };
  const flag = flags[e.option] ?? e.option;
  return `${flag}: ${e.message}`;
}
