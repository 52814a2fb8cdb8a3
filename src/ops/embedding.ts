/**
 * Embedding gather from a [vocab, d] table (f32 or f16; a Tensor or a RowBlockedMatrix split across bindings)
 * into f32 rows: out[dstRow(j)] = table[ids[j]]. Destination rows are `dstRow0 + j` or come from a u32 tensor
 * (`dstRows`), which splices token embeddings into arbitrary rows of a prompt buffer. Ids ≥ vocab give zero
 * rows. Ids and destination rows live on the GPU (e.g. straight from argmax), so nothing is read back.
 *
 * @example
 * embed(rec, embedTokens, ids, x);                                   // x[j] = E[ids[j]]
 * embed(rec, embedTokens, textIds, prompt, { dstRows: textRows });   // fill the text rows of a prompt
 */
import { DTYPE_BYTES, grid, RowBlockedMatrix, type KernelSpec, type Recorder, type Tensor, bindSpan, maxBinding,
  unitsPerBinding } from '../gpu';

export interface EmbedOptions {
  /** u32 [n]: destination row of each id (default: dstRow0 + j). */
  dstRows?: Tensor;
  /** First destination row when dstRows is not given; default 0. */
  dstRow0?: number;
  /** Number of ids to gather (default ids.numel). */
  count?: number;
  /** f16 tables: 'native' array<f16> (needs shader-f16) or 'packed' u32 words; default native when available. */
  f16Table?: 'native' | 'packed';
  label?: string;
  maxBindingBytes?: number;
}

const WG = 256;
const PER = 4; // must match embedding.wgsl

/** The kernel variant: chosen here and only here. */
export function embedKernel(rec: Recorder, dtype: 'f32' | 'f16', dstRows: boolean,
  f16Table?: 'native' | 'packed'): KernelSpec {
  const mode = dtype === 'f32' ? 'f32' : (f16Table ?? (rec.gpu.caps.f16 ? 'native' : 'packed'));
  if (mode === 'native' && !rec.gpu.caps.f16) {
    throw new Error('embed: native f16 tables need shader-f16; use f16Table: "packed"');
  }
  return { shader: 'embedding.wgsl', defines: { T_F16: mode === 'native', T_PACKED: mode === 'packed',
    DST_ROWS: dstRows }, constants: { WG } };
}

export function embed(rec: Recorder, table: Tensor | RowBlockedMatrix, ids: Tensor, out: Tensor,
  o: EmbedOptions = {}): void {
  const maxBytes = maxBinding(rec, o.maxBindingBytes);
  let vocab: number, d: number, dtype: string;
  let blocks: { tensor: Tensor; row0: number; rows: number }[];
  if (table instanceof RowBlockedMatrix) {
    ({ rows: vocab, cols: d, dtype } = table);
    blocks = [...table.blocks];
  } else {
    if (table.shape.length !== 2) {
      throw new RangeError(`embed: table "${table.label}" has shape [${table.shape}]; expected [vocab, d]`);
    }
    [vocab, d] = table.shape;
    dtype = table.dtype;
    // A single tensor larger than one binding is gathered in row ranges that each fit.
    const per = unitsPerBinding(rec, d * DTYPE_BYTES[table.dtype], maxBytes);
    blocks = [];
    for (let r = 0; r < vocab; r += per) blocks.push({ tensor: table, row0: r, rows: Math.min(per, vocab - r) });
  }
  if (dtype !== 'f32' && dtype !== 'f16') throw new TypeError(`embed: table dtype ${dtype}; expected f32 or f16`);
  if (ids.dtype !== 'u32') throw new TypeError(`embed: ids "${ids.label}" is ${ids.dtype}, expected u32`);
  if (out.dtype !== 'f32') throw new TypeError(`embed: output "${out.label}" is ${out.dtype}, expected f32`);
  const n = o.count ?? ids.numel;
  if (n > ids.numel) throw new RangeError(`embed: ${n} ids requested, "${ids.label}" has ${ids.numel}`);
  if (out.numel % d) throw new RangeError(`embed: output "${out.label}" (${out.numel} elements) is not rows of d=${d}`);
  const outRows = out.numel / d;
  const dstRow0 = o.dstRow0 ?? 0;
  if (!o.dstRows && dstRow0 + n > outRows) {
    throw new RangeError(`embed: rows [${dstRow0}, ${dstRow0 + n}) exceed output "${out.label}" (${outRows} rows)`);
  }
  if (o.dstRows && (o.dstRows.dtype !== 'u32' || o.dstRows.numel < n)) {
    throw new RangeError(`embed: dstRows "${o.dstRows.label}" must be u32 with ≥ ${n} entries`);
  }
  if (n === 0) return;

  const kernel = embedKernel(rec, dtype, !!o.dstRows, o.f16Table);
  const eb = DTYPE_BYTES[dtype];
  const si = bindSpan(rec, ids, 0, n, 4, maxBytes);
  const sd = o.dstRows && bindSpan(rec, o.dstRows, 0, n, 4, maxBytes);
  const so = bindSpan(rec, out, 0, out.numel, 4, maxBytes);
  const groups = grid(Math.ceil((n * d) / (WG * PER)), rec.gpu.caps.maxWorkgroupsPerDimension);
  blocks.forEach((b, bi) => {
    const local = table instanceof RowBlockedMatrix ? 0 : b.row0; // row of the block inside its tensor
    const st = bindSpan(rec, b.tensor, local * d, b.rows * d, eb, maxBytes);
    const bindings = [st.binding, si.binding];
    if (sd) bindings.push(sd.binding);
    bindings.push(so.binding);
    rec.dispatch(kernel, o.label ?? 'embed', bindings,
      [n, d, b.row0, b.rows, vocab, bi === 0 ? 1 : 0, st.base, si.base, sd?.base ?? 0, so.base,
        dstRow0, outRows], groups);
  });
}
