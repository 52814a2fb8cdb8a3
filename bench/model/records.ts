/** The model bench's records, and the cost model that turns a time into GFLOP/s and GB/s. */
import type { GlmAsrConfig } from '../../src/models/glm-asr/config';
import { encoderFrames } from '../../src/models/glm-asr/encoder';
import type { LoadReport } from '../peers/meter';
import type { Engine, Stage } from './options';

export interface ModelRecord {
  stage: Stage;
  engine: Engine;
  precision: string;
  shape: Record<string, number | string>;
  adapter: string;
  medianMs: number;
  minMs?: number;
  iters: number;
  warmup: number;
  /** Depth the figure is for (measured or extrapolated to). */
  layers: { encoder: number; decoder: number };
  /** true: computed from per-layer and fixed costs measured at smaller depths (see `fit`), not measured. */
  extrapolated: boolean;
  fit?: { measuredLayers: number[]; perLayerMs: number; fixedMs: number; method: string };
  gflops?: number;
  /** Weight (+ KV cache) bytes read per run / median. */
  gbps?: number;
  pctPeakFlops?: number;
  pctCopy?: number;
  rtf?: number;
  peakGpuBytes?: number;
  peakRssBytes?: number;
  load?: LoadReport;
  check?: unknown;
  /** ours medianMs / peer medianMs at the same stage, shape and depth (< 1: ours faster). */
  vsOrtWebgpu?: number;
  vsOrtCpu?: number;
  note?: string;
  [extra: string]: unknown;
}

/** Four significant digits, as every figure is printed. */
export const r3 = (v: number): number => Number(v.toPrecision(4));

/** Same-process yardsticks from the kernel bench (bench/cases), for the % columns. */
export interface Yardsticks {
  peakGemmGflops: number;
  copyGbps: number;
  gemvGbps: number;
}

/** GFLOP/s and GB/s of a run, and as % of the yardsticks' GEMM peak and shader copy. */
export function rates(y: Yardsticks, flops: number, bytes: number, ms: number) {
  const gflops = flops / ms / 1e6;
  const gbps = bytes / ms / 1e6;
  return {
    gflops: r3(gflops), gbps: r3(gbps),
    pctPeakFlops: r3((100 * gflops) / y.peakGemmGflops), pctCopy: r3((100 * gbps) / y.copyGbps),
  };
}

/** Bytes per weight of each storage precision (INT8: one f32 scale per 64 weights; 4-bit: one f16 per 32). */
export const bytesPerWeight = (precision: string): number =>
  precision === 'f32' ? 4 : precision === 'f16' ? 2 : precision === 'int4' ? 0.5 + 2 / 32 : 1 + 4 / 64;

export interface Cost {
  flops: number;
  bytes: number;
}

/** FLOPs and bytes read per run of each stage, from the config; shared by ours and the peers. */
export function costs(cfg: GlmAsrConfig, bytesPerW: number) {
  const e = cfg.encoder;
  const d = cfg.decoder;
  const fe = cfg.frontEnd;
  const p = cfg.projector;
  const T = encoderFrames(cfg);
  const t1 = fe.nFrames;
  const tok = T / p.mergeFactor;
  const encLayerW = 4 * e.hidden * e.hidden + 2 * e.hidden * e.ffn;
  const encFixedW = fe.melBins * e.hidden * 3 + e.hidden * e.hidden * 3 + p.inDim * p.hidden + p.hidden * p.outDim;
  const decLayerW = d.hidden * d.heads * d.headDim * 2 + 2 * d.hidden * d.kvHeads * d.headDim + 3 * d.hidden * d.ffn;
  const headW = d.vocab * d.hidden;
  return {
    encoder(layers: number): Cost {
      const flops = 2 * t1 * e.hidden * fe.melBins * 3 + 2 * T * e.hidden * e.hidden * 3
        + layers * (2 * T * encLayerW + 4 * T * T * e.heads * e.headDim)
        + 2 * tok * (p.inDim * p.hidden + p.hidden * p.outDim);
      return { flops, bytes: (encFixedW + layers * encLayerW) * bytesPerW };
    },
    prefill(layers: number, tokens: number): Cost {
      const flops = layers * (2 * tokens * decLayerW + 2 * tokens * tokens * d.heads * d.headDim) + 2 * headW;
      return { flops, bytes: (layers * decLayerW + headW) * bytesPerW };
    },
    step(layers: number, beams: number, pos: number): Cost {
      const flops = 2 * beams * (layers * decLayerW + headW) + layers * 4 * beams * (pos + 1) * d.heads * d.headDim;
      const kv = layers * 2 * beams * (pos + 1) * d.kvHeads * d.headDim * 4;
      return { flops, bytes: (layers * decLayerW + headW) * bytesPerW + kv };
    },
  };
}
