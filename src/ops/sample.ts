/**
 * Token selection on the GPU so only ids (and scores) are read back: argmax, top-k, and the beam-search step
 * (top-k over beamScore[b] + log_softmax(logits[b])[v] across all beams at once).
 * Two stages: per (row, chunk) workgroups find each chunk's top k (and, for log-softmax, its max/Σexp), then
 * one workgroup per row — or one for all rows when flattened — merges them. Results are sorted descending with
 * ties broken by the lowest index (torch.argmax / torch.topk order). NaN logits are not supported; −inf is fine.
 *
 * @example
 * argmax(rec, logits, nextIds);                                          // greedy: u32 [rows]
 * beamCandidates(rec, logits, beamScores, candIdx, candScore, { k: 2 * B }); // candIdx = b·vocab + v, sorted
 */
import { Recorder, Tensor, type Gpu, type KernelSpec, bindSpan, maxBinding } from '../gpu';

export interface TopKOptions {
  /** Candidates to keep per row (or in all, flattened). */
  k: number;
  /** Score = log_softmax(logits[r])[v] instead of the raw logit. */
  logSoftmax?: boolean;
  /** f32 [rows]: added to every score of its row (beam scores). */
  rowBias?: Tensor;
  /** One top-k over all rows×vocab scores; indices become r·vocab + v. At most 64 rows. */
  flatten?: boolean;
  /** Row length; default the last axis of logits. */
  vocab?: number;
  label?: string;
  /** Force the reduction flavour (tests); default: subgroups when the device has them. */
  subgroups?: boolean;
  /** Force the invocations per workgroup (a power of two in [32, 256]; tuning and tests). */
  workgroupSize?: number;
}

/** Largest k the kernels are meant for (cost grows linearly with k; any k ≤ vocab is correct). */
export const MAX_TOPK = 64;
const MAX_FLAT_ROWS = 64; // must match `shift` in sample.wgsl

/** Elements per stage-1 workgroup: ≥ 2048 and ≤ ~32 chunks per row. */
export function sampleChunk(vocab: number): number {
  return Math.max(2048, Math.ceil(Math.ceil(vocab / 32) / 256) * 256);
}

/**
 * Invocations per workgroup: 32 on CPU adapters (each selection round ends in a barrier, which costs a fiber
 * switch per invocation there), 256 on GPUs.
 */
export function sampleWorkgroupSize(cpuAdapter: boolean): number {
  return cpuAdapter ? 32 : 256;
}

/** The kernel variants: chosen here and only here. */
export function sampleKernels(rec: Recorder, lse: boolean, bias: boolean, subgroups?: boolean,
  workgroupSize?: number): { partial: KernelSpec; final: KernelSpec } {
  const sg = subgroups ?? rec.gpu.caps.subgroups;
  const WG = workgroupSize ?? sampleWorkgroupSize(rec.gpu.caps.cpuAdapter);
  return {
    partial: { shader: 'sample.wgsl', entryPoint: 'topk_partial',
      defines: { FINAL: false, LSE: lse, BIAS: false, SUBGROUPS: sg }, constants: { WG } },
    final: { shader: 'sample.wgsl', entryPoint: 'topk_final',
      defines: { FINAL: true, LSE: lse, BIAS: bias, SUBGROUPS: sg }, constants: { WG } },
  };
}

/** Scratch buffers kept per device (grown on demand, never shrunk) so steady-state steps allocate nothing. */
const scratch = new WeakMap<object, Map<string, Tensor>>();
function scratchTensor(gpu: Gpu, name: string, elems: number, dtype: 'u32' | 'f32'): Tensor {
  let m = scratch.get(gpu);
  if (!m) scratch.set(gpu, (m = new Map()));
  let t = m.get(name);
  if (!t || t.numel < elems) {
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(elems)));
    const buf = gpu.pool.create(`sample.${name}`, size * 4,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    t = new Tensor(buf, [size], dtype);
    m.set(name, t);
  }
  return t;
}

/**
 * Top k of each row (or of all rows, flattened), sorted descending: outIdx u32 and outVal f32, each
 * [rows, k] (flattened: [k]). Slots beyond the available elements hold index 0xffffffff and −inf.
 */
export function topK(rec: Recorder, logits: Tensor, outIdx: Tensor, outVal: Tensor, o: TopKOptions): void {
  const k = o.k;
  const vocab = o.vocab ?? logits.shape[logits.shape.length - 1];
  if (logits.dtype !== 'f32') throw new TypeError(`topK: logits "${logits.label}" is ${logits.dtype}, expected f32`);
  if (!(vocab >= 1) || logits.numel % vocab) {
    throw new RangeError(`topK: "${logits.label}" (${logits.numel} elements) is not rows of ${vocab}`);
  }
  const rows = logits.numel / vocab;
  const flat = !!o.flatten && rows > 1;
  const groups = flat ? 1 : rows;
  if (!Number.isInteger(k) || k < 1 || k > (flat ? rows * vocab : vocab)) {
    throw new RangeError(`topK: k = ${k} must be in [1, ${flat ? rows * vocab : vocab}]`);
  }
  if (flat && rows > MAX_FLAT_ROWS) {
    throw new RangeError(`topK: flattened top-k supports at most ${MAX_FLAT_ROWS} rows, got ${rows}`);
  }
  if (rows * vocab >= 2 ** 32 - 1) throw new RangeError('topK: rows × vocab must fit u32 indices');
  if (outIdx.dtype !== 'u32' || outIdx.numel < groups * k) {
    throw new RangeError(`topK: outIdx "${outIdx.label}" must be u32 with ≥ ${groups * k} elements`);
  }
  if (outVal.dtype !== 'f32' || outVal.numel < groups * k) {
    throw new RangeError(`topK: outVal "${outVal.label}" must be f32 with ≥ ${groups * k} elements`);
  }
  if (o.rowBias && (o.rowBias.dtype !== 'f32' || o.rowBias.numel < rows)) {
    throw new RangeError(`topK: rowBias "${o.rowBias.label}" must be f32 with ≥ ${rows} elements`);
  }
  if (rows > rec.gpu.caps.maxWorkgroupsPerDimension) {
    throw new RangeError(`topK: ${rows} rows exceed one dispatch dimension`);
  }

  const chunk = sampleChunk(vocab);
  const chunks = Math.ceil(vocab / chunk);
  const lse = !!o.logSoftmax;
  const kernels = sampleKernels(rec, lse, !!o.rowBias, o.subgroups, o.workgroupSize);
  const maxBytes = maxBinding(rec);
  const cand = scratchTensor(rec.gpu, 'cand', rows * chunks * k * 2, 'u32');
  const stats = lse ? scratchTensor(rec.gpu, 'stats', rows * chunks * 2, 'f32') : undefined;
  const sx = bindSpan(rec, logits, 0, rows * vocab, 4, maxBytes);
  const sc = bindSpan(rec, cand, 0, rows * chunks * k * 2, 4, maxBytes);
  const ss = stats && bindSpan(rec, stats, 0, rows * chunks * 2, 4, maxBytes);
  const sb = o.rowBias && bindSpan(rec, o.rowBias, 0, rows, 4, maxBytes);
  const si = bindSpan(rec, outIdx, 0, groups * k, 4, maxBytes);
  const sv = bindSpan(rec, outVal, 0, groups * k, 4, maxBytes);
  const groupRows = flat ? rows : 1;
  const params = (xBase: number) => [rows, vocab, chunk, chunks, k, xBase, groupRows, sb?.base ?? 0,
    si.base, sv.base, 0xff800000];
  const label = o.label ?? (k === 1 && !lse ? 'argmax' : `top${k}`);

  rec.dispatch(kernels.partial, `${label}.partial`, ss ? [sx.binding, sc.binding, ss.binding] :
    [sx.binding, sc.binding], params(sx.base), [chunks, rows]);
  const finalBindings = [sc.binding];
  if (ss) finalBindings.push(ss.binding);
  if (sb) finalBindings.push(sb.binding);
  finalBindings.push(si.binding, sv.binding);
  rec.dispatch(kernels.final, `${label}.final`, finalBindings, params(0), [groups]);
}

export interface ArgmaxOptions extends Pick<TopKOptions, 'vocab' | 'label' | 'subgroups' | 'workgroupSize'> {
  /** f32 [rows]: receives the maximum of each row. */
  outVal?: Tensor;
}

/** out[r] = argmax over row r (lowest index on ties); optionally the max values too. */
export function argmax(rec: Recorder, logits: Tensor, out: Tensor, o: ArgmaxOptions = {}): void {
  const vocab = o.vocab ?? logits.shape[logits.shape.length - 1];
  const rows = logits.numel / vocab;
  const outVal = o.outVal ?? scratchTensor(rec.gpu, 'argmax.values', rows, 'f32');
  topK(rec, logits, out, outVal, { k: 1, vocab, label: o.label, subgroups: o.subgroups,
    workgroupSize: o.workgroupSize });
}

export interface BeamCandidatesOptions {
  /** Candidates to keep over all rows. */
  k: number;
  vocab?: number;
  label?: string;
}

/**
 * The beam-search step: the k best (beam, token) continuations over all B rows,
 * score = beamScores[b] + log_softmax(logits[b])[v], sorted descending; outIdx = b·vocab + v.
 * Without beamScores (the first step) the score is the log-probability alone.
 */
export function beamCandidates(rec: Recorder, logits: Tensor, beamScores: Tensor | undefined,
  outIdx: Tensor, outVal: Tensor,
  o: BeamCandidatesOptions): void {
  topK(rec, logits, outIdx, outVal, { k: o.k, logSoftmax: true, rowBias: beamScores, flatten: true, vocab: o.vocab,
    label: o.label ?? 'beam' });
}

/** One beam continuation, as the searches in src/generate consume it. */
export interface BeamCandidate {
  row: number;
  token: number;
  /** f32(rowScores[row] + log_softmax_f32(logits[row])[token]) */
  score: number;
}

/**
 * Convenience for the search loop: uploads `rowScores`, runs `beamCandidates` over logits rows
 * 0..rowScores.length-1 and reads back the k candidates (k pairs of 8 bytes), sorted by score descending,
 * ties by lower row then lower token. Submits its own command buffer.
 */
export async function topKLogSoftmax(gpu: Gpu, logits: Tensor, rowScores: Float32Array,
  o: Omit<BeamCandidatesOptions, 'label'>): Promise<BeamCandidate[]> {
  const { k, vocab = logits.shape[logits.shape.length - 1] } = o;
  const rows = rowScores.length;
  if (logits.numel < rows * vocab) {
    throw new RangeError(`topKLogSoftmax: "${logits.label}" has fewer than ${rows} rows of ${vocab}`);
  }
  const scores = scratchTensor(gpu, 'beam.scores', rows, 'f32');
  const idx = scratchTensor(gpu, 'beam.idx', k, 'u32');
  const val = scratchTensor(gpu, 'beam.val', k, 'f32');
  gpu.write(scores, rowScores);
  const rec = new Recorder(gpu, 'beam.topk');
  const view = new Tensor(logits.buffer, [rows, vocab], 'f32', logits.byteOffset);
  beamCandidates(rec, view, scores, idx, val, { k, vocab });
  rec.submit();
  // Both copies are queued now: a concurrent search's topK (same scratch) cannot overwrite val before it is read.
  const [i, v] = await Promise.all([gpu.readU32(idx, k), gpu.readF32(val, k)]);
  return Array.from(i, (flat, j) => ({ row: Math.floor(flat / vocab), token: flat % vocab, score: v[j] }));
}
