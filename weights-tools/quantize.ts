/**
 * Checkpoint quantisation tool: official (BF16) GLM-ASR checkpoint folder → INT8 (docs/int8.md) or 4-bit
 * (docs/quantization.md) checkpoint folder.
 *
 *   npm run quantize -- IN_DIR OUT_DIR [--bits 8|4] [--group-size 32|64|128] [--force]
 *
 * Copies every non-weight file (config, tokenizer, processor, chat template, ...) and writes one
 * `model.safetensors` with the same tensor names: 2-D matmul weights as I8 [out, in] plus `NAME.scale` F16
 * [out, ceil(in / G)] (symmetric per output row, groups of G along the input), everything else unchanged.
 * The scheme is recorded in `__metadata__` (`quantization: int8-sym-g{G}`, `group_size`, `scale_dtype`). With
 * `--bits 4` the matrices are packed U8 [out, ceil(in / 2)] (int4-sym-g{G}, default G = 32).
 * Streams tensor by tensor in 32 MiB row chunks (bounded memory), in pure TypeScript (no torch).
 */
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Checkpoint, INDEX_FILE } from '../src/weights/checkpoint';
import { NodeFileSink, NodeFolderProvider } from '../src/weights/node-file-source';
import { DEFAULT_GROUP_SIZE, GROUP_SIZES, quantizeCheckpoint, type QuantBits,
  type QuantizeSummary } from '../src/weights/quant';

export interface QuantizeFolderOptions {
  /** 8 (default) or 4. */
  bits?: QuantBits;
  /** Default: DEFAULT_GROUP_SIZE of the bit width. */
  groupSize?: number;
  /** Overwrite an existing model.safetensors in the output folder. */
  force?: boolean;
  log?: (line: string) => void;
}

/** Quantises the checkpoint in `inDir` into `outDir` (created if needed). */
export async function quantizeFolder(inDir: string, outDir: string,
  opts: QuantizeFolderOptions = {}): Promise<QuantizeSummary & { seconds: number }> {
  const t0 = performance.now();
  const src = resolve(inDir);
  const dst = resolve(outDir);
  if (src === dst) throw new Error('the output folder must differ from the input folder');
  const bits = opts.bits ?? 8;
  if (bits !== 8 && bits !== 4) throw new Error(`--bits ${String(bits)}: only 8 and 4 are supported`);
  const G = opts.groupSize ?? DEFAULT_GROUP_SIZE[bits];
  if (!(GROUP_SIZES as readonly number[]).includes(G)) throw new Error(`group size ${G} is not one of ` +
    `${GROUP_SIZES.join(', ')}`);
  await mkdir(dst, { recursive: true });
  const out = join(dst, 'model.safetensors');
  if (!opts.force && (await stat(out).catch(() => null))) throw new Error(`${out} exists (pass --force to overwrite)`);
  const ckpt = await Checkpoint.open(new NodeFolderProvider(src));
  try {
    // Everything that is not a weight file travels unchanged.
    for (const e of await readdir(src, { withFileTypes: true })) {
      if (!e.isFile() || e.name.endsWith('.safetensors') || e.name === INDEX_FILE) continue;
      await copyFile(join(src, e.name), join(dst, e.name));
    }
    await rm(join(dst, INDEX_FILE), { force: true }); // a stale index would shadow the single file
    const sink = await NodeFileSink.create(out);
    const summary = await quantizeCheckpoint(ckpt, sink, {
      bits,
      groupSize: G,
      onTensor: (p) => opts.log?.(`[${p.index + 1}/${p.total}] ${p.quantized ? `int${bits}` : 'copy'} ${p.name} ` +
        `${(p.bytesIn / 1e6).toFixed(1)} → ${(p.bytesOut / 1e6).toFixed(1)} MB`),
    });
    return { ...summary, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await ckpt.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const args: string[] = [];
  let groupSize: number | undefined;
  let bits: QuantBits = 8;
  let force = false;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--bits' || a === '-b') bits = Number(argv[++i]) as QuantBits;
    else if (a.startsWith('--bits=')) bits = Number(a.slice(7)) as QuantBits;
    else if (a === '--group-size' || a === '-g') groupSize = Number(argv[++i]);
    else if (a.startsWith('--group-size=')) groupSize = Number(a.slice(13));
    else if (a === '--force' || a === '-f') force = true;
    else if (a === '--quiet' || a === '-q') quiet = true;
    else if (a === '--help' || a === '-h') { args.length = 0; break; }
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else args.push(a);
  }
  if (args.length !== 2) {
    console.error('usage: npm run quantize -- IN_DIR OUT_DIR [--bits 8|4] [--group-size 32|64|128] ' +
      '[--force] [--quiet]');
    process.exit(2);
  }
  const log = quiet ? undefined : (l: string) => process.stderr.write(`${l}\n`);
  const s = await quantizeFolder(args[0], args[1], { bits, groupSize, force, log });
  const rss = process.resourceUsage().maxRSS * 1024;
  const fmt = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(3)} GB` : `${(n / 1e6).toFixed(2)} MB`);
  console.log(`${s.scheme}: ${s.quantized} of ${s.tensors} tensors quantised; ${fmt(s.bytesIn)} → ${fmt(s.bytesOut)} ` +
    `in ${s.seconds.toFixed(1)} s; worst |w − q·s| / max|w| per tensor ${s.worstRelError.toExponential(2)}; ` +
    `peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB → ${resolve(args[1], 'model.safetensors')}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
