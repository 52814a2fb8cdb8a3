/**
 * The audio files and reference texts of an evaluation (`glm-asr eval MANIFEST`), from
 *   * a JSON file: a list `[{ "audio": path, "text": reference, "language"?: "en" | "zh" | "yue" }]`, an object
 *     `{ path: reference }` (as models/demo/samples/expected.json), or the shared corpus's manifest
 *     (`{ "clips": [{ "file", "lang", "transcript", "transcript_kind" }] }`, where a transcript "same as X" is
 *     X's, and a clip whose transcript_kind is "none" is skipped);
 *   * a CSV file with the header `audio,text` or `audio,text,language` (RFC 4180 quoting);
 *   * a folder: each audio file in it (.wav .flac .mp3 .ogg .oga .opus) with a `.txt` of the same name beside it.
 * Audio paths are relative to the manifest's folder (or absolute). Without a language, a reference that holds a
 * CJK character is Chinese ("zh"), any other English ("en"). Anything wrong is a ManifestError naming the file,
 * the entry and the problem.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { hasCjk, LANGUAGES, type Language } from './wer';

export interface ManifestEntry {
  /** The audio file's path, resolved against the manifest's folder. */
  audio: string;
  /** The reference transcript. */
  text: string;
  language: Language;
}

export interface Manifest {
  entries: ManifestEntry[];
  /** Entries without a reference (the corpus's transcript_kind "none"): not evaluated, listed with the reason. */
  skipped: { audio: string; reason: string }[];
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
  }
}

/** A manifest file or a reference text larger than this is refused rather than read. */
export const MAX_MANIFEST_BYTES = 64 * 2 ** 20;
export const AUDIO_EXTENSIONS = ['.wav', '.flac', '.mp3', '.ogg', '.oga', '.opus'];

/** Reads the manifest at `path`: a .json or .csv file, or a folder of audio files with their .txt references. */
export async function readManifest(path: string): Promise<Manifest> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new ManifestError(path, 'no such file or folder');
  if (st.isDirectory()) return readFolder(path);
  const ext = extname(path).toLowerCase();
  if (ext !== '.json' && ext !== '.csv') {
    throw new ManifestError(path, `is not a manifest: a .json or .csv file, or a folder of audio files, expected`);
  }
  const text = await readText(path);
  return ext === '.json' ? parseJsonManifest(text, path) : parseCsvManifest(text, path);
}

async function readText(file: string): Promise<string> {
  const st = await stat(file);
  if (!st.isFile()) throw new ManifestError(file, 'is not a regular file');
  if (st.size > MAX_MANIFEST_BYTES) {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    throw new ManifestError(file, `is ${mib(st.size)}, over the ${mib(MAX_MANIFEST_BYTES)} limit`);
  }
  return (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
}

async function readFolder(dir: string): Promise<Manifest> {
  const names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  const audio = names.filter((n) => AUDIO_EXTENSIONS.includes(extname(n).toLowerCase()));
  if (!audio.length) throw new ManifestError(dir, `holds no audio files (${AUDIO_EXTENSIONS.join(' ')})`);
  const entries: ManifestEntry[] = [];
  for (const name of audio) {
    const txt = name.slice(0, -extname(name).length) + '.txt';
    if (!names.includes(txt)) throw new ManifestError(join(dir, name), `has no reference text ${txt} beside it`);
    const text = (await readText(join(dir, txt))).trim();
    entries.push({ audio: join(dir, name), text, language: hasCjk(text) ? 'zh' : 'en' });
  }
  return { entries, skipped: [] };
}

function language(value: unknown, text: string, file: string, where: string): Language {
  if (value === undefined) return hasCjk(text) ? 'zh' : 'en';
  if (!(LANGUAGES as readonly unknown[]).includes(value)) {
    const got = JSON.stringify(value);
    throw new ManifestError(file, `${where}: language must be one of ${LANGUAGES.join(', ')}, got ${got}`);
  }
  return value as Language;
}

function audioPath(value: unknown, file: string, where: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new ManifestError(file, `${where}: the audio path must be a non-empty string`);
  }
  return resolve(dirname(file), value);
}

function reference(value: unknown, file: string, where: string): string {
  if (typeof value !== 'string') throw new ManifestError(file, `${where}: the reference text must be a string`);
  return value;
}

/** A JSON manifest's text (see the module comment for its three shapes); `file` names it and anchors its paths. */
export function parseJsonManifest(text: string, file: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (Array.isArray(json)) {
    const entries = json.map((item: unknown, i): ManifestEntry => {
      const where = `entry ${i}`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw new ManifestError(file, `${where} must be an object { "audio", "text", "language"? }`);
      }
      const o = item as Record<string, unknown>;
      const extra = Object.keys(o).filter((k) => !['audio', 'text', 'language'].includes(k));
      if (extra.length) {
        throw new ManifestError(file, `${where}: unknown field ${extra.map((k) => JSON.stringify(k)).join(', ')} ` +
          `(the fields are audio, text, language)`);
      }
      const ref = reference(o.text, file, where);
      return { audio: audioPath(o.audio, file, where), text: ref, language: language(o.language, ref, file, where) };
    });
    return { entries, skipped: [] };
  }
  if (typeof json !== 'object' || json === null) {
    throw new ManifestError(file, 'must hold a list of entries, an object { audio: text } or { "clips": [...] }');
  }
  const o = json as Record<string, unknown>;
  if ('clips' in o) return corpusManifest(o.clips, file);
  const entries = Object.entries(o).map(([audio, ref]): ManifestEntry => {
    const where = `entry ${JSON.stringify(audio)}`;
    const t = reference(ref, file, where);
    return { audio: audioPath(audio, file, where), text: t, language: language(undefined, t, file, where) };
  });
  return { entries, skipped: [] };
}

/** The shared corpus's manifest: `transcript` may say "same as X" (or "same utterance as X"), meaning X's. */
function corpusManifest(clips: unknown, file: string): Manifest {
  if (!Array.isArray(clips)) throw new ManifestError(file, '"clips" must be a list');
  const items = clips.map((c: unknown, i) => {
    const where = `clips[${i}]`;
    if (typeof c !== 'object' || c === null) throw new ManifestError(file, `${where} must be an object`);
    const o = c as Record<string, unknown>;
    const transcript = reference(o.transcript, file, where);
    return { where, file: o.file, lang: o.lang, transcript, kind: o.transcript_kind };
  });
  const byName = new Map(items.map((c) => [basename(String(c.file)), c.transcript]));
  const out: Manifest = { entries: [], skipped: [] };
  for (const c of items) {
    const audio = audioPath(c.file, file, c.where);
    if (c.kind === 'none') {
      out.skipped.push({ audio, reason: `no reference transcript (${c.transcript})` });
      continue;
    }
    const same = /^same (?:utterance )?as (\S+)$/.exec(c.transcript);
    const text = same ? byName.get(same[1]) : c.transcript;
    if (text === undefined || (same && /^same (?:utterance )?as /.test(text))) {
      throw new ManifestError(file, `${c.where}: "${c.transcript}" names no clip with a transcript of its own`);
    }
    out.entries.push({ audio, text, language: language(c.lang, text, file, c.where) });
  }
  return out;
}

/** A CSV manifest's text: a header `audio,text[,language]` (any order), then one row per file. */
export function parseCsvManifest(text: string, file: string): Manifest {
  const rows = csvRows(text, file);
  const [header, ...body] = rows;
  const want = '(the header must be audio,text or audio,text,language)';
  if (!header) throw new ManifestError(file, `is empty ${want}`);
  const cols = header.map((h) => h.trim().toLowerCase());
  const unknown = cols.filter((c) => !['audio', 'text', 'language'].includes(c));
  if (unknown.length || !cols.includes('audio') || !cols.includes('text') || new Set(cols).size !== cols.length) {
    throw new ManifestError(file, `line 1: header ${JSON.stringify(header.join(','))} ${want}`);
  }
  const at = (row: string[], name: string) => (cols.includes(name) ? row[cols.indexOf(name)] : undefined);
  const entries: ManifestEntry[] = [];
  body.forEach((row, i) => {
    const where = `row ${i + 2}`;
    if (row.length === 1 && row[0].trim() === '') return; // a blank line
    if (row.length !== cols.length) {
      throw new ManifestError(file, `${where}: ${row.length} fields where the header has ${cols.length}`);
    }
    const lang = at(row, 'language')?.trim();
    const ref = at(row, 'text')!;
    entries.push({
      audio: audioPath(at(row, 'audio')!.trim(), file, where),
      text: ref,
      language: language(lang === '' ? undefined : lang, ref, file, where),
    });
  });
  if (!entries.length) throw new ManifestError(file, 'has a header but no rows');
  return { entries, skipped: [] };
}

/** RFC 4180 records: fields separated by commas, quoted with "..." (which may hold commas, newlines and ""). */
function csvRows(text: string, file: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let quoteLine = 0; // where the open quoted field began
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
        if (i + 1 < text.length && !',\r\n'.includes(text[i + 1])) {
          throw new ManifestError(file, `line ${line}: text after a closing quote (a quote inside a field is "")`);
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      rows.push([...row, field]);
      row = [];
      field = '';
      line++;
    } else {
      field += ch;
    }
  }
  if (quoted) throw new ManifestError(file, `line ${quoteLine}: a quoted field is not closed`);
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}
