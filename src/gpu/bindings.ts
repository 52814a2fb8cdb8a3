/**
 * Binding any tensor view: a storage binding must start at a multiple of minStorageBufferOffsetAlignment
 * (256 bytes) and fit maxStorageBufferBindingSize, so ops bind from the aligned offset at or below the data
 * and pass the remaining element offset to the kernel as a parameter, and split work that would exceed
 * one binding into pieces. Every op binds its tensors through these helpers.
 */
import { DTYPE_BYTES, type Tensor } from './buffers';
import type { Binding, Recorder } from './recorder';

/** A storage binding plus the element offset of the wanted data inside it. */
export interface Span {
  binding: Binding;
  /** Elements (of the given element size) from the binding start to the first wanted element. */
  base: number;
}

/** Largest storage binding a dispatch may use (tests pass a smaller `override` to exercise splitting). */
export function maxBinding(rec: Recorder, override?: number): number {
  return Math.min(override ?? Infinity, rec.gpu.caps.maxStorageBindingBytes);
}

/**
 * Binds elements [elem0, elem0 + count) of `t` (element size `elemBytes`, default the tensor's dtype).
 * The binding starts at the storage-offset alignment at or below the data and is padded to 4 bytes.
 */
export function bindSpan(rec: Recorder, t: Tensor, elem0: number, count: number, elemBytes = DTYPE_BYTES[t.dtype],
  maxBytes = maxBinding(rec)): Span {
  const align = rec.gpu.caps.storageOffsetAlignment;
  const start = t.byteOffset + elem0 * elemBytes;
  const end = start + count * elemBytes;
  if (elem0 < 0 || count < 0 || end > t.byteOffset + Math.ceil(t.byteLength / 4) * 4) {
    throw new RangeError(`"${t.label}": elements [${elem0}, ${elem0 + count}) of ${elemBytes} bytes exceed the ` +
      `tensor (${t.byteLength} bytes)`);
  }
  const offset = Math.floor(start / align) * align;
  const size = Math.max(4, Math.ceil((end - offset) / 4) * 4);
  if (offset + size > t.buffer.size) throw new RangeError(`"${t.label}": binding [${offset}, ${offset + size}) ` +
    `exceeds its buffer (${t.buffer.size} bytes)`);
  if (size > maxBytes) throw new RangeError(`"${t.label}": a binding of ${size} bytes exceeds the ` +
    `${maxBytes}-byte storage binding limit`);
  return { binding: { buffer: t.buffer, offset, size }, base: (start - offset) / elemBytes };
}

/** Number of pieces needed so that `unitBytes`-sized units (rows, windows, elements) fit one binding each. */
export function unitsPerBinding(rec: Recorder, unitBytes: number, maxBytes = maxBinding(rec)): number {
  const n = Math.floor((maxBytes - rec.gpu.caps.storageOffsetAlignment) / unitBytes);
  if (n < 1) throw new RangeError(`one unit of ${unitBytes} bytes does not fit a ${maxBytes}-byte storage binding`);
  return n;
}

/** Calls `fn(first, count)` over [0, total) in pieces of at most `per`. */
export function forChunks(total: number, per: number, fn: (first: number, count: number) => void): void {
  for (let first = 0; first < total; first += per) fn(first, Math.min(per, total - first));
}
