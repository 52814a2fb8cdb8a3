/**
 * The GPU targets of issue 18 §2 and their verdicts from the model bench's records (bench/model/records.ts): only
 * our engine's measured (not extrapolated) rows count.
 */
import type { ModelRecord } from '../model/records';

export interface TargetRow {
  target: string;
  /** The figure and how it was obtained; empty when nothing measured it. */
  measured: string;
  verdict: string;
}

/** Where the bench ran: what decides whether a verdict may be given. */
export interface TargetContext {
  cpuAdapter: boolean;
  /** Why the figures do not decide the targets though the adapter is a GPU (not the real size, truncated). */
  notDecisive: string | undefined;
  /** Why there are no bench records at all (the part was skipped or failed). */
  noRecords: string | undefined;
}

const GB = 1e9;
/** Decimal units, as docs/quantization.md gives the 4-bit figures. */
const size = (b: number) => (b >= 1e8 ? `${(b / GB).toFixed(3)} GB` : `${(b / 1e6).toFixed(2)} MB`);
const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;

function verdict(c: TargetContext, measured: boolean, pass: boolean): string {
  if (c.cpuAdapter) return 'not applicable on a software adapter';
  if (c.noRecords) return `not measured: ${c.noRecords}`;
  if (!measured) return 'not measured: the bench gave no row for it';
  if (c.notDecisive) return `not decided: ${c.notDecisive}`;
  return pass ? 'pass' : 'FAIL';
}

/** The fastest of our measured rows that `match` (over the precisions the bench ran). */
function fastest(rs: ModelRecord[], match: (r: ModelRecord) => boolean): ModelRecord | undefined {
  return rs.filter(match).sort((a, b) => a.medianMs - b.medianMs)[0];
}

/** One row per target, in the order; every target gets a row whatever was measured. */
export function evaluateTargets(records: ModelRecord[], c: TargetContext): TargetRow[] {
  const ours = records.filter((r) => r.engine === 'ours' && !r.extrapolated);
  const rows: TargetRow[] = [];

  // Decode: one greedy INT8 step against the time the shader copy's bandwidth needs to read its bytes once.
  const step = ours.find((r) => r.stage === 'decode-step' && r.precision === 'int8' && r.shape.beams === 1);
  let ratio = NaN;
  let decode = '';
  if (step?.gbps !== undefined && step.pctCopy !== undefined) {
    ratio = 100 / step.pctCopy; // copy GB/s ÷ the step's GB/s = its time ÷ the floor's
    const bytes = step.gbps * step.medianMs * 1e6;
    decode = `${ms(step.medianMs)}/token (INT8, greedy, median of ${step.iters}); floor ${ms(step.medianMs / ratio)}`
      + ` = ${size(bytes)} of weights and KV cache ÷ the shader copy's ${(step.gbps * ratio)
        .toPrecision(4)} GB/s; ${ratio.toFixed(2)}× the floor`;
  }
  rows.push({
    target: 'decode within 1.5× of the INT8 bandwidth floor', measured: decode,
    verdict: verdict(c, step !== undefined, ratio <= 1.5),
  });

  const enc = fastest(ours, (r) => r.stage === 'encoder-window');
  rows.push({
    target: '30 s encoder window ≤ 25 ms',
    measured: enc ? `${ms(enc.medianMs)} (${enc.precision}, ${enc.layers.encoder} layers, median of ${enc.iters}; `
      + 'fastest precision)' : '',
    verdict: verdict(c, enc !== undefined, (enc?.medianMs ?? Infinity) <= 25),
  });

  const e2e = fastest(ours, (r) => r.stage === 'transcribe' && r.shape.audioSec === 5);
  rows.push({
    target: '5 s of audio ≤ 150 ms end to end',
    measured: e2e ? `${ms(e2e.medianMs)} (${e2e.precision}, ${e2e.shape.tokens} tokens generated, one run after the `
      + 'other stages warmed the pipelines; fastest precision)' : '',
    verdict: verdict(c, e2e !== undefined, (e2e?.medianMs ?? Infinity) <= 150),
  });

  // 4-bit memory: the largest pool peak of any 4-bit stage (weights, KV cache for the beams, activations).
  const int4 = ours.filter((r) => r.precision === 'int4' && r.peakGpuBytes !== undefined);
  const peak = Math.max(...int4.map((r) => r.peakGpuBytes!));
  const weights = int4.find((r) => r.stage === 'load')?.shape.weightBytes as number | undefined;
  const worst = int4.find((r) => r.peakGpuBytes === peak);
  rows.push({
    target: '4-bit total GPU memory ≤ 1.6 GB',
    measured: worst ? `${size(peak)} peak of GPU buffers (${worst.stage}; weights `
      + `${weights !== undefined ? size(weights) : '?'}, the rest KV cache and activations)` : '',
    verdict: verdict(c, worst !== undefined, peak <= 1.6 * GB),
  });
  return rows;
}
