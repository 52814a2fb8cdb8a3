#!/usr/bin/env node
/**
 * The `glm-asr` command.
 *
 *   glm-asr transcribe FILE... --model DIR|ORG/NAME [--segmenter vad|fixed] [--beams N] [--max-new-tokens N]
 *                     [--precision auto|f32|f16|int8|int4] [--format txt|json|jsonl|srt|vtt] [--max-batch N]
 *                     [--quiet]
 *   glm-asr transcribe - --model DIR|ORG/NAME [--raw s16le|f32le --rate HZ] [--live] ...   (audio from stdin)
 *   glm-asr listen --model DIR|ORG/NAME [...]                      (transcribe - --live)
 *   glm-asr eval MANIFEST --model DIR|ORG/NAME [transcribe's model options] [--format txt|json]
 *   glm-asr download ORG/NAME[@REVISION]
 *   glm-asr serve --model DIR|ORG/NAME [--host 127.0.0.1] [--port 7860] [--api-key K] [--no-model-files]
 *                 [--max-batch N] [--queue redis://HOST:PORT [--queue-dir DIR]] [--realtime-sessions N] ...
 *   glm-asr worker --queue redis://HOST:PORT --model DIR|ORG/NAME [--max-batch N] [--queue-dir DIR]
 *   glm-asr doctor [--json]
 *   glm-asr setup [--deb FILE]
 *
 * Exit codes: 0 success; 1 a file failed to transcribe (the others are still done); 2 bad usage;
 * 3 the model could not be loaded or downloaded.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { PRECISIONS } from '../models/glm-asr/options';
import { GlmAsr } from '../models/glm-asr/node';
import { type Segment } from '../models/glm-asr/transcriber';
import { downloadModel } from '../hub';
import {
  batchOf, EXIT, fileOptions, inInputOrder, integer, loadModel, maxBatchArg, oneOf, optionFlag, parse, Progress,
  readInput, transcriptionArgs, UsageError,
} from './common';
import { doctorCommand, setupCommand } from './doctor';
import { LIVE_OPTIONS, LIVE_USAGE, stdinArgs, transcribeStdin } from './live';
import { EVAL_USAGE, evalCommand } from './eval';
import { WORKER_USAGE, workerCommand } from './worker';
import { srtCue, verboseSegment, VTT_HEADER, vttCue } from '../formats';

const USAGE = `Usage:
  glm-asr transcribe FILE... --model DIR|ORG/NAME [options]
      --segmenter S          vad: speech chunks found by the VAD, one segment each (default);
                             fixed: 30 s windows, up to 21 per prompt
      --max-chunk-seconds S  vad: longest chunk, 2 s to the model's window (default: the model's choice, 30 s
                             for GLM-ASR-Nano, 3 s for the demo model)
      --audio-blocks B       fixed windows in one prompt: single (default) | per-window audio blocks
      --beams N              beam search with N beams, 1..64 (default 1: greedy)
      --max-new-tokens N     most tokens generated per segment (default 500)
      --max-input-mb N       largest input read, in MiB (default 1024); FILE may be a pipe (e.g. <(sox ...))
      --max-batch N          files transcribed at once, batched by the engine (default: the engine's, from the
                             GPU's memory); the output stays in the order of the files
      --precision P          weight storage: auto | f32 | f16 | int8 | int4 (default auto: an INT8 or 4-bit
                             checkpoint made by "npm run quantize" loads as such; int4 on a float checkpoint
                             quantises it at load; int8 needs an INT8 checkpoint)
      --format F             txt | json | jsonl | srt | vtt (default txt); txt, jsonl, srt and vtt print each
                             segment as soon as it is done (jsonl: one object per segment); json prints one
                             object per file per line
      --quiet                no progress output
${LIVE_USAGE}
${EVAL_USAGE}
  glm-asr download ORG/NAME[@REVISION]     fetch a model into the Hugging Face cache
  glm-asr serve --model DIR|ORG/NAME [--host 127.0.0.1] [--port 7860] [--api-key K] [--no-model-files]
                [--max-batch N]
      serves POST /v1/audio/transcriptions (OpenAI-compatible), the web UI at /, and the model's files at
      /models/<id>/ for the UI's in-browser mode (--no-model-files turns that off); the key is also read from
      GLM_ASR_API_KEY; --max-batch: transcriptions run at once, batched by the engine (default: the engine's).
      With --queue redis://HOST:PORT it loads no model: jobs go to \`glm-asr worker\`s through Redis (--model is
      then the name shown; --queue-dir: a folder shared with the workers for large uploads)
      Realtime transcription at /v1/realtime (OpenAI Realtime WebSocket; not with --queue):
      --realtime-sessions N       sessions at once (default 4; 0 turns the endpoint off)
      --realtime-max-seconds S    longest session, wall clock (default 3600)
      --realtime-idle-seconds S   a session that sends nothing this long is closed (default 60)
      --realtime-buffer-seconds S audio a session may have waiting in the engine before the server stops reading
                                  its socket (default 20)
      --realtime-max-append-kib N largest audio in one input_audio_buffer.append (default 1024)
${WORKER_USAGE}
  glm-asr doctor [--json]                  the WebGPU adapter, its features and limits, and what is missing
  glm-asr setup [--deb FILE]               Linux without a GPU driver: install a CPU driver (Mesa lavapipe) into
                                           the user cache folder (--deb: from this mesa-vulkan-drivers package)
FILE may be a glob ("clips/*.wav"). Models are a local folder, a Hugging Face repo id or "demo".`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  switch (command) {
    case 'transcribe':
      return transcribeCommand(rest);
    case 'listen':
      return transcribeCommand(rest, true);
    case 'eval':
      return evalCommand(rest);
    case 'download':
      return downloadCommand(rest);
    case 'serve':
      return serveCommand(rest);
    case 'worker':
      return workerCommand(rest);
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

/** `transcribe` (`listen`: `transcribe - --live`). */
async function transcribeCommand(args: string[], listen = false): Promise<number> {
  const parsed = transcriptionArgs(args, ['txt', 'json', 'jsonl', 'srt', 'vtt'] as const,
    { ...LIVE_OPTIONS, 'max-batch': { type: 'string' } });
  const { positionals, model, quiet, format, precision, maxInputBytes, beams, decode, extra } = parsed;
  const maxBatch = maxBatchArg(extra['max-batch']);
  const tty = { stdin: process.stdin.isTTY === true, stdout: process.stdout.isTTY === true };
  const stdin = stdinArgs(parsed, listen, tty);
  if (!positionals.length && !stdin) throw new UsageError('no audio files given');
  const files = stdin ? [] : await expandInputs(positionals);
  const progress = new Progress(!quiet && process.stderr.isTTY === true);

  const asr = await loadModel(model, precision, beams, progress, quiet, maxBatch);
  if (!asr) return EXIT.model;
  if (stdin) {
    try {
      return await transcribeStdin(asr, stdin, new SegmentPrinter('-', format, false));
    } finally {
      asr.dispose();
    }
  }

  let failed = 0;
  let usage: string | null = null;
  const stop = new AbortController();
  const show = (text: string) => () => {
    progress.done();
    process.stdout.write(text);
  };
  try {
    // Up to the engine's batch of files at once (it batches them); each file's output in the order given.
    await inInputOrder(files, batchOf(asr), stop.signal, async (file, say) => {
      try {
        const bytes = await readInput(file, maxInputBytes);
        const out = new SegmentPrinter(file, format, files.length > 1);
        const options = { ...fileOptions(decode, file, basename(file), progress), signal: stop.signal };
        for await (const e of asr.transcribeStream(bytes, options)) {
          if (e.type === 'segment-end') say(show(out.segment(e.segment)));
          else if (e.type === 'done') say(show(out.end(e.durationSec, e.timings)));
        }
      } catch (e) {
        if (stop.signal.aborted) return; // another file found bad usage
        // An option the loaded model cannot take (e.g. --max-new-tokens beyond its decoder) is bad usage, the same
        // for every file: stop them all.
        usage = optionFlag(e);
        if (usage) return stop.abort();
        failed++;
        say(() => {
          progress.done();
          console.error(`glm-asr: ${file}: ${(e as Error).message}`);
        });
      }
    });
  } finally {
    asr.dispose();
  }
  if (usage) {
    progress.done();
    console.error(`glm-asr: ${usage}`);
    return EXIT.usage;
  }
  return failed ? EXIT.fileFailed : EXIT.ok;
}

/** Output of one file, a segment at a time as each is finished (json: one object at the end). */
class SegmentPrinter {
  private readonly segments: Segment[] = [];

  constructor(private readonly file: string, private readonly format: 'txt' | 'json' | 'jsonl' | 'srt' | 'vtt',
    private readonly many: boolean) {}

  segment(seg: Segment): string {
    this.segments.push(seg);
    const { file, format, many } = this;
    const first = this.segments.length === 1;
    switch (format) {
      case 'json':
        return '';
      case 'jsonl':
        return JSON.stringify({ file, ...verboseSegment(seg, this.segments.length - 1) }) + '\n';
      case 'srt':
        return (first && many ? `# ${file}\n` : '') + srtCue(seg, this.cues());
      case 'vtt':
        return (first ? (many ? `${VTT_HEADER}NOTE ${file}\n\n` : VTT_HEADER) : '') + vttCue(seg);
      default:
        return seg.text ? (many ? `${file}: ${seg.text}\n` : `${seg.text}\n`) : '';
    }
  }

  /** What ends the file's output (the json object; a header for a file without segments). */
  end(durationSec: number, timings: Record<string, number>): string {
    const { file, segments } = this;
    switch (this.format) {
      case 'json': {
        const text = segments.map((s) => s.text).filter(Boolean).join(' ');
        const tokens = segments.flatMap((s) => s.tokens ?? []);
        return JSON.stringify({ file, text, tokens, segments, durationSec, timings }) + '\n';
      }
      case 'vtt':
        return segments.length ? '' : VTT_HEADER + (this.many ? `NOTE ${file}\n\n` : '');
      case 'srt':
        return '\n';
      default:
        return '';
    }
  }

  /** Number of the SubRip cue just added (segments without text have no cue). */
  private cues(): number {
    return this.segments.filter((s) => s.text.trim()).length;
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
      'max-batch': { type: 'string' },
      queue: { type: 'string' },
      'queue-dir': { type: 'string' },
      'realtime-sessions': { type: 'string' },
      'realtime-max-seconds': { type: 'string' },
      'realtime-idle-seconds': { type: 'string' },
      'realtime-buffer-seconds': { type: 'string' },
      'realtime-max-append-kib': { type: 'string' },
    },
  });
  if (!values.model) throw new UsageError('--model is required');
  if (!values.host) throw new UsageError('--host must not be empty');
  const realtimeFlag = (flag: string, v: string | undefined, min: number, max: number) =>
    v === undefined ? undefined : integer(`--${flag}`, v, min, max);
  const sessions = realtimeFlag('realtime-sessions', values['realtime-sessions'], 0, 1000);
  const appendKiB = realtimeFlag('realtime-max-append-kib', values['realtime-max-append-kib'], 1, 64 * 1024);
  const realtime = sessions === 0 ? false as const : {
    maxSessions: sessions,
    maxSessionSeconds: realtimeFlag('realtime-max-seconds', values['realtime-max-seconds'], 1, 7 * 24 * 3600),
    idleTimeoutSeconds: realtimeFlag('realtime-idle-seconds', values['realtime-idle-seconds'], 1, 24 * 3600),
    maxBufferedSeconds: realtimeFlag('realtime-buffer-seconds', values['realtime-buffer-seconds'], 1, 3000),
    maxAppendBytes: appendKiB === undefined ? undefined : appendKiB * 1024,
  };
  const port = integer('--port', values.port!, 0, 65535); // 0: any free port (the address is printed)
  const precision = oneOf('--precision', values.precision!, PRECISIONS);
  const maxBatch = maxBatchArg(values['max-batch']);
  const apiKey = values['api-key'] ?? process.env.GLM_ASR_API_KEY;
  // An empty key would otherwise mean "no authentication" to a user who meant to set one.
  if (apiKey === '') {
    throw new UsageError(`${values['api-key'] === undefined ? 'GLM_ASR_API_KEY' : '--api-key'} is empty`);
  }
  // A front end runs no model: its workers batch (glm-asr worker --max-batch).
  if (values.queue && maxBatch !== undefined) throw new UsageError('--max-batch goes with glm-asr worker, not --queue');
  // Nor live sessions: the queue front end answers /v1/realtime with 501 (docs/server.md).
  const realtimeFlagGiven = Object.entries(values).find(([k, v]) => k.startsWith('realtime-') && v !== undefined);
  if (values.queue && realtimeFlagGiven) {
    throw new UsageError(`--${realtimeFlagGiven[0]} needs a model on this server, not --queue`);
  }
  const { startServer } = await import('../server');
  if (values.queue) return serveQueue(values.queue, values['queue-dir'], values.model, startServer, {
    host: values.host, port, apiKey,
  });
  if (values['queue-dir']) throw new UsageError('--queue-dir goes with --queue');
  let asr: GlmAsr;
  try {
    asr = await GlmAsr.load(values.model, { precision, maxBatch });
  } catch (e) {
    console.error(`glm-asr: cannot load model "${values.model}": ${(e as Error).message}`);
    return EXIT.model;
  }
  if (asr.notice) console.error(`glm-asr: ${asr.notice}`);
  await startServer({
    transcriber: asr, host: values.host, port, apiKey, realtime,
    // The web UI's in-browser mode downloads the weights from /models/<id>/; --no-model-files keeps them private.
    modelDir: values['no-model-files'] ? false : undefined,
  });
  return new Promise<number>(() => {}); // runs until a signal closes it (startServer exits the process)
}

/** `serve --queue`: a front end for `glm-asr worker`s; no model is loaded here. */
async function serveQueue(
  url: string, queueDir: string | undefined, model: string, startServer: typeof import('../server').startServer,
  listen: { host: string; port: number; apiKey: string | undefined },
): Promise<number> {
  const { checkQueueUrl, DEFAULT_QUEUE_MAX_BEAMS } = await import('../queue/protocol');
  const { QueueFrontEnd, QueuedModel } = await import('../queue/frontend');
  try {
    checkQueueUrl(url);
  } catch (e) {
    throw new UsageError(`--queue: ${(e as Error).message}`);
  }
  await startServer({
    ...listen,
    transcriber: new QueuedModel(model, DEFAULT_QUEUE_MAX_BEAMS),
    remoteQueue: new QueueFrontEnd({ url, queueDir }),
    modelDir: false,
  });
  return new Promise<number>(() => {}); // runs until a signal closes it
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
