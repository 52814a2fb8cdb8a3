/**
 * Rotary position embedding, in place on q/k laid out [tokens, heads, headDim] (rows may be strided, e.g. inside
 * a fused QKV buffer). Half-split (rotate_half) on the first `rotaryDim` dims of each head; the rest pass
 * through. Angles follow PyTorch's f32 arithmetic: inv_freq = 1 / theta^(2i/rotaryDim) rounded to f32 on the
 * host, angle = f32(pos) · inv_freq[i] in f32 on the GPU, then an accurate f32 sin/cos of that angle.
 *
 * @example
 * // encoder: 20 heads × 64, rotary on 32 dims, windows of 1500 frames each restart at position 0
 * rope(rec, q, { heads: 20, headDim: 64, rotaryDim: 32, positionModulo: 1500 });
 * // decoder step on a fused QKV row [tokens, 3072]: q (16 heads) and k (4 heads) are adjacent → one dispatch
 * rope(rec, qkv, { heads: 20, headDim: 128, tokenStride: 3072, positionOffset: 57 });
 */
import { grid, type KernelSpec, type Recorder, type Tensor, bindSpan, forChunks, maxBinding,
  unitsPerBinding } from '../gpu';

export interface RopeOptions {
  heads: number;
  headDim: number;
  /** Rotated dims per head (even, ≤ headDim); default headDim. */
  rotaryDim?: number;
  /** RoPE base; default 10000. */
  theta?: number;
  /** Elements between consecutive tokens; default heads·headDim. */
  tokenStride?: number;
  /** Element of head 0 of token 0 inside x (e.g. where k starts in a fused QKV row); default 0. */
  offset?: number;
  /** Tokens to process; default: as many whole token rows as x holds. */
  tokens?: number;
  /** Position of token t = positionOffset + (positionModulo ? t % positionModulo : t). */
  positionOffset?: number;
  positionModulo?: number;
  /** Explicit positions (u32 [tokens]); overrides positionOffset/positionModulo. */
  positions?: Tensor;
  /** Pairs (2i, 2i+1) instead of (i, i + rotaryDim/2): only for the pre-2025-12 GLM-ASR checkpoint layout. */
  interleaved?: boolean;
  label?: string;
  maxBindingBytes?: number;
}

/**
 * inv_freq[i] = 1 / theta^(2i/dim) with every step rounded to f32, as torch computes it:
 * `1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))`.
 */
export function ropeInvFreq(rotaryDim: number, theta = 10000): Float32Array<ArrayBuffer> {
  const out = new Float32Array(rotaryDim / 2);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / rotaryDim)));
  return out;
}

const invFreqCache = new WeakMap<object, Map<string, Tensor>>();

function invFreqTensor(rec: Recorder, rotaryDim: number, theta: number): Tensor {
  let perGpu = invFreqCache.get(rec.gpu);
  if (!perGpu) invFreqCache.set(rec.gpu, (perGpu = new Map()));
  const key = `${rotaryDim}:${theta}`;
  let t = perGpu.get(key);
  if (!t) {
    t = rec.gpu.upload(`rope.inv_freq[${rotaryDim},θ=${theta}]`, ropeInvFreq(rotaryDim, theta), [rotaryDim / 2], 'f32');
    perGpu.set(key, t);
  }
  return t;
}

const WG = 256;

/** The kernel variant: chosen here and only here. */
export function ropeKernel(positionsBuffer: boolean, interleaved: boolean): KernelSpec {
  return { shader: 'rope.wgsl', defines: { POS_BUFFER: positionsBuffer, INTERLEAVED: interleaved }, constants: { WG } };
}

/** Applies RoPE in place to x (f32). */
export function rope(rec: Recorder, x: Tensor, o: RopeOptions): void {
  const { heads, headDim } = o;
  const rotaryDim = o.rotaryDim ?? headDim;
  const theta = o.theta ?? 10000;
  const stride = o.tokenStride ?? heads * headDim;
  const offset = o.offset ?? 0;
  if (x.dtype !== 'f32') throw new TypeError(`rope: "${x.label}" is ${x.dtype}, expected f32`);
  if (rotaryDim % 2 || rotaryDim < 2 || rotaryDim > headDim) {
    throw new RangeError(`rope: rotaryDim ${rotaryDim} must be even and in [2, headDim=${headDim}]`);
  }
  if (stride < heads * headDim) {
    throw new RangeError(`rope: tokenStride ${stride} < heads·headDim = ${heads * headDim}`);
  }
  const width = heads * headDim; // elements touched per token, from its first head
  const tokens = o.tokens ?? Math.max(0, Math.floor((x.numel - offset - width) / stride) + 1);
  if (tokens > 0 && offset + (tokens - 1) * stride + width > x.numel) {
    throw new RangeError(`rope: ${tokens} tokens of stride ${stride} from element ${offset} exceed ` +
      `"${x.label}" (${x.numel} elements)`);
  }
  if (o.positions) {
    if (o.positions.dtype !== 'u32') {
      throw new TypeError(`rope: positions "${o.positions.label}" is ${o.positions.dtype}, expected u32`);
    }
    if (o.positions.numel < tokens) {
      throw new RangeError(`rope: positions "${o.positions.label}" has ${o.positions.numel} ` +
        `entries for ${tokens} tokens`);
    }
  }
  if (tokens === 0) return;
  const mod = o.positionModulo ?? 0;
  const invFreq = invFreqTensor(rec, rotaryDim, theta);
  const kernel = ropeKernel(!!o.positions, !!o.interleaved);
  const maxBytes = maxBinding(rec, o.maxBindingBytes);
  const half = rotaryDim / 2;
  forChunks(tokens, unitsPerBinding(rec, stride * 4, maxBytes), (t0, n) => {
    const sx = bindSpan(rec, x, offset + t0 * stride, (n - 1) * stride + width, 4, maxBytes);
    const si = bindSpan(rec, invFreq, 0, half, 4, maxBytes);
    const sp = o.positions && bindSpan(rec, o.positions, t0, n, 4, maxBytes);
    const bindings = [sx.binding, si.binding];
    if (sp) bindings.push(sp.binding);
    rec.dispatch(kernel, o.label ?? 'rope', bindings,
      [n, heads, headDim, half, stride, sx.base, o.positionOffset ?? 0, mod,
        mod ? t0 % mod : t0, sp?.base ?? 0, si.base],
      grid(Math.ceil((n * half) / WG), rec.gpu.caps.maxWorkgroupsPerDimension));
  });
}
