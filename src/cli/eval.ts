/**
 * `glm-asr eval MANIFEST --model M`: transcribes every file of a manifest (src/eval/manifest.ts) and scores it
 * against its reference (src/eval/wer.ts): one row per file as it is done, then the totals (errors / reference
 * words, with the substitution / deletion / insertion counts), or one JSON document with `--format json`.
 * A file that cannot be read or decoded is reported and left out of the totals (exit 1); the others are done.
 */
import { relative } from 'node:path';
import { ManifestError, readManifest, type ManifestEntry } from '../eval/manifest';
import { addCounts, errorRate, errors, score, type ErrorCounts, type Language } from '../eval/wer';
import {
  batchOf, EXIT, fileOptions, inInputOrder, loadModel, maxBatchArg, optionFlag, Progress, readInput,
  transcriptionArgs, UsageError,
} from './common';

export const EVAL_USAGE = `  glm-asr eval MANIFEST --model DIR|ORG/NAME [options]
      word and character error rates against reference texts; MANIFEST is a .json or .csv file or a folder of
      audio files with a .txt beside each (docs/eval.md); --segmenter, --max-chunk-seconds, --audio-blocks,
      --beams, --max-new-tokens, --max-input-mb, --precision, --max-batch and --quiet as for transcribe
      --format F             txt | json (default txt): a row per file and the totals, or one JSON document`;

interface Counts extends ErrorCounts {
  errors: number;
}

interface FileResult {
  audio: string;
  language: Language;
  reference: string;
  hypothesis: string;
  words: Counts;
  wer: number | null;
  chars: Counts;
  cer: number | null;
}

interface Total {
  files: number;
  words: Counts;
  wer: number | null;
  chars: Counts;
  cer: number | null;
}

const ZERO: ErrorCounts = { ref: 0, hyp: 0, sub: 0, del: 0, ins: 0 };
const withErrors = (c: ErrorCounts): Counts => ({ ...c, errors: errors(c) });

export async function evalCommand(args: string[]): Promise<number> {
  const {
    positionals, model, quiet, format, precision, maxInputBytes, beams, decode, extra,
  } = transcriptionArgs(args, ['txt', 'json'] as const, { 'max-batch': { type: 'string' } });
  const maxBatch = maxBatchArg(extra['max-batch']);
  if (positionals.length !== 1) throw new UsageError('eval takes one manifest (a .json or .csv file, or a folder)');
  let manifest;
  try {
    manifest = await readManifest(positionals[0]);
  } catch (e) {
    if (e instanceof ManifestError) throw new UsageError(e.message);
    throw e;
  }
  const { entries, skipped } = manifest;
  if (!entries.length) throw new UsageError(`${positionals[0]}: no entry has a reference text`);
  const progress = new Progress(!quiet && process.stderr.isTTY === true);
  const asr = await loadModel(model, precision, beams, progress, quiet, maxBatch);
  if (!asr) return EXIT.model;

  const evaluate = async (entry: ManifestEntry, label: string, signal: AbortSignal): Promise<FileResult> => {
    const bytes = await readInput(entry.audio, maxInputBytes);
    const t = await asr.transcribe(bytes, { ...fileOptions(decode, entry.audio, label, progress), signal });
    progress.done();
    const s = score(entry.text, t.text);
    return {
      audio: entry.audio, language: entry.language, reference: entry.text, hypothesis: t.text,
      words: withErrors(s.words), wer: errorRate(s.words), chars: withErrors(s.chars), cer: errorRate(s.chars),
    };
  };

  const results: FileResult[] = [];
  const failures: { audio: string; error: string }[] = [];
  if (format === 'txt') {
    for (const s of skipped) console.log(`skipped ${show(s.audio)}: ${s.reason}`);
    console.log(`${'WER'.padStart(7)} ${'CER'.padStart(7)} ${'words'.padStart(6)} ${'sub'.padStart(5)} ` +
      `${'del'.padStart(5)} ${'ins'.padStart(5)} lang file`);
  }
  let usage: string | null = null;
  const stop = new AbortController();
  const numbered = entries.map((entry, i) => ({ entry, i }));
  try {
    // Up to the engine's batch of files at once (it batches them); rows and totals in manifest order.
    await inInputOrder(numbered, batchOf(asr), stop.signal, async ({ entry, i }, say) => {
      try {
        const r = await evaluate(entry, `[${i + 1}/${entries.length}] ${show(entry.audio)}`, stop.signal);
        say(() => {
          results.push(r);
          if (format === 'txt') console.log(row(r.wer, r.cer, r.words, `${r.language.padEnd(4)} ${show(r.audio)}`));
        });
      } catch (e) {
        if (stop.signal.aborted) return; // another file found bad usage
        progress.done();
        // An option the loaded model cannot take is bad usage, the same for every file: stop them all.
        usage = optionFlag(e);
        if (usage) return stop.abort();
        say(() => {
          failures.push({ audio: entry.audio, error: (e as Error).message });
          console.error(`glm-asr: ${entry.audio}: ${(e as Error).message}`);
        });
      }
    });
  } finally {
    asr.dispose();
  }
  if (usage) {
    console.error(`glm-asr: ${usage}`);
    return EXIT.usage;
  }

  const total = totalOf(results);
  const languages = [...new Set(results.map((r) => r.language))];
  const byLanguage = Object.fromEntries(languages.map((l) => [l, totalOf(results.filter((r) => r.language === l))]));
  if (format === 'json') {
    process.stdout.write(JSON.stringify({ files: results, failed: failures, skipped, total, byLanguage }) + '\n');
  } else {
    const line = (t: Total, what: string) => console.log(row(t.wer, t.cer, t.words, `total ${what}(${t.files} files)`));
    if (languages.length > 1) for (const l of languages) line(byLanguage[l], `${l} `);
    line(total, '');
    if (failures.length) console.log(`${failures.length} file(s) failed and are not counted`);
  }
  return failures.length ? EXIT.fileFailed : EXIT.ok;
}

function totalOf(results: FileResult[]): Total {
  const words = results.reduce((a, r) => addCounts(a, r.words), ZERO);
  const chars = results.reduce((a, r) => addCounts(a, r.chars), ZERO);
  return {
    files: results.length,
    words: withErrors(words),
    wer: errorRate(words),
    chars: withErrors(chars),
    cer: errorRate(chars),
  };
}

function row(wer: number | null, cer: number | null, w: ErrorCounts, rest: string): string {
  const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`).padStart(7);
  return `${pct(wer)} ${pct(cer)} ${String(w.ref).padStart(6)} ${String(w.sub).padStart(5)} ` +
    `${String(w.del).padStart(5)} ${String(w.ins).padStart(5)} ${rest}`;
}

/** A path as the user would type it: relative to the working folder when it lies under it. */
function show(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}
