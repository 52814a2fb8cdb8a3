#!/usr/bin/env node
/**
 * The `glm-asr` command.
 *
 *   glm-asr transcribe FILE... --model DIR|ORG/NAME [--beams N] [--max-new-tokens N]
 *                     [--precision auto|f32|f16|int8] [--format txt|json|srt|vtt] [--quiet]
 *   glm-asr download ORG/NAME[@REVISION]
 *   glm-asr serve --model DIR|ORG/NAME [--host 127.0.0.1] [--port 7860] [--api-key K] [--no-model-files]
 *
 * Exit codes: 0 success; 1 a file failed to transcribe (the others are still done); 2 bad usage;
 * 3 the model could not be loaded or downloaded.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GlmAsr, type Transcription } from '../models/glm-asr/transcriber';
import { downloadModel, resolveModelSource } from '../hub';
import { toSrt, toVtt } from '../formats';

const USAGE = `Usage:
  glm-asr transcribe FILE... --model DIR|ORG/NAME [options]
      --beams N              beam search with N beams (default 1: greedy)
      --max-new-tokens N     most tokens generated per 30 s..630 s segment (default 500)
      --precision P          weight storage: auto | f32 | f16 | int8 (default auto; int8 needs a checkpoint
                             made by "npm run quantize", which auto picks)
      --format F             txt | json | srt | vtt (default txt); json prints one object per file per line
      --quiet                no progress output
  glm-asr download ORG/NAME[@REVISION]     fetch a model into the Hugging Face cache
  glm-asr serve --model DIR|ORG/NAME [--host 127.0.0.1] [--port 7860] [--api-key K] [--no-model-files]
      serves POST /v1/audio/transcriptions (OpenAI-compatible), the web UI at /, and the model's files at
      /models/<id>/ for the UI's in-browser mode (--no-model-files turns that off); the key is also read from
      GLM_ASR_API_KEY
FILE may be a glob ("clips/*.wav"). Models are a local folder or a Hugging Face repo id.`;

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
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function transcribeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      beams: { type: 'string', default: '1' },
      'max-new-tokens': { type: 'string', default: '500' },
      precision: { type: 'string', default: 'auto' },
      format: { type: 'string', default: 'txt' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.model) throw new UsageError('--model is required');
  if (!positionals.length) throw new UsageError('no audio files given');
  const beams = positiveInt('--beams', values.beams!);
  const maxNewTokens = positiveInt('--max-new-tokens', values['max-new-tokens']!);
  const precision = values.precision!;
  if (precision !== 'auto' && precision !== 'f32' && precision !== 'f16' && precision !== 'int8') throw new UsageError(`--precision must be auto, f32, f16 or int8, got "${precision}"`);
  const format = values.format!;
  if (!['txt', 'json', 'srt', 'vtt'].includes(format)) throw new UsageError(`--format must be txt, json, srt or vtt, got "${format}"`);
  const files = await expandInputs(positionals);
  const progress = new Progress(!values.quiet && process.stderr.isTTY === true);

  let asr: GlmAsr;
  try {
    const dir = await resolveModelSource(values.model, { onProgress: (p) => progress.bar(`download ${p.file}`, p.bytes, p.totalBytes, 'bytes') });
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
        const bytes = new Uint8Array(await readFile(file));
        const t = await asr.transcribe(bytes, {
          name: file,
          beams,
          maxNewTokens,
          onProgress: (p) => progress.bar(`${basename(file)} ${p.stage}`, p.done, p.total, p.stage === 'generate' ? 'tokens' : 'windows'),
        });
        progress.done();
        process.stdout.write(render(file, t, format, files.length > 1));
      } catch (e) {
        progress.done();
        failed++;
        console.error(`glm-asr: ${file}: ${(e as Error).message}`);
      }
    }
  } finally {
    asr.dispose();
  }
  return failed ? EXIT.fileFailed : EXIT.ok;
}

function render(file: string, t: Transcription, format: string, many: boolean): string {
  switch (format) {
    case 'json':
      return JSON.stringify({ file, text: t.text, tokens: t.tokens, segments: t.segments, durationSec: t.durationSec, timings: t.timings }) + '\n';
    case 'srt':
      return (many ? `# ${file}\n` : '') + toSrt(t.segments) + '\n';
    case 'vtt':
      return (many ? `NOTE ${file}\n\n` : '') + toVtt(t.segments);
    default:
      return many ? `${file}: ${t.text}\n` : `${t.text}\n`;
  }
}

async function downloadCommand(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError('download takes one repository id, e.g. zai-org/GLM-ASR-Nano-2512');
  const [repo, revision] = positionals[0].split('@');
  const progress = new Progress(process.stderr.isTTY === true);
  try {
    const dir = await downloadModel(repo, { revision, onProgress: (p) => progress.bar(p.file, p.bytes, p.totalBytes, 'bytes') });
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
  const { values } = parseArgs({
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
  const { startServer } = await import('../server');
  let asr: GlmAsr;
  try {
    asr = await GlmAsr.load(values.model, { precision: values.precision as 'auto' });
  } catch (e) {
    console.error(`glm-asr: cannot load model "${values.model}": ${(e as Error).message}`);
    return EXIT.model;
  }
  if (asr.notice) console.error(`glm-asr: ${asr.notice}`);
  await startServer({
    transcriber: asr, host: values.host!, port: positiveInt('--port', values.port!), apiKey: values['api-key'] ?? process.env.GLM_ASR_API_KEY,
    // The web UI's in-browser mode downloads the weights from /models/<id>/; --no-model-files keeps them private.
    modelDir: values['no-model-files'] ? false : undefined,
  });
  return new Promise<number>(() => {}); // runs until a signal closes it (startServer exits the process)
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
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
  const rx = new RegExp('^' + parts.slice(firstMagic).map((seg) => seg === '**' ? '(?:.*/)?' : segmentRegex(seg) + '/').join('').replace(/\/$/, '') + '$');
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
    const amount = unit === 'bytes' ? `${(done / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MiB` : `${done}/${total} ${unit}`;
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
      console.error(`glm-asr: ${e.message}\n\n${USAGE}`);
      process.exitCode = EXIT.usage;
    } else {
      console.error(`glm-asr: ${(e as Error).stack ?? e}`);
      process.exitCode = EXIT.fileFailed;
    }
  },
);
