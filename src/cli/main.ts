#!/usr/bin/env node
/**
 * The `glm-asr` command.
 *
 *   glm-asr transcribe FILE... --model DIR|ORG/NAME [--beams N] [--max-new-tokens N]
 *                     [--precision auto|f32|f16|int8] [--format txt|json|srt|vtt] [--quiet]
 *   glm-asr download ORG/NAME[@REVISION]
 *   glm-asr serve --model DIR|ORG/NAME [--host 127.0.0.1] [--port 7860] [--api-key K] [--no-model-files]
 *   glm-asr doctor [--json]
 *   glm-asr setup [--deb FILE]
 *
 * Exit codes: 0 success; 1 a file failed to transcribe (the others are still done); 2 bad usage;
 * 3 the model could not be loaded or downloaded.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MAX_BEAMS, OptionError, PRECISIONS } from '../models/glm-asr/options';
import { GlmAsr } from '../models/glm-asr/node';
import { type Transcription } from '../models/glm-asr/transcriber';
import { downloadModel, resolveModelSource } from '../hub';
import { doctorCommand, setupCommand } from './doctor';
import { toSrt, toVtt } from '../formats';

const USAGE = `Usage:
  glm-asr transcribe FILE... --model DIR|ORG/NAME [options]
      --beams N              beam search with N beams, 1..64 (default 1: greedy)
      --max-new-tokens N     most tokens generated per 30 s..630 s segment (default 500)
      --max-input-mb N       largest input read, in MiB (default 1024); FILE may be a pipe (e.g. <(sox ...))
      --precision P          weight storage: auto | f32 | f16 | int8 (default auto; int8 needs a checkpoint
                             made by "npm run quantize", which auto picks)
      --format F             txt | json | srt | vtt (default txt); json prints one object per file per line
      --quiet                no progress output
  glm-asr download ORG/NAME[@REVISION]     fetch a model into the Hugging Face cache
  glm-asr serve --model DIR|ORG/NAME [--host 127.0.0.1] [--port 7860] [--api-key K] [--no-model-files]
      serves POST /v1/audio/transcriptions (OpenAI-compatible), the web UI at /, and the model's files at
      /models/<id>/ for the UI's in-browser mode (--no-model-files turns that off); the key is also read from
      GLM_ASR_API_KEY
  glm-asr doctor [--json]                  the WebGPU adapter, its features and limits, and what is missing
  glm-asr setup [--deb FILE]               Linux without a GPU driver: install a CPU driver (Mesa lavapipe) into
                                           the user cache folder (--deb: from this mesa-vulkan-drivers package)
FILE may be a glob ("clips/*.wav"). Models are a local folder, a Hugging Face repo id or "demo".`;

class UsageError extends Error {}

const EXIT = { ok: 0, fileFailed: 1, usage: 2, model: 3 } as const;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  switch (command) {
    case 'transcribe':
      return transcribeCommand(rest);
    case 'download':
      return downloadCommand(rest);
    case 'serve':
      return serveCommand(rest);
    case 'doctor':
      return doctorCommand(parse({ args: rest, options: { json: { type: 'boolean', default: false } } }).values.json!);
    case 'setup': {
      const { values } = parse({ args: rest, options: { deb: { type: 'string' } } });
      return setupCommand(values.deb);
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function transcribeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      beams: { type: 'string', default: '1' },
      'max-new-tokens': { type: 'string', default: '500' },
      'max-input-mb': { type: 'string', default: '1024' },
      precision: { type: 'string', default: 'auto' },
      format: { type: 'string', default: 'txt' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.model) throw new UsageError('--model is required');
  if (!positionals.length) throw new UsageError('no audio files given');
  // Every option is checked here, before the model loads; the upper bound of --max-new-tokens is the model's
  // decoder length, which transcribe checks.
  const beams = integer('--beams', values.beams!, 1, MAX_BEAMS);
  const maxNewTokens = integer('--max-new-tokens', values['max-new-tokens']!, 1, Number.MAX_SAFE_INTEGER);
  const maxInputBytes = integer('--max-input-mb', values['max-input-mb']!, 1, 2 ** 21) * 2 ** 20;
  const precision = oneOf('--precision', values.precision!, PRECISIONS);
  const format = oneOf('--format', values.format!, ['txt', 'json', 'srt', 'vtt'] as const);
  const files = await expandInputs(positionals);
  const progress = new Progress(!values.quiet && process.stderr.isTTY === true);

  let asr: GlmAsr;
  try {
    const dir = await resolveModelSource(values.model, {
      onProgress: (p) => progress.bar(`download ${p.file}`, p.bytes, p.totalBytes, 'bytes'),
    });
    asr = await GlmAsr.load(dir, {
      precision,
      maxBeams: Math.max(beams, 1),
      onProgress: (p) => progress.bar('load', p.bytesDone, p.bytesTotal, 'bytes'),
    });
  } catch (e) {
    progress.done();
    console.error(`glm-asr: cannot load model "${values.model}": ${(e as Error).message}`);
    return EXIT.model;
  }
  progress.done();
  if (asr.notice && !values.quiet) console.error(`glm-asr: ${asr.notice}`);

  let failed = 0;
  try {
    for (const file of files) {
      try {
        const bytes = await readInput(file, maxInputBytes);
        const t = await asr.transcribe(bytes, {
          name: file,
          beams,
          maxNewTokens,
          onProgress: (p) => {
            const unit = p.stage === 'generate' ? 'tokens' : 'windows';
            progress.bar(`${basename(file)} ${p.stage}`, p.done, p.total, unit);
          },
        });
        progress.done();
        process.stdout.write(render(file, t, format, files.length > 1));
      } catch (e) {
        progress.done();
        // An option the loaded model cannot take (e.g. --max-new-tokens beyond its decoder) is bad usage, the same
        // for every file.
        if (e instanceof OptionError) {
          const flag = e.option === 'maxNewTokens' ? '--max-new-tokens' : e.option === 'beams' ? '--beams' : e.option;
          console.error(`glm-asr: ${flag}: ${e.message}`);
          return EXIT.usage;
        }
        failed++;
        console.error(`glm-asr: ${file}: ${(e as Error).message}`);
      }
    }
  } finally {
    asr.dispose();
  }
  return failed ? EXIT.fileFailed : EXIT.ok;
}

function render(file: string, t: Transcription, format: 'txt' | 'json' | 'srt' | 'vtt', many: boolean): string {
  switch (format) {
    case 'json':
      return JSON.stringify({
        file, text: t.text, tokens: t.tokens, segments: t.segments, durationSec: t.durationSec, timings: t.timings,
      }) + '\n';
    case 'srt':
      return (many ? `# ${file}\n` : '') + toSrt(t.segments) + '\n';
    case 'vtt':
      return (many ? `NOTE ${file}\n\n` : '') + toVtt(t.segments);
    default:
      return many ? `${file}: ${t.text}\n` : `${t.text}\n`;
  }
}

async function downloadCommand(args: string[]): Promise<number> {
  const { positionals } = parse({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) {
    throw new UsageError('download takes one repository id, e.g. zai-org/GLM-ASR-Nano-2512');
  }
  const [repo, revision] = positionals[0].split('@');
  const progress = new Progress(process.stderr.isTTY === true);
  try {
    const dir = await downloadModel(repo, {
      revision, onProgress: (p) => progress.bar(p.file, p.bytes, p.totalBytes, 'bytes'),
    });
    progress.done();
    console.log(dir);
    return EXIT.ok;
  } catch (e) {
    progress.done();
    console.error(`glm-asr: ${(e as Error).message}`);
    return EXIT.model;
  }
}

async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse({
    args,
    options: {
      model: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '7860' },
      'api-key': { type: 'string' },
      precision: { type: 'string', default: 'auto' },
      'no-model-files': { type: 'boolean', default: false },
    },
  });
  if (!values.model) throw new UsageError('--model is required');
  if (!values.host) throw new UsageError('--host must not be empty');
  const port = integer('--port', values.port!, 0, 65535); // 0: any free port (the address is printed)
  const precision = oneOf('--precision', values.precision!, PRECISIONS);
  const apiKey = values['api-key'] ?? process.env.GLM_ASR_API_KEY;
  // An empty key would otherwise mean "no authentication" to a user who meant to set one.
  if (apiKey === '') {
    throw new UsageError(`${values['api-key'] === undefined ? 'GLM_ASR_API_KEY' : '--api-key'} is empty`);
  }
  const { startServer } = await import('../server');
  let asr: GlmAsr;
  try {
    asr = await GlmAsr.load(values.model, { precision });
  } catch (e) {
    console.error(`glm-asr: cannot load model "${values.model}": ${(e as Error).message}`);
    return EXIT.model;
  }
  if (asr.notice) console.error(`glm-asr: ${asr.notice}`);
  await startServer({
    transcriber: asr, host: values.host, port, apiKey,
    // The web UI's in-browser mode downloads the weights from /models/<id>/; --no-model-files keeps them private.
    modelDir: values['no-model-files'] ? false : undefined,
  });
  return new Promise<number>(() => {}); // runs until a signal closes it (startServer exits the process)
}

/**
 * parseArgs with its errors as usage errors. A negative number after an option is taken as the option's value,
 * so that `--beams -1` is answered with what is wrong with -1 rather than parseArgs's "ambiguous" error.
 */
function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
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

function integer(flag: string, value: string, min: number, max: number): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `a positive integer` : `an integer from ${min} to ${max}`;
    throw new UsageError(`${flag} must be ${range}, got "${value}"`);
  }
  return n;
}

function oneOf<const T extends readonly string[]>(flag: string, value: string, allowed: T): T[number] {
  if (!allowed.includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value;
}

/**
 * An input file's bytes, read with a bound: a regular file up to `maxBytes` (its size is checked before reading),
 * a pipe or FIFO (e.g. bash's `<(...)`) until its end or `maxBytes`. Directories and devices are refused, so
 * that `/dev/zero` or `/dev/stdin` on a terminal is an error, not an endless read.
 */
async function readInput(file: string, maxBytes: number): Promise<Uint8Array> {
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

/** Files as given, with globs (*, ?, [..], **) expanded here so quoted patterns work on every shell. */
async function expandInputs(patterns: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of patterns) {
    if (!/[*?[]/.test(p)) {
      out.push(p);
      continue;
    }
    const matches = await glob(p);
    if (!matches.length) throw new UsageError(`no files match "${p}"`);
    out.push(...matches.sort());
  }
  return out;
}

async function glob(pattern: string): Promise<string[]> {
  const abs = resolve(pattern);
  const parts = abs.split('/').filter(Boolean);
  const firstMagic = parts.findIndex((s) => /[*?[]/.test(s));
  const root = '/' + parts.slice(0, firstMagic).join('/');
  const body = parts.slice(firstMagic).map((seg) => (seg === '**' ? '(?:.*/)?' : segmentRegex(seg) + '/')).join('');
  const rx = new RegExp('^' + body.replace(/\/$/, '') + '$');
  const found: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const ent of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) await walk(join(dir, ent.name), r);
      else if (rx.test(r)) found.push(join(root, r));
    }
  };
  if ((await stat(root).catch(() => null))?.isDirectory()) await walk(root, '');
  const cwd = process.cwd() + '/';
  return found.map((f) => (f.startsWith(cwd) ? f.slice(cwd.length) : f));
}

function segmentRegex(seg: string): string {
  return seg.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
}

/** One progress line on stderr when it is a TTY; nothing otherwise. */
class Progress {
  private shown = false;
  constructor(private readonly enabled: boolean) {}
  bar(label: string, done: number, total: number, unit: 'bytes' | 'windows' | 'tokens'): void {
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

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    if (e instanceof UsageError) {
      console.error(`glm-asr: ${e.message} (glm-asr --help shows the usage)`);
      process.exitCode = EXIT.usage;
    } else {
      console.error(`glm-asr: ${(e as Error).stack ?? e}`);
      process.exitCode = EXIT.fileFailed;
    }
  },
);
