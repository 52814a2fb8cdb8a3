/**
 * `glm-asr transcribe -` and `glm-asr listen`: audio read from standard input as it arrives, a WAV stream
 * (`sox -d -t wav -`) or raw PCM (`--raw s16le --rate 16000`, from `arecord -t raw` or `ffmpeg -f s16le -`),
 * transcribed by a live session (`asr.live`, src/models/glm-asr/live.ts): each utterance is printed in the
 * `--format` asked for as soon as it is final. With `--live` (`listen` is `transcribe - --live`) the text of the
 * utterance in progress is shown in place on a terminal, or as `"type":"partial"` lines with `--format jsonl`.
 *
 * Memory stays bounded however long stdin runs: the decoder carries less than one frame between reads, the session
 * holds the utterance in progress, and a source faster than real time (`ffmpeg … -f s16le -` on a file) is read
 * only as fast as the session keeps up (at most `MAX_BACKLOG_SECONDS` waiting). --max-input-mb does not apply.
 */
import { AudioDecodeError } from '../audio/errors';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../audio/resample';
import { PcmStreamDecoder, RAW_ENCODINGS, type RawPcmFormat } from '../audio/wav-stream';
import type { LiveOptions, LiveSession } from '../models/glm-asr/live';
import type { GlmAsr } from '../models/glm-asr/node';
import type { Segment } from '../models/glm-asr/transcriber';
import { EXIT, integer, oneOf, optionFlag, type transcriptionArgs, UsageError } from './common';

/** Audio seconds read ahead of the session before stdin waits for it. */
const MAX_BACKLOG_SECONDS = 10;

/** The options of `transcribe -` and `listen` beyond transcribe's own (see USAGE in main.ts). */
export const LIVE_OPTIONS = {
  raw: { type: 'string' },
  rate: { type: 'string' },
  channels: { type: 'string' },
  live: { type: 'boolean' },
  'vad-threshold': { type: 'string' },
  'silence-ms': { type: 'string' },
  'prefix-padding-ms': { type: 'string' },
  'partial-interval-ms': { type: 'string' },
} as const;

export const LIVE_USAGE = `  glm-asr transcribe - --model DIR|ORG/NAME [transcribe's options] [live options]
  glm-asr listen --model DIR|ORG/NAME [...]    the same as transcribe - --live
      reads audio from standard input as it arrives, a WAV stream (sox -d -t wav -) or raw PCM, and prints each
      utterance as soon as it is final (txt, jsonl, srt and vtt as they come; json at the end of the stream);
      Ctrl-C or the end of the input transcribes what is pending, then exits 0
      --raw ENC              headerless PCM: s16le | f32le (interleaved little-endian), with --rate
      --rate HZ              the raw stream's sample rate
      --channels N           the raw stream's channels, averaged to mono (default 1)
      --live                 also the text of the utterance in progress: in place on a terminal, as
                             {"type":"partial"} lines with --format jsonl (otherwise finals only)
      --vad-threshold P      speech probability that starts an utterance, 0.05..1 (default 0.5)
      --silence-ms MS        quiet time that ends an utterance (default 500)
      --prefix-padding-ms MS audio kept before the detected start of speech (default 300)
      --partial-interval-ms MS  partial text re-decoded at most this often (default 500; 0: none)
      --max-chunk-seconds S  an utterance this long is transcribed as it stands (default: the model's);
                             with --segmenter fixed, utterances are cut only at this length
      e.g. arecord -f S16_LE -r 16000 -c 1 -t raw | glm-asr listen --model DIR --raw s16le --rate 16000`;

type Parsed = ReturnType<typeof transcriptionArgs<readonly string[], typeof LIVE_OPTIONS>>;

/** What `transcribe -` needs, checked before the model loads. */
export interface StdinArgs {
  raw?: RawPcmFormat;
  /** Where partial text goes: in place on the terminal, jsonl lines, or nowhere (then none is decoded). */
  display: 'terminal' | 'jsonl' | 'none';
  session: Omit<LiveOptions, 'sampleRate'>;
}

/**
 * The live options of `transcribe` checked; null when it reads files, where none of them may be given.
 * @throws UsageError
 */
export function stdinArgs(parsed: Parsed, listen: boolean, tty: { stdin: boolean; stdout: boolean }): StdinArgs | null {
  const { positionals, extra, decode, format } = parsed;
  const given = (Object.keys(LIVE_OPTIONS) as (keyof typeof LIVE_OPTIONS)[]).filter((k) => extra[k] !== undefined);
  if (!listen && !positionals.includes('-')) {
    if (given.length) throw new UsageError(`--${given[0]} goes with - (audio from standard input)`);
    return null;
  }
  if (positionals.some((p) => p !== '-') || positionals.length > 1) {
    throw new UsageError(`standard input (-) is read alone: no files with it, got ${positionals.join(' ')}`);
  }
  if (tty.stdin) {
    throw new UsageError('standard input is a terminal: pipe audio into it, e.g. sox -d -t wav - | glm-asr ...');
  }
  let raw: RawPcmFormat | undefined;
  if (extra.raw !== undefined) {
    if (extra.rate === undefined) throw new UsageError('--raw needs --rate HZ, the sample rate of the stream');
    raw = {
      encoding: oneOf('--raw', extra.raw, RAW_ENCODINGS),
      sampleRate: integer('--rate', extra.rate, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE),
      channels: integer('--channels', extra.channels ?? '1', 1, 64),
    };
  } else if (extra.rate !== undefined || extra.channels !== undefined) {
    const flag = extra.rate !== undefined ? '--rate' : '--channels';
    throw new UsageError(`${flag} goes with --raw (a WAV stream's header says its format)`);
  }
  const live = listen || extra.live === true;
  const display = !live ? 'none' : format === 'jsonl' ? 'jsonl' : tty.stdout ? 'terminal' : 'none';
  const vad = {
    threshold: extra['vad-threshold'] === undefined ? undefined : fraction('--vad-threshold', extra['vad-threshold']),
    silenceDurationMs: optionalMs('--silence-ms', extra['silence-ms'], 10_000),
    prefixPaddingMs: optionalMs('--prefix-padding-ms', extra['prefix-padding-ms'], 10_000),
  };
  if (decode.segmenter === 'fixed') {
    const vadFlag = (['vad-threshold', 'silence-ms', 'prefix-padding-ms'] as const).find((k) => extra[k] !== undefined);
    if (vadFlag) throw new UsageError(`--${vadFlag} goes with --segmenter vad`);
  }
  const interval = optionalMs('--partial-interval-ms', extra['partial-interval-ms'], 60_000);
  if (interval !== undefined && !live) throw new UsageError('--partial-interval-ms goes with --live');
  return {
    raw,
    display,
    session: {
      turnDetection: decode.segmenter === 'fixed' ? null : vad,
      // Partials nobody sees are not decoded.
      partialIntervalMs: display === 'none' ? 0 : interval,
      maxUtteranceSeconds: decode.maxChunkSeconds,
      beams: decode.beams,
      maxNewTokens: decode.maxNewTokens,
      name: 'stdin',
    },
  };
}

// The session's bounds (src/models/glm-asr/live.ts), checked here too so that a mistake costs no model load.
function fraction(flag: string, value: string): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!(n >= 0.05 && n <= 1)) throw new UsageError(`${flag} must be a number from 0.05 to 1, got "${value}"`);
  return n;
}

function optionalMs(flag: string, value: string | undefined, max: number): number | undefined {
  return value === undefined ? undefined : integer(flag, value, 0, max);
}

/** Output per utterance in the chosen format (main.ts's SegmentPrinter for the file "-"). */
export interface Printer {
  segment(seg: Segment): string;
  end(durationSec: number, timings: Record<string, number>): string;
}

/**
 * Reads stdin to its end (or Ctrl-C), transcribing as it goes; returns the exit code. Bad input: one line on
 * stderr and EXIT.fileFailed.
 */
export async function transcribeStdin(
  asr: GlmAsr, args: StdinArgs, printer: Printer,
  input: NodeJS.ReadableStream & { destroy(): void } = process.stdin, out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const screen = new Screen(out, args.display);
  const decoder = new PcmStreamDecoder('stdin', args.raw);
  let session: LiveSession | undefined;
  let printing: Promise<void> = Promise.resolve();
  let failure: unknown; // the session's error, which ends the reading
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) {
      screen.write(''); // a second Ctrl-C: do not wait for the pending final
      process.exit(130);
    }
    interrupted = true;
    input.destroy(); // ends the read loop; what was pushed is still transcribed
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    try {
      for await (const piece of input) {
        if (failure !== undefined) break;
        const samples = decoder.push(piece as Uint8Array);
        if (!session && decoder.sampleRate) {
          session = asr.live({ ...args.session, sampleRate: decoder.sampleRate });
          printing = show(session, screen, printer).catch((e: unknown) => {
            failure = e;
            input.destroy();
          });
        }
        if (samples.length) session!.push(samples);
        if (session && (session.stats?.backlogSeconds ?? 0) > MAX_BACKLOG_SECONDS) await session.drained?.();
      }
      decoder.end();
    } catch (e) {
      if (!interrupted && failure === undefined) throw e;
    }
    if (failure === undefined) await session?.close();
    await printing;
    if (failure !== undefined) throw failure;
    screen.write(printer.end(session?.pushedSeconds ?? 0, {}));
    return EXIT.ok;
  } catch (e) {
    session?.abort();
    screen.write('');
    const usage = optionFlag(e);
    if (usage) {
      console.error(`glm-asr: ${usage}`);
      return EXIT.usage;
    }
    // Before the header is read, the likely mistake is raw PCM or another container without --raw.
    const hint = e instanceof AudioDecodeError && !decoder.sampleRate
      ? ' (pipe a WAV stream, e.g. sox ... -t wav -, or raw PCM with --raw s16le|f32le --rate HZ)' : '';
    console.error(`glm-asr: ${(e as Error).message}${hint}`);
    return EXIT.fileFailed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function show(session: LiveSession, screen: Screen, printer: Printer): Promise<void> {
  for await (const e of session) {
    if (e.type === 'partial') screen.partial(e.item, e.text);
    else if (e.type === 'final') screen.write(printer.segment(e.segment));
  }
}

/** stdout with, on a terminal, one line of partial text that the next output replaces. */
class Screen {
  private partialShown = false;

  constructor(private readonly out: NodeJS.WriteStream, private readonly display: StdinArgs['display']) {}

  partial(item: number, text: string): void {
    if (this.display === 'jsonl') {
      this.out.write(JSON.stringify({ file: '-', type: 'partial', item, text }) + '\n');
    } else if (this.display === 'terminal') {
      // One terminal row, so that \r and clear-line can replace it: a long text shows its end.
      const width = Math.max(10, (this.out.columns || 80) - 1);
      const shown = text.length > width ? '…' + text.slice(text.length - width + 1) : text;
      this.out.write(`\r\x1b[2K${shown}`);
      this.partialShown = true;
    }
  }

  /** Final output (may be empty), in place of the partial line. */
  write(s: string): void {
    if (this.partialShown) this.out.write('\r\x1b[2K');
    this.partialShown = false;
    if (s) this.out.write(s);
  }
}
