/** The model bench's command line (documented in bench/model.ts, which `--help` prints). */
import { parseArgs } from 'node:util';

export const STAGES = ['load', 'encoder-window', 'prefill', 'decode-step', 'decode-batch', 'transcribe'] as const;
export type Stage = (typeof STAGES)[number];
export type Engine = 'ours' | 'ort-webgpu' | 'ort-cpu';
const PEERS: readonly Engine[] = ['ort-webgpu', 'ort-cpu'];
const PRECISIONS = ['f32', 'f16', 'int8', 'int4'];
export const DEFAULT_MODEL = '.cache/models/glm-asr-nano-2512-random';

export interface BenchOptions {
  json: boolean;
  model: string;
  /** Undefined: the adapter's default (f32 on CPU adapters, f16 on GPUs). */
  precisions: string[] | undefined;
  peerModel: string | undefined;
  stages: Stage[];
  iters: number;
  warmup: number;
  /** Layers to load (undefined: all). */
  encLayers: number | undefined;
  decLayers: number | undefined;
  peers: Engine[];
  decodePos: number | undefined;
  audio: number[];
  tokens: number[];
  beams: number[];
  /** decode-batch: rows (greedy sequences) per batched step. */
  batchRows: number[];
  onnxDir: string | undefined;
  /** Also time depth 1 and extrapolate to full depth when truncated. */
  fit: boolean;
  minTime: number;
  out: string | undefined;
  help: boolean;
}

export function parseOptions(args: string[]): BenchOptions {
  const { values: v } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      model: { type: 'string', default: DEFAULT_MODEL },
      precision: { type: 'string' },
      'peer-model': { type: 'string' },
      stages: { type: 'string', default: STAGES.join(',') },
      iters: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      'encoder-layers': { type: 'string' },
      'decoder-layers': { type: 'string' },
      peers: { type: 'string', default: PEERS.join(',') },
      'decode-pos': { type: 'string' },
      audio: { type: 'string', default: '5,30,120' },
      tokens: { type: 'string', default: '20,90,360' },
      beams: { type: 'string', default: '1,4' },
      'batch-rows': { type: 'string', default: '1,4,8' },
      'onnx-dir': { type: 'string' },
      'no-fit': { type: 'boolean', default: false },
      'min-time': { type: 'string', default: '5' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const int = (name: string, value: string | undefined, min: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} needs an integer ≥ ${min}, got ${value}`);
    return n;
  };
  const list = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean);
  const opts: BenchOptions = {
    json: v.json!,
    model: v.model!,
    precisions: v.precision ? list(v.precision) : undefined,
    peerModel: v['peer-model'],
    stages: list(v.stages!) as Stage[],
    iters: int('iters', v.iters, 1)!,
    warmup: int('warmup', v.warmup, 0)!,
    encLayers: int('encoder-layers', v['encoder-layers'], 1),
    decLayers: int('decoder-layers', v['decoder-layers'], 1),
    peers: v.peers === 'none' ? [] : (list(v.peers!) as Engine[]),
    decodePos: int('decode-pos', v['decode-pos'], 1),
    audio: list(v.audio!).map(Number),
    tokens: list(v.tokens!).map(Number),
    beams: list(v.beams!).map(Number),
    batchRows: list(v['batch-rows']!).map(Number),
    onnxDir: v['onnx-dir'],
    fit: !v['no-fit'],
    minTime: Number(v['min-time']),
    out: v.out,
    help: v.help!,
  };
  for (const s of opts.stages) if (!STAGES.includes(s)) throw new Error(`unknown stage "${s}" (${STAGES.join(', ')})`);
  for (const p of opts.peers) {
    if (!PEERS.includes(p)) throw new Error(`unknown peer "${p}" (${PEERS.join(', ')}, none)`);
  }
  for (const p of opts.precisions ?? []) {
    if (!PRECISIONS.includes(p)) {
      throw new Error(`--precision takes ${PRECISIONS.join(', ')} or a comma list of them, got ${p}`);
    }
  }
  if (opts.audio.length !== opts.tokens.length) throw new Error('--audio and --tokens need the same number of entries');
  return opts;
}

/** Progress and notes go to stderr: with --json only the records may reach stdout. */
export const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};
