/**
 * Matrix products with weights stored [N, K] (out, in — as checkpoints store them): `y = x · Wᵀ (+ b)`, plus the
 * strided / batched form used by attention (`C[i] = A[i] · B[i]ᵀ`). Activations and outputs are f32, weights f32
 * or f16 (IEEE halves, read as packed u32 pairs with `unpack2x16float`, so f16 weights work on every adapter,
 * with or without shader-f16), accumulation is f32. Any M, N, K.
 *
 * The kernel variant is chosen in one place, `chooseMatmulVariant` (adapter kind and M); `variant` overrides it
 * for tests and benchmarks. Variants (details and measurements: docs/kernels-matmul.md):
 *   gemm    column-lane kernel, 16 rows per workgroup  (CPU adapters, M > 8)       shaders/matmul.wgsl
 *   gemv    same kernel with 1/2/4/8 rows per workgroup (CPU adapters, M <= 8)     shaders/matmul.wgsl
 *   tiled   64x64 shared-memory tiles                  (GPUs, M > 8)               shaders/matmul-tiled.wgsl
 *   splitk  split-K dot products + workgroup tree sum  (GPUs, M <= 8)              shaders/matmul-splitk.wgsl
 *   naive / regblock  the benchmark baselines                                        shaders/matmul-baselines.wgsl
 *
 * @example
 * matmul(rec, x, l.q.w, l.q.b, q, { label: 'enc.l0.q' });                            // x [T,1280] → q [T,1280]
 * matmul(rec, x, l.k.w, undefined, qkv, { yCol: 1280, yRowStride: 3840, label: 'k' }); // into columns 1280..2559
 * matmul(rec, h, lmHead, undefined, logits, { label: 'lm_head' });                     // RowBlockedMatrix weights
 * batchedMatmul(rec, q, k, scores, { alpha: 1 / 8 });                                  // [H,T,64]×[H,S,64]ᵀ
 */
import { bindSpan, RowBlockedMatrix, Tensor, f32, type Gpu, type KernelSpec, type Recorder } from '../gpu';
import { bindOutputs, checkEpilogue, mainOutputColumns, type MatmulEpilogue } from './matmul-epilogue';

export type MatmulVariant = 'gemm' | 'gemv' | 'tiled' | 'splitk' | 'naive' | 'regblock';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['gemm', 'gemv', 'tiled', 'splitk', 'naive', 'regblock'];

/** How f16 weights are read: packed u32 pairs + unpack2x16float (default, any adapter) or vec4<f16> (shader-f16). */
export type F16Read = 'packed' | 'native';

export interface MatmulDispatchOptions {
  /** Kernel override (tests, benchmarks); default `chooseMatmulVariant`. */
  variant?: MatmulVariant;
  label?: string;
  /** How f16 weights are read (default 'packed'; 'native' needs shader-f16 and is for comparisons). */
  f16Read?: F16Read;
  /** Tuning knob of gemm/gemv: output rows per workgroup (1..16; default 16 for gemm, 1/2/4/8 ≥ M for gemv). */
  rowsPerWorkgroup?: number;
  /** Fused output handling (GELU, output segments, GLU); see matmul-epilogue.ts. */
  epilogue?: MatmulEpilogue;
  /** Global column of this dispatch's column 0 (the row block start of a RowBlockedMatrix; set by matmul). */
  col0?: number;
}

export interface MatmulOptions extends MatmulDispatchOptions {
  /** Write y's columns [yCol, yCol + N) of rows `yRowStride` elements apart (defaults 0 and N): fused outputs. */
  yCol?: number;
  yRowStride?: number;
  /** y = alpha · x·Wᵀ + b (default 1). */
  alpha?: number;
}

/**
 * The general strided, batched problem (all sizes, strides and offsets in elements of the tensor's dtype):
 * for i < batch, m < M, n < N:
 *   y[yOffset + i·batchStrideY + m·ldy + n] = alpha · Σ_k x[xOffset + i·batchStrideX + m·ldx + k]
 *                                                   · w[wOffset + ⌊i / wBatchDiv⌋·batchStrideW + n·ldw + k]
 *                                             + bias[biasOffset + n]   (when a bias is given)
 * `y` must be a different buffer from `x`, `w` and `bias` (WebGPU forbids writing a buffer that is also read in
 * the same dispatch).
 */
export interface MatmulProblem {
  x: Tensor;
  w: Tensor;
  y: Tensor;
  bias?: Tensor;
  M: number;
  N: number;
  K: number;
  batch?: number;
  ldx?: number;
  ldw?: number;
  ldy?: number;
  xOffset?: number;
  wOffset?: number;
  yOffset?: number;
  biasOffset?: number;
  batchStrideX?: number;
  batchStrideW?: number;
  batchStrideY?: number;
  /** Batch i reads weight batch ⌊i / wBatchDiv⌋ (grouped-query attention: query heads per KV head). */
  wBatchDiv?: number;
  alpha?: number;
}

/** True for software adapters (lavapipe/llvmpipe, SwiftShader), whose kernels are tuned differently. */

/**
 * THE variant choice (the only place): CPU adapters get the column-lane kernel (gemv for M ≤ 8, gemm above);
 * GPUs get split-K dot products for M ≤ 8 and shared-memory tiles above.
 */
export function chooseMatmulVariant(gpu: Gpu, M: number): MatmulVariant {
  const small = M <= GEMV_MAX_ROWS;
  if (gpu.caps.cpuAdapter) return small ? 'gemv' : 'gemm';
  return small ? 'splitk' : 'tiled';
}

/** Largest M handled by the matrix-vector paths (decode: one token, or one per beam). */
export const GEMV_MAX_ROWS = 8;

const SPLITK_ROWS = 4;
const TILE = 64;

interface Launch {
  kernel: KernelSpec;
  workgroups: [number, number, number];
}

/**
 * Lanes per workgroup of the column-lane kernel and whether it may use subgroupBroadcast: only when the
 * subgroup size is fixed (min == max; lavapipe 8, or 16 with 512-bit vectors; SwiftShader 4), because the kernel
 * makes one workgroup exactly one subgroup and broadcasts X values from lanes 0..7 (0..3 twice for size 4).
 */
export function columnLaneConfig(gpu: Gpu): { WG: number; subgroups: boolean } {
  const c = gpu.caps;
  const sg = c.subgroups && c.subgroupMinSize === c.subgroupMaxSize && c.subgroupMinSize >= 4 &&
    c.subgroupMinSize <= Math.min(64, c.maxInvocationsPerWorkgroup);
  return sg ? { WG: c.subgroupMinSize, subgroups: true } : { WG: 8, subgroups: false };
}

function rowsPerWorkgroup(variant: MatmulVariant, M: number, subgroups: boolean): number {
  // gemm: 16 rows with subgroups. Without, every row costs 8 loads per lane, and 4 rows measured fastest
  // (lavapipe, subgroups disabled, 1024³: 4 rows 5.3, 8 rows 4.8, 16 rows 3.4 GFLOP/s per 2 cores of CPU time)
  // and compile 3x / 8x faster than 8 / 16 rows.
  if (variant === 'gemm') return subgroups ? 16 : 4;
  // gemv: the smallest of 1, 2, 4, 8 that covers M (more rows than M would only add wasted work).
  return M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : 8;
}

/** Variants whose lanes own column pairs and so can fuse a GLU (see supportsGlu in matmul-int8.ts). */
export const GLU_VARIANTS: readonly MatmulVariant[] = ['gemm', 'gemv'];

function plan(gpu: Gpu, variant: MatmulVariant, p: FullProblem, vec: boolean, xvec: boolean, f16Read: F16Read,
  rows: number | undefined, gluRows: number | undefined): Launch {
  const wf16 = p.w.dtype === 'f16';
  const native = wf16 && f16Read === 'native';
  if (native && !gpu.caps.f16) throw new Error('matmul: f16Read "native" needs the shader-f16 feature');
  const io = { W_F16: wf16, W_F16_NATIVE: native && vec };
  const cdiv = (a: number, b: number) => Math.ceil(a / b);
  if (gluRows !== undefined && !GLU_VARIANTS.includes(variant)) {
    throw new Error(`matmul: variant "${variant}" cannot fuse a GLU`);
  }
  switch (variant) {
    case 'gemm':
    case 'gemv': {
      const { WG, subgroups } = columnLaneConfig(gpu);
      const TM = rows ?? rowsPerWorkgroup(variant, p.M, subgroups);
      if (!Number.isInteger(TM) || TM < 1 || TM > 16) {
        throw new RangeError(`matmul: rowsPerWorkgroup ${TM} is not in 1..16`);
      }
      return {
        kernel: {
          shader: 'matmul.wgsl',
          defines: { ...io, VEC: vec, XVEC: vec && xvec && !subgroups, SUBGROUPS: subgroups, SG4: WG === 4,
            GLU: gluRows !== undefined },
          constants: { WG, TM },
        },
        workgroups: [gluRows !== undefined ? cdiv(gluRows, WG) : cdiv(p.N, 2 * WG), cdiv(p.M, TM), p.batch],
      };
    }
    case 'tiled':
      return {
        kernel: { shader: 'matmul-tiled.wgsl', defines: { ...io, W_F16_NATIVE: false, VEC: false, XVEC: false } },
        workgroups: [cdiv(p.N, TILE), cdiv(p.M, TILE), p.batch],
      };
    case 'splitk': {
      const WG = Math.min(128, 2 ** Math.floor(Math.log2(gpu.caps.maxInvocationsPerWorkgroup)));
      return {
        kernel: { shader: 'matmul-splitk.wgsl', defines: { ...io, VEC: vec, XVEC: false }, constants: { WG } },
        workgroups: [cdiv(p.N, SPLITK_ROWS), p.M, p.batch],
      };
    }
    case 'naive':
      return {
        kernel: { shader: 'matmul-baselines.wgsl', entryPoint: 'naive',
          defines: { ...io, W_F16_NATIVE: false, VEC: false, XVEC: false, APPENDIX: false } },
        workgroups: [cdiv(p.N, 16), cdiv(p.M, 16), p.batch],
      };
    case 'regblock':
      return {
        kernel: { shader: 'matmul-baselines.wgsl', entryPoint: 'regblock',
          defines: { ...io, W_F16_NATIVE: false, VEC: false, XVEC: false, APPENDIX: false } },
        workgroups: [cdiv(p.N, TILE), cdiv(p.M, TILE), p.batch],
      };
    default:
      throw new Error(`matmul: unknown variant "${variant as string}"`);
  }
}

const isU32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** Records the strided / batched product described by `p` (see MatmulProblem). */
export function matmulStrided(rec: Recorder, p: MatmulProblem, opts: MatmulDispatchOptions = {}): void {
  const label = opts.label ?? 'matmul';
  const batch = p.batch ?? 1;
  const q = {
    ...p,
    batch,
    ldx: p.ldx ?? p.K,
    ldw: p.ldw ?? p.K,
    ldy: p.ldy ?? p.N,
    xOffset: p.xOffset ?? 0,
    wOffset: p.wOffset ?? 0,
    yOffset: p.yOffset ?? 0,
    biasOffset: p.biasOffset ?? 0,
    wBatchDiv: p.wBatchDiv ?? 1,
    alpha: p.alpha ?? 1,
  };
  const full = {
    ...q,
    batchStrideX: p.batchStrideX ?? q.M * q.ldx,
    batchStrideW: p.batchStrideW ?? q.N * q.ldw,
    batchStrideY: p.batchStrideY ?? q.M * q.ldy,
  };
  const ep = opts.epilogue ?? {};
  if (opts.col0 === undefined) checkEpilogue(label, full.y, full.M, full.N, ep); // else matmul checked it
  validate(label, full, mainOutputColumns(full.N, ep, opts.col0));
  if (full.M === 0 || full.N === 0 || batch === 0) return;

  const gpu = rec.gpu;
  const variant = opts.variant ?? chooseMatmulVariant(gpu, full.M);
  // Whole tensors, bound from the aligned offset at or below their start (offsets index from there).
  const bind = (t: Tensor) => { const s = bindSpan(rec, t, 0, t.numel); return { binding: s.binding, elem: s.base }; };
  const xb = bind(full.x);
  const wb = bind(full.w);
  const out = bindOutputs(rec, full.y, ep);
  const bb = full.bias ? bind(full.bias) : undefined;
  const wOff = wb.elem + full.wOffset;
  // Vector weight loads need every W row start 8-element aligned (a vec4 of f32 is 4 elements; a vec4<u32> of
  // halves is 8) and whole 8-blocks of K. Otherwise the scalar path reads element by element.
  const align = full.w.dtype === 'f16' ? 8 : 4;
  const vec = full.K % 8 === 0 && full.ldw % align === 0 && wOff % align === 0 &&
    (batch === 1 || full.batchStrideW % align === 0);
  // The kernels without subgroups can also read X as vec4s when its rows are 4-element aligned.
  const xOff = xb.elem + full.xOffset;
  const xvec = full.ldx % 4 === 0 && xOff % 4 === 0 && (batch === 1 || full.batchStrideX % 4 === 0);
  const launch = plan(gpu, variant, full, vec, xvec, opts.f16Read ?? 'packed', opts.rowsPerWorkgroup, ep.gluRows);
  const params = [
    full.M, full.N, full.K, full.ldx,
    full.ldw, full.ldy, out.yBase + full.yOffset, (bb?.elem ?? 0) + full.biasOffset,
    xOff, wOff, full.batchStrideX, full.batchStrideW,
    full.batchStrideY, full.wBatchDiv, f32(full.alpha), bb ? 1 : 0,
    ...out.params(opts.col0 ?? 0),
  ];
  // Without a bias, binding 4 repeats x (read-only twice is allowed); the kernel does not read it.
  const bindings = [xb.binding, wb.binding, out.binding, bb?.binding ?? xb.binding];
  rec.dispatch(launch.kernel, `${label} [${variant}]`, bindings, params, launch.workgroups);
}

type FullProblem = Required<Omit<MatmulProblem, 'bias'>> & { bias?: Tensor };

/** yCols: the columns the main output y receives (fewer than N with output segments or a GLU). */
function validate(label: string, p: FullProblem, yCols: number): void {
  const fail = (msg: string): never => {
    throw new RangeError(`${label}: ${msg}`);
  };
  for (const [name, v] of Object.entries({ M: p.M, N: p.N, K: p.K, batch: p.batch, ldx: p.ldx, ldw: p.ldw, ldy: p.ldy,
    xOffset: p.xOffset, wOffset: p.wOffset, yOffset: p.yOffset, biasOffset: p.biasOffset, batchStrideX: p.batchStrideX,
    batchStrideW: p.batchStrideW, batchStrideY: p.batchStrideY })) {
    if (!isU32(v)) fail(`${name} = ${v} is not a non-negative integer`);
  }
  if (p.K < 1) fail('K must be at least 1');
  if (!Number.isInteger(p.wBatchDiv) || p.wBatchDiv < 1) fail(`wBatchDiv = ${p.wBatchDiv} must be a positive integer`);
  if (p.x.dtype !== 'f32') fail(`x "${p.x.label}" is ${p.x.dtype}, expected f32`);
  if (p.y.dtype !== 'f32') fail(`y "${p.y.label}" is ${p.y.dtype}, expected f32`);
  if (p.w.dtype !== 'f32' && p.w.dtype !== 'f16') fail(`w "${p.w.label}" is ${p.w.dtype}, expected f32 or f16`);
  if (p.bias && p.bias.dtype !== 'f32') fail(`bias "${p.bias.label}" is ${p.bias.dtype}, expected f32`);
  if (p.y.buffer === p.x.buffer || p.y.buffer === p.w.buffer || (p.bias && p.y.buffer === p.bias.buffer)) {
    fail(`y "${p.y.label}" shares a buffer with an input; WebGPU cannot read and write one buffer in a dispatch`);
  }
  if (p.M === 0 || p.N === 0 || p.batch === 0) return;
  if (p.ldx < p.K) fail(`ldx ${p.ldx} < K ${p.K}`);
  if (p.ldw < p.K) fail(`ldw ${p.ldw} < K ${p.K}`);
  if (p.ldy < yCols) fail(`ldy ${p.ldy} < ${yCols} output columns`);
  const last = (off: number, stride: number, n: number, ld: number, rows: number, cols: number) =>
    off + (n - 1) * stride + (rows - 1) * ld + cols;
  const wBatches = Math.floor((p.batch - 1) / p.wBatchDiv) + 1;
  const need: [Tensor, number, string][] = [
    [p.x, last(p.xOffset, p.batchStrideX, p.batch, p.ldx, p.M, p.K), 'x'],
    [p.w, last(p.wOffset, p.batchStrideW, wBatches, p.ldw, p.N, p.K), 'w'],
  ];
  if (yCols > 0) need.push([p.y, last(p.yOffset, p.batchStrideY, p.batch, p.ldy, p.M, yCols), 'y']);
  if (p.bias) need.push([p.bias, p.biasOffset + p.N, 'bias']);
  for (const [t, n, name] of need) {
    if (n > t.numel) fail(`${name} "${t.label}" [${t.shape}] has ${t.numel} elements, the product needs ${n}`);
  }
}

/**
 * y[M, yCol : yCol + N] = x[M, K] · Wᵀ (+ bias [N]), W [N, K] as a Tensor or a RowBlockedMatrix (each row block
 * is one dispatch writing its slice of y's columns). x may have any leading shape; M = x.numel / K.
 */
export function matmul(rec: Recorder, x: Tensor, w: Tensor | RowBlockedMatrix, bias: Tensor | undefined, y: Tensor,
  opts: MatmulOptions = {}): void {
  const label = opts.label ?? 'matmul';
  const [N, K] = w instanceof RowBlockedMatrix ? [w.rows, w.cols] : weightShape(label, w);
  if (x.numel % K !== 0) {
    throw new RangeError(`${label}: x "${x.label}" [${x.shape}] is not a whole number of rows of K=${K}`);
  }
  const M = x.numel / K;
  const yCol = opts.yCol ?? 0;
  const ldy = opts.yRowStride ?? mainOutputColumns(N, opts.epilogue);
  checkEpilogue(label, y, M, N, opts.epilogue);
  const yCols = mainOutputColumns(N, opts.epilogue);
  if (yCol + yCols > ldy) {
    throw new RangeError(`${label}: columns ${yCol}..${yCol + yCols} exceed the y row stride ${ldy}`);
  }
  if (bias && bias.numel < N) {
    throw new RangeError(`${label}: bias "${bias.label}" has ${bias.numel} elements, N = ${N}`);
  }
  if (opts.epilogue?.gluRows !== undefined && w instanceof RowBlockedMatrix && w.blocks.length > 1) {
    throw new RangeError(`${label}: a fused GLU needs [gate; up] in one binding; "${w.blocks[0].tensor.label}" is ` +
      `split into ${w.blocks.length} blocks`);
  }
  const d: MatmulDispatchOptions = { ...opts, variant: opts.variant ?? chooseMatmulVariant(rec.gpu, M), label };
  const blocks = w instanceof RowBlockedMatrix ? w.blocks : [{ tensor: w, row0: 0, rows: N }];
  for (const blk of blocks) {
    matmulStrided(rec, {
      x, w: blk.tensor, y, bias, M, N: blk.rows, K, ldy, yOffset: yCol + blk.row0, biasOffset: blk.row0,
      alpha: opts.alpha,
    }, { ...d, col0: blk.row0, label: blocks.length > 1 ? `${label}[${blk.row0}:${blk.row0 + blk.rows}]` : label });
  }
}

function weightShape(label: string, w: Tensor): [number, number] {
  if (w.shape.length !== 2) throw new RangeError(`${label}: weight "${w.label}" must be [N, K], got [${w.shape}]`);
  return [w.shape[0], w.shape[1]];
}

export interface BatchedMatmulOptions extends MatmulDispatchOptions {
  /** C = alpha · A·Bᵀ (e.g. 1/√d for attention scores). */
  alpha?: number;
}

/**
 * C[i] = alpha · A[i] · B[⌊i / (batch / batchB)⌋]ᵀ for A [batch, M, K], B [batchB, N, K], C [batch, M, N], where
 * batchB divides batch (batchB < batch shares B across consecutive batches: grouped-query attention).
 * For strided operands (heads inside a fused QKV row), use matmulStrided.
 */
export function batchedMatmul(rec: Recorder, a: Tensor, b: Tensor, c: Tensor, opts: BatchedMatmulOptions = {}): void {
  const label = opts.label ?? 'batched_matmul';
  if (a.shape.length !== 3 || b.shape.length !== 3 || c.shape.length !== 3) {
    throw new RangeError(`${label}: expected A [B,M,K], B [B',N,K], C [B,M,N]; got [${a.shape}], ` +
      `[${b.shape}], [${c.shape}]`);
  }
  const [batch, M, K] = a.shape;
  const [batchB, N, Kb] = b.shape;
  if (Kb !== K) throw new RangeError(`${label}: K mismatch: A has ${K}, B has ${Kb}`);
  if (batchB < 1 || batch % batchB !== 0) {
    throw new RangeError(`${label}: B's batch ${batchB} does not divide A's batch ${batch}`);
  }
  if (c.shape[0] !== batch || c.shape[1] !== M || c.shape[2] !== N) {
    throw new RangeError(`${label}: C is [${c.shape}], expected [${batch},${M},${N}]`);
  }
  matmulStrided(rec, { x: a, w: b, y: c, M, N, K, batch, wBatchDiv: batch / batchB,
    alpha: opts.alpha }, { ...opts, label });
}
