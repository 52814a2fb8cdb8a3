/**
 * The peers: ONNX Runtime (WebGPU and CPU execution providers) on the same random weights, exported to ONNX by
 * weights-tools/export_onnx.py and timed in child processes by bench/peers/ort.ts, at the same depths as ours.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { GlmAsrConfig } from '../../src/models/glm-asr/config';
import { encoderFrames } from '../../src/models/glm-asr/encoder';
import type { LoadReport } from '../peers/meter';
import type { Depths } from './checkpoint';
import { PYTHON, runChild, TSX } from './child';
import type { TimingOptions } from './measure';
import { log, type Engine } from './options';
import { costs, rates, type ModelRecord, type Yardsticks } from './records';

/** The ONNX model of `part` at `layers` layers, exported from the checkpoint `model` when missing or stale. */
export async function onnxModel(model: string, onnxDir: string, part: 'encoder' | 'decoder', layers: number):
  Promise<string> {
  const name = `${part}-L${layers}`;
  const file = join(onnxDir, name, `${name}.onnx`);
  const check = file.replace(/\.onnx$/, '.check.json');
  // Re-export when missing or older than the checkpoint's weights (a re-generated checkpoint).
  const weights = ['model.safetensors', 'model.safetensors.index.json'].map((f) => join(model, f))
    .find((f) => existsSync(f));
  const stale = weights !== undefined && existsSync(check) && statSync(check).mtimeMs < statSync(weights).mtimeMs;
  if (!existsSync(file) || !existsSync(check) || stale) {
    log(`  exporting ${name} to ONNX (weights-tools/export_onnx.py) …`);
    await runChild(PYTHON, ['weights-tools/export_onnx.py', '--model', model, '--out', onnxDir, '--part', part,
      `--${part}-layers`, String(layers)], false);
  }
  return file;
}

interface OrtRecord {
  engine: Engine;
  adapter: string;
  medianMs: number;
  minMs: number;
  cpuMs?: number;
  cpuTimes?: number[];
  times: number[];
  iters: number;
  warmup: number;
  sessionMs: number;
  load: LoadReport;
  peakRssBytes: number;
  check?: { ok: boolean; outputs: unknown[] };
}

async function runOrt(t: TimingOptions, files: string[], ep: 'webgpu' | 'cpu', extra: string[]): Promise<OrtRecord[]> {
  const out = await runChild(TSX, ['bench/peers/ort.ts', '--onnx', files.join(','), '--ep', ep,
    '--iters', String(t.iters), '--warmup', String(t.warmup), '--min-time', String(t.minTime), ...extra], true);
  return out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as OrtRecord);
}

export interface PeerRun {
  engines: Engine[];
  timing: TimingOptions;
  /** The float checkpoint the ONNX models are exported from. */
  floatModel: string;
  onnxDir: string;
  cfg: GlmAsrConfig;
  use: Depths;
  /** Depths to time per part (the loaded depth, and 1 for the fit). */
  encoderDepths: number[] | undefined;
  decoderDepths: number[] | undefined;
  beams: number[];
  pos: number;
  yardsticks: Yardsticks;
}

/** Exports the ONNX models the peer stages will need (the exporter also writes the reference our encoder checks). */
export async function exportPeerModels(p: Pick<PeerRun, 'floatModel' | 'onnxDir' | 'encoderDepths' | 'decoderDepths'>):
  Promise<void> {
  for (const L of p.encoderDepths ?? []) await onnxModel(p.floatModel, p.onnxDir, 'encoder', L);
  for (const L of p.decoderDepths ?? []) await onnxModel(p.floatModel, p.onnxDir, 'decoder', L);
}

/** The encoder window and the decode step on each peer (f32), one record per depth (and beam count). */
export async function measurePeers(p: PeerRun): Promise<ModelRecord[]> {
  const records: ModelRecord[] = [];
  const cost = costs(p.cfg, 4);
  const timed = (o: OrtRecord) => ({
    adapter: o.adapter, medianMs: o.medianMs, minMs: o.minMs, cpuMs: o.cpuMs, times: o.times, cpuTimes: o.cpuTimes,
    iters: o.iters, warmup: o.warmup, peakRssBytes: o.peakRssBytes, load: o.load, check: o.check,
    sessionMs: o.sessionMs,
    note: o.check && !o.check.ok ? 'OUTPUT WRONG vs the PyTorch reference: timing not comparable' : undefined,
  });
  for (const engine of p.engines) {
    const ep = engine === 'ort-webgpu' ? 'webgpu' : 'cpu';
    const base = { engine, precision: 'f32', extrapolated: false };
    if (p.encoderDepths) {
      const Ls = p.encoderDepths;
      const files = [];
      for (const L of Ls) files.push(await onnxModel(p.floatModel, p.onnxDir, 'encoder', L));
      log(`${engine} encoder-window, ${Ls.join(' and ')} layer(s):`);
      const os = await runOrt(p.timing, files, ep, []);
      Ls.forEach((L, i) => {
        const c = cost.encoder(L);
        records.push({
          ...base, stage: 'encoder-window',
          shape: { windows: 1, frames: encoderFrames(p.cfg), melFrames: p.cfg.frontEnd.nFrames },
          layers: { encoder: L, decoder: p.use.decoder }, ...timed(os[i]),
          ...rates(p.yardsticks, c.flops, c.bytes, os[i].medianMs),
        });
      });
    }
    if (p.decoderDepths) {
      for (const B of p.beams) {
        const Ls = p.decoderDepths;
        const files = [];
        for (const L of Ls) files.push(await onnxModel(p.floatModel, p.onnxDir, 'decoder', L));
        log(`${engine} decode-step, beams ${B}, position ${p.pos}, ${Ls.join(' and ')} layer(s):`);
        const os = await runOrt(p.timing, files, ep, ['--beams', String(B), '--past', String(p.pos)]);
        Ls.forEach((L, i) => {
          const c = cost.step(L, B, p.pos);
          records.push({
            ...base, stage: 'decode-step', shape: { beams: B, pos: p.pos, search: 'step only (logits to the host)' },
            layers: { encoder: p.use.encoder, decoder: L }, ...timed(os[i]),
            ...rates(p.yardsticks, c.flops, c.bytes, os[i].medianMs), msPerToken: os[i].medianMs,
          });
        });
      }
    }
  }
  return records;
}
