/**
 * Prints what a safetensors file or checkpoint folder holds: every tensor (dtype, shape, bytes), the metadata,
 * the quantization scheme (INT8 or 4-bit) if any, and totals per dtype.
 *
 *   npm run inspect -- FILE_OR_DIR [--summary] [--json]
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Checkpoint } from '../src/weights/checkpoint';
import { NodeFolderProvider } from '../src/weights/node-file-source';
import { checkpointScheme, SCALE_SUFFIX } from '../src/weights/quant';

export interface InspectReport {
  path: string;
  files: { file: string; metadata: Record<string, string> | null }[];
  scheme: string | null;
  tensors: { name: string; dtype: string; shape: number[]; bytes: number; file: string }[];
  totals: { dtype: string; tensors: number; bytes: number; elements: number }[];
  totalBytes: number;
  quantizedTensors: number;
}

export async function inspectPath(p: string): Promise<InspectReport> {
  const full = resolve(p);
  const isDir = (await stat(full)).isDirectory();
  const ckpt = await Checkpoint.open(new NodeFolderProvider(isDir ? full : dirname(full)),
    isDir ? {} : { singleFile: basename(full), indexFile: '\0none' });
  try {
    const scheme = checkpointScheme(ckpt);
    const tensors = [...ckpt.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape],
      bytes: t.byteLength, file: t.file }));
    const by = new Map<string, { dtype: string; tensors: number; bytes: number; elements: number }>();
    for (const t of tensors) {
      const e = by.get(t.dtype) ?? { dtype: t.dtype, tensors: 0, bytes: 0, elements: 0 };
      e.tensors++;
      e.bytes += t.bytes;
      e.elements += t.shape.reduce((a, b) => a * b, 1);
      by.set(t.dtype, e);
    }
    return {
      path: full,
      files: [...ckpt.files].map(([file, f]) => ({ file, metadata: f.metadata ? { ...f.metadata } : null })),
      scheme: scheme?.name ?? null,
      tensors,
      totals: [...by.values()].sort((a, b) => b.bytes - a.bytes),
      totalBytes: tensors.reduce((s, t) => s + t.bytes, 0),
      quantizedTensors: tensors
        .filter((t) => (t.dtype === 'I8' || t.dtype === 'U8') && ckpt.has(t.name + SCALE_SUFFIX)).length,
    };
  } finally {
    await ckpt.close();
  }
}

const fmtBytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(3)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` :
  n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);

export function formatReport(r: InspectReport, summary = false): string {
  const lines: string[] = [`${r.path}`];
  for (const f of r.files) lines.push(`  file ${f.file}: metadata ${JSON.stringify(f.metadata)}`);
  const weights = r.scheme ? ` (${r.quantizedTensors} quantised weights with ${SCALE_SUFFIX} tensors)` : '';
  lines.push(`  quantization: ${r.scheme ?? 'none (float checkpoint)'}${weights}`);
  if (!summary) {
    const w = Math.max(...r.tensors.map((t) => t.name.length), 4);
    lines.push('', `  ${'name'.padEnd(w)}  dtype  ${'shape'.padEnd(16)}  bytes`);
    for (const t of r.tensors) lines.push(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(5)}  ` +
      `${`[${t.shape.join(', ')}]`.padEnd(16)}  ${fmtBytes(t.bytes)}`);
  }
  lines.push('', '  totals:');
  for (const t of r.totals) lines.push(`    ${t.dtype.padEnd(5)} ${String(t.tensors).padStart(5)} tensors  ` +
    `${String(t.elements).padStart(13)} elements  ${fmtBytes(t.bytes)}`);
  lines.push(`    all   ${String(r.tensors.length).padStart(5)} tensors  ${fmtBytes(r.totalBytes)}`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const paths = argv.filter((a) => !a.startsWith('-'));
  if (paths.length !== 1) {
    console.error('usage: npm run inspect -- FILE_OR_DIR [--summary] [--json]');
    process.exit(2);
  }
  const r = await inspectPath(paths[0]);
  if (argv.includes('--json')) console.log(JSON.stringify(r, null, 1));
  else console.log(formatReport(r, argv.includes('--summary')));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
