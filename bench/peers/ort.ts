/**
 * ONNX Runtime peer runner: times models exported by weights-tools/export_onnx.py on one execution provider, in
 * its own process (ORT's WebGPU EP links its own Dawn; keeping it out of our process avoids two WebGPU stacks and
 * two copies of the weights in one address space). bench/model.ts spawns it; it can also be run by hand:
 *
 *   bash scripts/with-gpu-env.sh tsx bench/peers/ort.ts --onnx A.onnx[,B.onnx] --ep webgpu|cpu \
 *       [--beams 1 --past 451] [--iters 3] [--warmup 1] [--min-time 5] [--no-check]
 *
 * Several models (e.g. the depths of a fit) get one session each and are timed round-robin, so a change in
 * machine load hits them alike: --warmup untimed rounds, then max(--iters, enough rounds to fill --min-time
 * seconds, at most 30) timed rounds.
 *
 * Prints one JSON line per model on stdout (progress on stderr):
 *   {engine: 'ort-webgpu'|'ort-cpu', onnx, kind: 'encoder'|'decoder', layers, beams?, past?, adapter, sessionMs,
 *    medianMs, minMs, cpuMs (median CPU time of this process per run, its threads included), times[], iters,
 *    warmup, load: LoadReport, peakRssBytes, check: {ok, outputs: [{name, relL2, maxAbs}]}}
 *
 * Method (shared/spec/onnxruntime-webgpu-peer.md): outputs are CPU tensors, so `run()` only resolves after the
 * GPU work and the readback are done (gpu-buffer outputs would resolve early); inputs are CPU tensors, so every
 * decode step also uploads the past KV (B × kv × P × hd × 4 bytes per layer and K/V; small next to the weights).
 * Before timing, the check input written by the exporter is run and every output compared with the PyTorch
 * reference (rel-L2 ≤ 1e-4 passes): ORT's WebGPU Softmax over 128 MiB is silently wrong on lavapipe, so a timing
 * is only reported as valid when its model's outputs are right.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { LoadMeter, median, peakRssBytes } from './meter';
import { seededUniform } from '../lib';

const { values } = parseArgs({
  options: {
    onnx: { type: 'string' },
    ep: { type: 'string', default: 'webgpu' },
    beams: { type: 'string', default: '1' },
    past: { type: 'string', default: '400' },
    iters: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'min-time': { type: 'string', default: '5' },
    'no-check': { type: 'boolean', default: false },
  },
});
const log = (s: string) => process.stderr.write(`[ort ${values.ep}] ${s}\n`);

interface CheckEntry { name: string; dtype: 'float32' | 'int64'; shape: number[]; file: string }
interface CheckDoc { model: string; inputs: CheckEntry[]; outputs: CheckEntry[]; layers: number }

function readEntry(dir: string, e: CheckEntry): ort.Tensor {
  const buf = readFileSync(join(dir, e.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return e.dtype === 'int64' ? new ort.Tensor('int64', new BigInt64Array(ab), e.shape) :
    new ort.Tensor('float32', new Float32Array(ab), e.shape);
}


/** Which Vulkan driver the process has mapped (pitfall 2: make sure it is the intended one). */
function vulkanDrivers(): string[] {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const libs = new Set<string>();
    const driver = /\s(\/\S*(?:libvulkan_\w+|libvk_swiftshader|nvidia-vulkan|libGLX_nvidia|amdvlk\w*)\S*\.so[.\d]*)$/gm;
    for (const m of maps.matchAll(driver)) libs.add(basename(m[1]));
    return [...libs];
  } catch {
    return [];
  }
}

interface Model {
  onnx: string;
  kind: 'encoder' | 'decoder';
  doc: CheckDoc;
  session: ort.InferenceSession;
  sessionMs: number;
  feeds: Record<string, ort.Tensor>;
  check?: { ok: boolean; outputs: { name: string; relL2: number; maxAbs: number }[] };
  times: number[];
  cpu: number[];
}

async function open(onnx: string, ep: 'webgpu' | 'cpu', beams: number, past: number): Promise<Model> {
  const dir = dirname(onnx);
  const doc = JSON.parse(readFileSync(onnx.replace(/\.onnx$/, '.check.json'), 'utf8')) as CheckDoc;
  const kind = basename(onnx).startsWith('encoder') ? 'encoder' : 'decoder';
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(onnx, { executionProviders: [ep], logSeverityLevel: 3 });
  const sessionMs = performance.now() - t0;
  log(`${basename(onnx)}: session ${sessionMs.toFixed(0)} ms`);

  // 1. Correctness on the exporter's check input.
  let check: Model['check'];
  if (!values['no-check']) {
    const feeds: Record<string, ort.Tensor> = {};
    for (const e of doc.inputs) feeds[e.name] = readEntry(dir, e);
    const out = await session.run(feeds);
    const outputs = doc.outputs.map((e) => {
      const want = readEntry(dir, e).data as Float32Array;
      const got = out[e.name].data as Float32Array;
      let num = 0, den = 0, maxAbs = 0;
      for (let i = 0; i < want.length; i++) {
        const d = got[i] - want[i];
        num += d * d;
        den += want[i] * want[i];
        maxAbs = Math.max(maxAbs, Math.abs(d));
      }
      const relL2 = got.length === want.length ? Math.sqrt(num / Math.max(den, 1e-30)) : Infinity;
      return { name: e.name, relL2: Number(relL2.toPrecision(3)), maxAbs: Number(maxAbs.toPrecision(3)) };
    });
    const ok = outputs.every((o) => o.relL2 <= 1e-4);
    check = { ok, outputs: outputs.length > 5 ? [outputs[0], ...outputs.filter((o) => o.relL2 > 1e-4)] : outputs };
    log(`${basename(onnx)}: check vs PyTorch reference: ${ok ? 'OK' : 'WRONG'} ` +
      `(${outputs.map((o) => `${o.name} ${o.relL2}`).slice(0, 3).join(', ')}${outputs.length > 3 ? ', …' : ''})`);
  }

  // 2. Timing feeds.
  const feeds: Record<string, ort.Tensor> = {};
  if (kind === 'encoder') {
    feeds.mel = readEntry(dir, doc.inputs[0]);
  } else {
    const pastIn = doc.inputs.filter((e) => e.name.startsWith('past_'));
    const [, kv, , hd] = pastIn[0].shape;
    feeds.ids = new ort.Tensor('int64', BigInt64Array.from({ length: beams },
      (_, i) => BigInt(100 + 37 * i)), [beams, 1]);
    feeds.pos = new ort.Tensor('int64', BigInt64Array.from([BigInt(past)]), [1]);
    pastIn.forEach((e, i) => {
      const values = seededUniform(beams * kv * past * hd, 1 + i, 0.5);
      feeds[e.name] = new ort.Tensor('float32', values, [beams, kv, past, hd]);
    });
  }
  return { onnx, kind, doc, session, sessionMs, feeds, check, times: [], cpu: [] };
}

async function main() {
  if (!values.onnx) throw new Error('--onnx PATH[,PATH] is required');
  const ep = values.ep as 'webgpu' | 'cpu';
  if (ep !== 'webgpu' && ep !== 'cpu') throw new Error(`--ep must be webgpu or cpu, got ${ep}`);
  const iters = Number(values.iters);
  const warmup = Number(values.warmup);
  const minTime = Number(values['min-time']);
  const beams = Number(values.beams);
  const past = Number(values.past);
  ort.env.logLevel = 'error';
  const models: Model[] = [];
  for (const onnx of values.onnx.split(',')) models.push(await open(onnx, ep, beams, past));
  const adapter = ep === 'webgpu'
    ? `ORT WebGPU EP (Dawn, Vulkan: ${vulkanDrivers().join(', ') || 'driver not identified'})`
    : `ORT CPU EP (${cpus().length} threads)`;
  log(`adapter: ${adapter}`);

  let round = 0;
  for (let i = 0; i < warmup; i++) {
    const r0 = performance.now();
    for (const m of models) {
      const w0 = performance.now();
      await m.session.run(m.feeds);
      log(`${basename(m.onnx)} warm-up ${i + 1}/${warmup}: ${(performance.now() - w0).toFixed(0)} ms`);
    }
    round = performance.now() - r0;
  }
  const meter = LoadMeter.start();
  let n = iters;
  for (let i = 0; i < n; i++) {
    const r0 = performance.now();
    for (const m of models) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await m.session.run(m.feeds);
      m.times.push(performance.now() - t0);
      const dc = process.cpuUsage(c0);
      m.cpu.push((dc.user + dc.system) / 1000);
    }
    if (i === 0) {
      round = Math.min(round || Infinity, performance.now() - r0);
      n = Math.max(iters, Math.min(30, Math.ceil((minTime * 1000) / round)));
    }
    log(`round ${i + 1}/${n}: ${models.map((m) => `${basename(m.onnx)} ${m.times[i].toFixed(0)} ms`).join(', ')}`);
  }
  const load = meter.stop();
  for (const m of models) {
    await m.session.release();
    const record = {
      engine: ep === 'webgpu' ? 'ort-webgpu' : 'ort-cpu', onnx: m.onnx, kind: m.kind, layers: m.doc.layers,
      ...(m.kind === 'decoder' ? { beams, past } : {}),
      adapter, sessionMs: Math.round(m.sessionMs), medianMs: Number(median(m.times).toFixed(2)),
      minMs: Number(Math.min(...m.times).toFixed(2)),
      cpuMs: Number(median(m.cpu).toFixed(2)), cpuTimes: m.cpu.map((t) => Number(t.toFixed(1))),
      times: m.times.map((t) => Number(t.toFixed(1))), iters: m.times.length, warmup, load,
      peakRssBytes: peakRssBytes(), check: m.check,
    };
    process.stdout.write(`${JSON.stringify(record)}\n`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
