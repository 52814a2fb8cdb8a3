/** Shared helpers for the audio tests: corpus paths, python bridge, npz reader, WAV writer. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** ../shared next to the repository; GLM_ASR_SHARED overrides it (e.g. to check that tests skip cleanly). */
export const SHARED = process.env.GLM_ASR_SHARED ?? resolve(REPO, '..', 'shared');
export const CORPUS = join(SHARED, 'corpus');
export const MANIFEST = join(CORPUS, 'manifest.json');
export const MEL_NPZ = join(CORPUS, 'frontend', 'mel_filters.npz');
export const HAS_CORPUS = existsSync(MANIFEST);
export const NO_CORPUS = `../shared/corpus not found at ${CORPUS}: corpus tests skipped`;

export interface ManifestClip {
  file: string;
  lang: string;
  format: string;
  transcript: string;
}

export function loadManifest(): ManifestClip[] {
  return (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { clips: ManifestClip[] }).clips;
}

export function corpusBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(CORPUS, file)));
}

// ---------------------------------------------------------------- python

const PYTHON = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const pyCache = new Map<string, string | null>();

/**
 * null when `python3` can import every module in `modules`; otherwise a message saying why not
 * (for ctx.skip).
 */
export function pythonMissing(...modules: string[]): string | null {
  const key = modules.join(',');
  if (pyCache.has(key)) return pyCache.get(key)!;
  const r = spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8', timeout: 60_000 });
  const why =
    r.error || r.status !== 0
      ? `${PYTHON} with ${modules.join(' + ')} is not available ` +
        `(${r.error?.message ?? r.stderr.trim().split('\n').pop()}): cross-check skipped`
      : null;
  pyCache.set(key, why);
  return why;
}

/** Run an inline python script with arguments; returns stdout, throws with stderr on failure. */
export function runPython(script: string, args: string[] = []): string {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`python failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

const tempDirs: string[] = [];

/** A fresh temporary directory; `removeTempDirs` (run it in afterAll) deletes them. */
export function tempDir(prefix = 'glm-audio-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function writeF32(path: string, a: Float32Array): void {
  writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

// ---------------------------------------------------------------- numerics

/** ‖a − b‖₂ / ‖b‖₂ over [from, to). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = Math.min(a.length, b.length)): number {
  let num = 0;
  let den = 0;
  for (let i = from; i < to; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num / den);
}

export function rms(a: ArrayLike<number>, from = 0, to = a.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i] * a[i];
  return Math.sqrt(s / Math.max(1, to - from));
}

export function sine(n: number, freq: number, rate: number, amp = 1, phase = 0): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate + phase);
  return x;
}

// ---------------------------------------------------------------- npz / npy

export interface NpyArray {
  shape: number[];
  dtype: string;
  fortran: boolean;
  data: Float32Array | Float64Array;
}

function parseNpy(b: Uint8Array, name: string): NpyArray {
  if (b[0] !== 0x93 || String.fromCharCode(...b.subarray(1, 6)) !== 'NUMPY') throw new Error(`${name}: not an .npy`);
  const major = b[6];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(b.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const body = b.slice(hstart + hlen); // copy → aligned
  let data: Float32Array | Float64Array;
  if (descr === '<f4') data = new Float32Array(body.buffer, 0, body.byteLength / 4);
  else if (descr === '<f8') data = new Float64Array(body.buffer, 0, body.byteLength / 8);
  else throw new Error(`${name}: unsupported dtype ${descr}`);
  return { shape, dtype: descr, fortran, data };
}

/** Read an .npz (zip of .npy; stored or deflated) through its central directory. */
export function readNpz(path: string): Map<string, NpyArray> {
  const z = new Uint8Array(readFileSync(path));
  const dv = new DataView(z.buffer, z.byteOffset, z.byteLength);
  let eocd = -1;
  for (let i = z.length - 22; i >= Math.max(0, z.length - 65557); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${path}: no zip end-of-central-directory record`);
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const out = new Map<string, NpyArray>();
  for (let e = 0; e < count; e++) {
    if (dv.getUint32(p, true) !== 0x02014b50) throw new Error(`${path}: bad central directory entry at ${p}`);
    const method = dv.getUint16(p + 10, true);
    const csize = dv.getUint32(p + 20, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const local = dv.getUint32(p + 42, true);
    const fname = new TextDecoder().decode(z.subarray(p + 46, p + 46 + nameLen));
    const lNameLen = dv.getUint16(local + 26, true);
    const lExtraLen = dv.getUint16(local + 28, true);
    const start = local + 30 + lNameLen + lExtraLen;
    const raw = z.subarray(start, start + csize);
    const npy = method === 0 ? raw : method === 8 ? new Uint8Array(inflateRawSync(raw)) : null;
    if (!npy) throw new Error(`${path}: ${fname} uses zip method ${method}`);
    out.set(fname.replace(/\.npy$/, ''), parseNpy(npy, fname));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

// ---------------------------------------------------------------- WAV fixtures

export interface WavSpec {
  /** 1 PCM, 3 float, 6 A-law, 7 µ-law, or anything (for "unsupported codec" tests). */
  format: number;
  bits: number;
  rate: number;
  /** Raw sample words, interleaved: integers for PCM/G.711, floats for float formats. */
  samples: ArrayLike<number>;
  channels: number;
  extensible?: boolean;
  /** Override the EXTENSIBLE sub-format GUID (16 bytes). */
  guid?: Uint8Array;
  /** Extra chunks inserted before `data` (and after `fmt `). */
  before?: { id: string; body: Uint8Array }[];
  /** Chunks appended after `data`. */
  after?: { id: string; body: Uint8Array }[];
  /** Override the data chunk's size field. */
  dataSize?: number;
  /** Override the RIFF size field. */
  riffSize?: number;
  /** Skip the pad byte after odd-sized chunks (a common writer bug). */
  noPad?: boolean;
}

function chunk(id: string, body: Uint8Array, sizeField = body.length, noPad = false): Uint8Array {
  const pad = body.length & 1 && !noPad ? 1 : 0;
  const out = new Uint8Array(8 + body.length + pad);
  for (let i = 0; i < 4; i++) out[i] = id.charCodeAt(i);
  new DataView(out.buffer).setUint32(4, sizeField >>> 0, true);
  out.set(body, 8);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encode interleaved sample words into little-endian bytes of `bits` width. */
export function encodeSamples(format: number, bits: number, samples: ArrayLike<number>): Uint8Array {
  const bps = Math.ceil(bits / 8);
  const out = new Uint8Array(samples.length * bps);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i];
    const p = i * bps;
    if (format === 3 && bits === 32) dv.setFloat32(p, v, true);
    else if (format === 3 && bits === 64) dv.setFloat64(p, v, true);
    else if (bps === 1) out[p] = v & 0xff;
    else if (bps === 2) dv.setInt16(p, v, true);
    else if (bps === 3) {
      out[p] = v & 0xff;
      out[p + 1] = (v >> 8) & 0xff;
      out[p + 2] = (v >> 16) & 0xff;
    } else dv.setInt32(p, v, true);
  }
  return out;
}

export function makeWav(spec: WavSpec): Uint8Array {
  const bps = Math.ceil(spec.bits / 8);
  const fmtBody = new Uint8Array(spec.extensible ? 40 : 16);
  const f = new DataView(fmtBody.buffer);
  f.setUint16(0, spec.extensible ? 0xfffe : spec.format, true);
  f.setUint16(2, spec.channels, true);
  f.setUint32(4, spec.rate, true);
  f.setUint32(8, spec.rate * spec.channels * bps, true);
  f.setUint16(12, spec.channels * bps, true);
  f.setUint16(14, spec.extensible ? bps * 8 : spec.bits, true);
  if (spec.extensible) {
    f.setUint16(16, 22, true);
    f.setUint16(18, spec.bits, true);
    f.setUint32(20, spec.channels === 2 ? 3 : 4, true);
    const guid =
      spec.guid ??
      Uint8Array.of(spec.format & 0xff, spec.format >> 8, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71);
    fmtBody.set(guid, 24);
  }
  const data = encodeSamples(spec.format, spec.bits, spec.samples);
  const parts = [
    chunk('fmt ', fmtBody),
    ...(spec.before ?? []).map((c) => chunk(c.id, c.body, c.body.length, spec.noPad)),
    chunk('data', data, spec.dataSize ?? data.length, spec.noPad),
    ...(spec.after ?? []).map((c) => chunk(c.id, c.body, c.body.length, spec.noPad)),
  ];
  const body = concat(parts);
  const head = new Uint8Array(12);
  head.set([0x52, 0x49, 0x46, 0x46], 0);
  new DataView(head.buffer).setUint32(4, (spec.riffSize ?? body.length + 4) >>> 0, true);
  head.set([0x57, 0x41, 0x56, 0x45], 8);
  return concat([head, body]);
}

export function hasCommand(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return !r.error;
}

export function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

/** A 16-bit mono PCM WAV of `n` frames at `rate` (a slow sawtooth, so it is not silent). */
export function pcmWav(rate: number, n: number): Uint8Array {
  const b = new Uint8Array(44 + 2 * n);
  const dv = new DataView(b.buffer);
  b.set([...'RIFF'].map((c) => c.charCodeAt(0)), 0);
  dv.setUint32(4, 36 + 2 * n, true);
  b.set([...'WAVEfmt '].map((c) => c.charCodeAt(0)), 8);
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, 1, true);
  dv.setUint32(24, rate >>> 0, true);
  dv.setUint32(28, (rate * 2) >>> 0, true);
  dv.setUint16(32, 2, true);
  dv.setUint16(34, 16, true);
  b.set([...'data'].map((c) => c.charCodeAt(0)), 36);
  dv.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) dv.setInt16(44 + 2 * i, ((i * 37) % 2000) - 1000, true);
  return b;
}
