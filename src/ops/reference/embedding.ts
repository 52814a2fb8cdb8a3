/** Plain-TypeScript reference for src/ops/embedding.ts. */

/** out[dstRows[j]] = table[ids[j]] (zeros for ids ≥ vocab); rows not written keep `out`'s values. */
export function embed(table: Float32Array, d: number, ids: ArrayLike<number>, out: Float32Array,
  dstRows?: ArrayLike<number>, dstRow0 = 0): Float32Array {
  const res = out.slice();
  const vocab = table.length / d;
  for (let j = 0; j < ids.length; j++) {
    const row = dstRows ? dstRows[j] : dstRow0 + j;
    if (row >= res.length / d) continue;
    const id = ids[j];
    for (let c = 0; c < d; c++) res[row * d + c] = id < vocab ? table[id * d + c] : 0;
  }
  return res;
}
