/** The checkpoints the model bench loads: depth overrides, eos disabled, the INT8 copy. */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { INDEX_FILE, type FileProvider } from '../../src/weights/checkpoint';
import { NodeFolderProvider } from '../../src/weights/node-file-source';
import { checkRange, type ByteSource } from '../../src/weights/sources';
import { runChild, TSX } from './child';
import { log } from './options';

export interface Depths {
  encoder: number;
  decoder: number;
}

const LAYER = /^(audio_tower|language_model\.model)\.layers\.(\d+)\./;

/** Whether a tensor (or its INT8 scales) belongs to an encoder or decoder layer beyond the loaded depth. */
function beyond(name: string, use: Depths): boolean {
  const m = LAYER.exec(name);
  return m !== null && Number(m[2]) >= (m[1] === 'audio_tower' ? use.encoder : use.decoder);
}

type Header = Record<string, { data_offsets?: [number, number] }>;

/**
 * A safetensors file without the tensors of the layers beyond the loaded depth (the loader refuses tensors the
 * config does not use): a new header over the kept tensors, packed without holes as the format requires, and each
 * read mapped to the kept tensors' bytes in the original file.
 */
class TruncatedSafetensors implements ByteSource {
  readonly name: string;
  private constructor(private readonly inner: ByteSource, private readonly head: Uint8Array,
    /** [start in this file, length, offset in the original], ascending and contiguous after `head`. */
    private readonly pieces: [number, number, number][], private readonly total: number) {
    this.name = inner.name;
  }

  static async open(inner: ByteSource, use: Depths): Promise<ByteSource> {
    const n = Number(new DataView((await inner.read(0, 8)).buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(await inner.read(8, n))) as Header;
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    if (!names.some((k) => beyond(k, use))) return inner;
    const offsets = (k: string) => header[k].data_offsets!;
    const kept = names.filter((k) => !beyond(k, use)).sort((a, b) => offsets(a)[0] - offsets(b)[0]);
    const out: Header = '__metadata__' in header ? { __metadata__: header.__metadata__ } : {};
    const spans: [number, number, number][] = [];
    let at = 0;
    for (const k of kept) {
      const [b, e] = offsets(k);
      out[k] = { ...header[k], data_offsets: [at, at + e - b] };
      spans.push([at, e - b, 8 + n + b]);
      at += e - b;
    }
    const json = new TextEncoder().encode(JSON.stringify(out));
    const head = new Uint8Array(8 + Math.ceil(json.length / 8) * 8).fill(0x20); // space-padded to 8 bytes
    new DataView(head.buffer).setBigUint64(0, BigInt(head.length - 8), true);
    head.set(json, 8);
    const pieces = spans.map(([s, len, from]): [number, number, number] => [head.length + s, len, from]);
    return new TruncatedSafetensors(inner, head, pieces, head.length + at);
  }

  async size(): Promise<number> {
    return this.total;
  }

  async read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
    checkRange(this.name, offset, length, this.total);
    const out = new Uint8Array(length);
    const end = offset + length;
    if (offset < this.head.length) out.set(this.head.subarray(offset, Math.min(end, this.head.length)));
    for (const [start, len, from] of this.pieces) {
      const lo = Math.max(offset, start);
      const hi = Math.min(end, start + len);
      if (lo < hi) out.set(await this.inner.read(from + lo - start, hi - lo), lo - offset);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

/**
 * A folder seen with fewer layers: config.json says so, the weight files and the shard index leave the other
 * layers' tensors out; eos ids are replaced by `<|pad|>`'s so that a random model's transcription runs to
 * maxNewTokens.
 */
class OverrideProvider implements FileProvider {
  readonly name: string;
  constructor(private readonly inner: FileProvider, private readonly files: Map<string, string>,
    private readonly use: Depths) {
    this.name = inner.name;
  }
  exists(p: string): Promise<boolean> {
    return this.files.has(p) ? Promise.resolve(true) : this.inner.exists(p);
  }
  async open(p: string): Promise<ByteSource> {
    const source = await this.inner.open(p);
    return p.endsWith('.safetensors') ? TruncatedSafetensors.open(source, this.use) : source;
  }
  async readText(p: string): Promise<string> {
    if (this.files.has(p)) return this.files.get(p)!;
    const text = await this.inner.readText(p);
    if (p !== INDEX_FILE) return text;
    const index = JSON.parse(text) as { weight_map: Record<string, string> };
    const map = Object.entries(index.weight_map).filter(([k]) => !beyond(k, this.use));
    return JSON.stringify({ ...index, weight_map: Object.fromEntries(map) });
  }
}

/** `dir` with the first encLayers / decLayers layers (default: all) and eos disabled; its full and used depths. */
export async function modelProvider(dir: string, encLayers: number | undefined, decLayers: number | undefined):
  Promise<{ provider: FileProvider; full: Depths; use: Depths }> {
  const inner = new NodeFolderProvider(dir);
  const config = JSON.parse(await inner.readText('config.json'));
  const full = {
    encoder: config.audio_config?.num_hidden_layers ?? 32, decoder: config.text_config?.num_hidden_layers ?? 28,
  };
  const use = { encoder: encLayers ?? full.encoder, decoder: decLayers ?? full.decoder };
  if (use.encoder > full.encoder || use.decoder > full.decoder) {
    throw new Error(`the checkpoint has ${full.encoder} encoder and ${full.decoder} decoder layers`);
  }
  config.audio_config = { ...config.audio_config, num_hidden_layers: use.encoder };
  config.text_config = { ...config.text_config, num_hidden_layers: use.decoder };
  const pad = config.audio_token_id ?? 59260;
  config.text_config.eos_token_id = [pad];
  if ('eos_token_id' in config) config.eos_token_id = [pad];
  const files = new Map([['config.json', JSON.stringify(config)]]);
  if (await inner.exists('generation_config.json')) {
    const gen = JSON.parse(await inner.readText('generation_config.json'));
    gen.eos_token_id = [pad];
    files.set('generation_config.json', JSON.stringify(gen));
  }
  return { provider: new OverrideProvider(inner, files, use), full, use };
}

/** The `quantization` entry of a checkpoint folder's safetensors metadata (undefined for a float checkpoint). */
function quantization(dir: string): string | undefined {
  const index = join(dir, 'model.safetensors.index.json');
  type Index = { weight_map: Record<string, string> };
  const weightMap = () => (JSON.parse(readFileSync(index, 'utf8')) as Index).weight_map;
  const file = existsSync(index) ? join(dir, Object.values(weightMap())[0]) : join(dir, 'model.safetensors');
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const head = Buffer.alloc(Math.min(n, 100 << 20));
    readSync(fd, head, 0, head.length, 8);
    return (JSON.parse(head.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__?.quantization;
  } finally {
    closeSync(fd);
  }
}

/**
 * Checkpoint folder for our engine at `precision` (INT8: `<model>-int8`, quantised on first use) and the float one
 * for the peers (`peerModel` when `model` is itself an INT8 checkpoint).
 */
export async function checkpointsFor(model: string, peerModel: string | undefined, precision: string):
  Promise<{ ours: string; float: string | undefined }> {
  const scheme = quantization(model);
  // 4-bit: a float checkpoint is quantised at load (docs/quantization.md), a 4-bit one loads as it is.
  if (precision === 'int4' && !scheme?.startsWith('int8')) return { ours: model, float: scheme ? peerModel : model };
  const isInt8 = scheme !== undefined;
  if (precision !== 'int8') {
    if (isInt8) throw new Error(`${model} is an INT8 checkpoint: it loads only with --precision int8`);
    return { ours: model, float: model };
  }
  if (isInt8) return { ours: model, float: peerModel };
  const q = `${resolve(model)}-int8`;
  if (quantization(q) === undefined) {
    log(`  quantising ${model} → ${q} (npm run quantize, docs/int8.md) …`);
    await runChild(TSX, ['weights-tools/quantize.ts', model, q, '--force'], false);
  }
  return { ours: q, float: model };
}
