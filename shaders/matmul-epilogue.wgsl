// What every matmul kernel does with a finished dot product (included by matmul-common.wgsl and
// matmul-int8.wgsl after their Params struct, which both end with these fields):
//
//   act       0: none, 1: GELU (erf) of (alpha · acc + bias)             fused bias + GELU (encoder fc1, projector)
//   col0      global output column of this dispatch's column 0           (row block start of a RowBlockedMatrix)
//   split1/2  global columns where output segments 1 and 2 start, 0xffffffff when unused: one product writes
//             consecutive column ranges to separate tensors (fused Q, K, V into q, k, v)
//   y_off1/2, ldy1/2   element offset and row stride of segments 1 and 2 in the Y binding
//   glu_rows  with GLU: W is [gate; up] (2·glu_rows rows), the bias (if any) [b_gate; b_up], and the output
//             silu(x·gateᵀ + b_gate) ⊙ (x·upᵀ + b_up)
//
// Segment 0 keeps the kernel's own y_off / ldy, so a plain product is unchanged.
#include "common.wgsl"

// Element index in Y of output (row m, column n) of the batch starting at element b_off of each segment.
fn y_index(b_off: u32, m: u32, n: u32) -> u32 {
  let g = P.col0 + n;
  if (g >= P.split2) { return P.y_off2 + b_off + m * P.ldy2 + (g - P.split2); }
  if (g >= P.split1) { return P.y_off1 + b_off + m * P.ldy1 + (g - P.split1); }
  return P.y_off + b_off + m * P.ldy + n;
}

fn activate(v: f32) -> f32 {
  return select(v, gelu_erf(v), P.act == 1u);
}

// First and partner column of a lane in the column-lane kernels: normally n and n + WG (a 2·WG-column tile);
// with GLU, gate row n and up row n + glu_rows (a WG-column tile).
fn lane_columns(wgx: u32, lane: u32, wg_size: u32) -> vec2u {
#if GLU
  let c = wgx * wg_size + lane;
  return vec2u(c, c + P.glu_rows);
#else
  let c = wgx * 2u * wg_size + lane;
  return vec2u(c, c + wg_size);
#endif
}
