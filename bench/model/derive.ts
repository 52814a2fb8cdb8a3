/**
 * Figures computed from the measured records, after every stage ran: ours/peer ratios, full-depth extrapolations
 * of truncated runs, the full-depth transcribe estimate and INT8's decode speed-up over f32.
 */
import type { GlmAsrConfig } from '../../src/models/glm-asr/config';
import type { Depths } from './checkpoint';
import { pairedFit } from './measure';
import type { Engine, Stage } from './options';
import { bytesPerWeight, costs, r3, rates, type ModelRecord, type Yardsticks } from './records';
import type { TranscribeRun } from './stages';

const PEER_FIELDS = {
  'ort-webgpu': { wall: 'vsOrtWebgpu', cpu: 'vsOrtWebgpuCpuTime' },
  'ort-cpu': { wall: 'vsOrtCpu', cpu: 'vsOrtCpuCpuTime' },
} as const;

const checkedOk = (r: ModelRecord) => (r.check as { ok?: boolean } | undefined)?.ok === true;
const notWrong = (r: ModelRecord) => (r.check as { ok?: boolean } | undefined)?.ok !== false;

/** The same measurement on another engine: stage, the stage's depth and (decode step) beam count. */
function sameRow(a: ModelRecord, b: ModelRecord): boolean {
  if (a.stage !== b.stage || a.extrapolated !== b.extrapolated) return false;
  return a.stage === 'encoder-window' ? a.layers.encoder === b.layers.encoder
    : a.layers.decoder === b.layers.decoder && a.shape.beams === b.shape.beams;
}

/** Ours / peer, wall and CPU time, for each of our rows a peer with a correct output also measured. */
function addPeerRatios(records: ModelRecord[], extrapolated: boolean): void {
  for (const r of records.filter((x) => x.engine === 'ours' && x.extrapolated === extrapolated)) {
    for (const peer of ['ort-webgpu', 'ort-cpu'] as const) {
      const theirs = records.find((x) => x.engine === peer && sameRow(r, x) && (extrapolated || checkedOk(x)));
      if (!theirs) continue;
      r[PEER_FIELDS[peer].wall] = r3(r.medianMs / theirs.medianMs);
      if (theirs.cpuMs && r.cpuMs) r[PEER_FIELDS[peer].cpu] = r3((r.cpuMs as number) / (theirs.cpuMs as number));
    }
  }
}

export interface DeriveContext {
  cfg: GlmAsrConfig;
  adapter: string;
  full: Depths;
  /** The loaded (truncated) depth. */
  use: Depths;
  truncated: boolean;
  precisions: string[];
  peers: Engine[];
  beams: number[];
  promptTokens: number;
  pos: number;
  yardsticks: Yardsticks;
}

/**
 * The full-depth record of one stage/engine/precision/shape from its two measured depths (paired per round, see
 * `pairedFit`); undefined when there are not two depths below full.
 */
function extrapolate(records: ModelRecord[], d: DeriveContext, stage: Stage, engine: Engine, precision: string,
  shapeMatch: (r: ModelRecord) => boolean): ModelRecord | undefined {
  const part = stage === 'encoder-window' ? 'encoder' : 'decoder';
  const fullN = d.full[part];
  const rs = records.filter((r) => r.stage === stage && r.engine === engine && r.precision === precision
    && !r.extrapolated && shapeMatch(r) && notWrong(r));
  const byDepth = rs.map((r) => ({ layers: r.layers[part], ms: r.medianMs, r })).sort((x, y) => x.layers - y.layers);
  if (byDepth.length < 2 || byDepth[byDepth.length - 1].layers >= fullN) return undefined;
  const [a, b] = [byDepth[0], byDepth[byDepth.length - 1]];
  const times = (r: ModelRecord, key: 'times' | 'cpuTimes') => r[key] as number[] | undefined;
  const f = pairedFit(a.layers, b.layers, fullN, times(a.r, 'times'), times(b.r, 'times'), a.ms, b.ms);
  const ms = f.fullMs;
  const src = b.r;
  const c = costs(d.cfg, bytesPerWeight(precision));
  const cost = stage === 'encoder-window' ? c.encoder(fullN)
    : stage === 'prefill' ? c.prefill(fullN, d.promptTokens) : c.step(fullN, Number(src.shape.beams), d.pos);
  const ca = a.r.cpuMs as number | undefined;
  const cb = b.r.cpuMs as number | undefined;
  const cpuMs = ca !== undefined && cb !== undefined
    ? pairedFit(a.layers, b.layers, fullN, times(a.r, 'cpuTimes'), times(b.r, 'cpuTimes'), ca, cb).fullMs : undefined;
  return {
    stage, engine, precision, adapter: src.adapter, shape: src.shape, medianMs: ms, cpuMs, iters: src.iters,
    warmup: src.warmup, layers: { ...src.layers, [part]: fullN }, extrapolated: true,
    fit: { measuredLayers: [a.layers, b.layers], perLayerMs: f.perLayerMs, fixedMs: f.fixedMs, method: f.method },
    ...rates(d.yardsticks, cost.flops, cost.bytes, ms), ...(stage === 'decode-step' ? { msPerToken: ms } : {}),
  };
}

/** Full-depth extrapolations of every truncated stage (ours: encoder, prefill, steps; peers: encoder, steps). */
function extrapolateAll(records: ModelRecord[], d: DeriveContext): ModelRecord[] {
  const out: ModelRecord[] = [];
  const add = (r: ModelRecord | undefined) => r && out.push(r);
  const combos = [...d.precisions.map((p) => ['ours', p] as const), ...d.peers.map((e) => [e, 'f32'] as const)];
  for (const [engine, precision] of combos) {
    add(extrapolate(records, d, 'encoder-window', engine, precision, () => true));
    if (engine === 'ours') add(extrapolate(records, d, 'prefill', engine, precision, () => true));
    for (const B of d.beams) add(extrapolate(records, d, 'decode-step', engine, precision, (r) => r.shape.beams === B));
  }
  return out;
}

/**
 * Transcribe at full depth: the measured truncated run plus the missing layers' cost from the per-layer fits
 * (encoder per window; prefill per layer scaled by prompt length; greedy decode per layer per token).
 */
function extrapolateTranscribe(extrap: ModelRecord[], runs: TranscribeRun[], d: DeriveContext): ModelRecord[] {
  if (!d.truncated) return [];
  const out: ModelRecord[] = [];
  for (const t of runs) {
    const fitOf = (stage: Stage, beams?: number) => extrap.find((r) => r.engine === 'ours'
      && r.precision === t.precision && r.stage === stage && (beams === undefined || r.shape.beams === beams))?.fit;
    const encFit = fitOf('encoder-window');
    const preFit = fitOf('prefill');
    const stepFit = fitOf('decode-step', 1);
    const missEnc = d.full.encoder - d.use.encoder;
    const missDec = d.full.decoder - d.use.decoder;
    if ((missEnc && !encFit) || (missDec && (!preFit || !stepFit))) continue;
    const add = (encFit ? missEnc * encFit.perLayerMs * t.windows : 0)
      + (preFit ? missDec * preFit.perLayerMs * (t.promptTokens / d.promptTokens) : 0)
      + (stepFit ? missDec * stepFit.perLayerMs * t.tokens : 0);
    const ms = r3(t.ms + add);
    out.push({
      engine: 'ours', precision: t.precision, adapter: d.adapter, stage: 'transcribe',
      shape: { audioSec: t.audioSec, windows: t.windows, tokens: t.tokens, promptTokens: t.promptTokens, beams: 1 },
      medianMs: ms, iters: 1, warmup: 0, layers: { ...d.full }, extrapolated: true, rtf: r3(ms / 1000 / t.audioSec),
      fit: {
        measuredLayers: [d.use.encoder, d.use.decoder], perLayerMs: NaN, fixedMs: t.ms,
        method: 'measured truncated run + missing layers × per-layer costs of the encoder-window (per window), '
          + 'prefill (× prompt tokens / 30 s prompt) and greedy decode-step (per token) fits',
      },
    });
  }
  return out;
}

/** INT8 / f32 decode-step speed-up (same run, same beams and depth), on the INT8 rows. */
function addInt8Speedups(records: ModelRecord[]): void {
  for (const r of records.filter((x) => x.engine === 'ours' && x.precision === 'int8' && x.stage === 'decode-step')) {
    const f = records.find((x) => x.engine === 'ours' && x.precision === 'f32' && x.stage === 'decode-step'
      && x.extrapolated === r.extrapolated && x.shape.beams === r.shape.beams && x.layers.decoder === r.layers.decoder);
    if (!f) continue;
    r.speedupVsF32 = r3(f.medianMs / r.medianMs);
    if (f.cpuMs && r.cpuMs) r.speedupVsF32CpuTime = r3((f.cpuMs as number) / (r.cpuMs as number));
  }
}

/** Appends the derived records to `records` and fills the derived fields, in the order they are printed. */
export function derive(records: ModelRecord[], runs: TranscribeRun[], d: DeriveContext): void {
  addPeerRatios(records, false);
  const extrap = extrapolateAll(records, d);
  records.push(...extrap);
  addPeerRatios(records, true);
  records.push(...extrapolateTranscribe(extrap, runs, d));
  addInt8Speedups(records);
}
