// Shared bindings, parameters and helpers of every matmul kernel (matmul.wgsl, matmul-tiled.wgsl,
// matmul-splitk.wgsl). Included once per shader with #include "matmul-common.wgsl"; the including file puts
// `enable f16;` / `enable subgroups;` first.
//
// Computes, for every batch b (workgroup_id.z), row m < M and column n < N:
//   Y[y_off + b*sy + m*ldy + n] = alpha * sum_k X[x_off + b*sx + m*ldx + k] * W[w_off + (b / w_div)*sw + n*ldw + k]
//                                 (+ bias[bias_off + n] when has_bias)
// i.e. y = x · Wᵀ with W stored [N, K] (out, in), both operands K-contiguous ("NT"). All offsets and strides are
// in elements of the binding's scalar type (halves for f16 weights), so any 4-byte-aligned view can be bound.
//
// Defines (booleans, see src/ops/matmul.ts):
//   W_F16         weights are IEEE halves. Read as packed u32 pairs + unpack2x16float (needs no shader-f16).
//   W_F16_NATIVE  with W_F16 and VEC: read weights as vec4<f16> instead (needs shader-f16; benchmark only).
//   VEC           W rows are 8-element aligned and K % 8 == 0: W is read as vec4 (f32) / vec4<u32> (8 halves).
//                 Without VEC every W element is read on its own and K may be anything.
//   XVEC          (with VEC) X rows are 4-element aligned too: X is bound as vec4s (kernels without subgroups).
//
// The bias is a run-time switch (has_bias), not a define, so that one pipeline serves both cases; without a bias
// the B binding is any read-only buffer (the TS side passes X's) and is never read.

struct Params {
  M: u32, N: u32, K: u32, ldx: u32,
  ldw: u32, ldy: u32, y_off: u32, bias_off: u32,
  x_off: u32, w_off: u32, sx: u32, sw: u32,
  sy: u32, w_div: u32, alpha: f32, has_bias: u32,
  // epilogue (matmul-epilogue.wgsl)
  act: u32, col0: u32, split1: u32, split2: u32,
  y_off1: u32, y_off2: u32, ldy1: u32, ldy2: u32,
  glu_rows: u32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
#if XVEC
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> X: array<f32>;
#endif
#if VEC
#if W_F16
#if W_F16_NATIVE
@group(0) @binding(2) var<storage, read> W: array<vec4<f16>>;
#else
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;
#endif
#else
@group(0) @binding(2) var<storage, read> W: array<vec4<f32>>;
#endif
#else
#if W_F16
@group(0) @binding(2) var<storage, read> W: array<u32>;
#else
@group(0) @binding(2) var<storage, read> W: array<f32>;
#endif
#endif
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> B: array<f32>;

// One weight element at W row start `row` (element index) and column k; 0 when k >= K (the index is clamped
// into the row, so the load itself stays in bounds). Works for every layout because it never needs alignment.
fn w_elem(row: u32, k: u32) -> f32 {
  let kk = min(k, P.K - 1u);
#if VEC
#if W_F16
#if W_F16_NATIVE
  let e = row + kk;
  let v = f32(W[e / 4u][e % 4u]);
#else
  let e = row + kk;
  let q = W[e / 8u];
  let pair = unpack2x16float(q[(e % 8u) / 2u]);
  let v = select(pair.x, pair.y, (e & 1u) == 1u);
#endif
#else
  let e = row + kk;
  let v = W[e / 4u][e % 4u];
#endif
#else
#if W_F16
  let e = row + kk;
  let pair = unpack2x16float(W[e / 2u]);
  let v = select(pair.x, pair.y, (e & 1u) == 1u);
#else
  let v = W[row + kk];
#endif
#endif
  return select(0.0, v, k < P.K);
}

// Eight consecutive weights W[row + k .. row + k + 7] as two vec4s (zeros past K).
fn w_block8(row: u32, k: u32) -> array<vec4f, 2> {
#if VEC
#if W_F16
#if W_F16_NATIVE
  let i = (row + k) / 4u;
  return array<vec4f, 2>(vec4f(W[i]), vec4f(W[i + 1u]));
#else
  let q = W[(row + k) / 8u];
  return array<vec4f, 2>(vec4f(unpack2x16float(q.x), unpack2x16float(q.y)),
                         vec4f(unpack2x16float(q.z), unpack2x16float(q.w)));
#endif
#else
  let i = (row + k) / 4u;
  return array<vec4f, 2>(W[i], W[i + 1u]);
#endif
#else
  return array<vec4f, 2>(vec4f(w_elem(row, k), w_elem(row, k + 1u), w_elem(row, k + 2u), w_elem(row, k + 3u)),
                         vec4f(w_elem(row, k + 4u), w_elem(row, k + 5u), w_elem(row, k + 6u), w_elem(row, k + 7u)));
#endif
}

#include "matmul-x.wgsl"

// Element index of the start of W row n (clamped to the last row) in batch b.
fn w_row(b: u32, n: u32) -> u32 {
  return P.w_off + (b / P.w_div) * P.sw + min(n, P.N - 1u) * P.ldw;
}

// Element index of the start of X row m (clamped to the last row) in batch b.
fn x_row(b: u32, m: u32) -> u32 {
  return P.x_off + b * P.sx + min(m, P.M - 1u) * P.ldx;
}

#include "matmul-epilogue.wgsl"

// Writes one output (activation of alpha * acc + bias[n]) if (m, n) is inside the matrix.
fn store_y(b: u32, m: u32, n: u32, acc: f32) {
  if (m < P.M && n < P.N) {
    var v = acc * P.alpha;
    if (P.has_bias != 0u) { v += B[P.bias_off + n]; }
    Y[y_index(b * P.sy, m, n)] = activate(v);
  }
}

// The column-lane kernels' store of one lane's two accumulators (columns c.x and c.y, see lane_columns).
fn store_pair(b: u32, m: u32, c: vec2u, acc: vec2f) {
#if GLU
  if (m < P.M && c.x < P.glu_rows) {
    var g = acc.x * P.alpha;
    var u = acc.y * P.alpha;
    if (P.has_bias != 0u) { g += B[P.bias_off + c.x]; u += B[P.bias_off + c.y]; }
    Y[y_index(b * P.sy, m, c.x)] = silu(g) * u;
  }
#else
  store_y(b, m, c.x, acc.x);
  store_y(b, m, c.y, acc.y);
#endif
}
