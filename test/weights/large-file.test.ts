/**
 * Offsets past 2^32: a sparse ~4.3 GB safetensors file (header + a 2^32+8-byte tensor + a small
 * tail tensor); only the header and the tail are real bytes on disk.
 */
import { open as fsOpen } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { openSafetensorsFile } from '../../src/weights/node-file-source';
import { buildSafetensorsHeader } from '../../src/weights/safetensors-writer';
import { withTempDir } from './helpers';

const BIG = 2 ** 32 + 8;

describe('files larger than 4 GiB', () => {
  it('parses and reads tensors at offsets beyond 2^32', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'huge.safetensors');
      const { header, offsets, dataSize } = buildSafetensorsHeader([
        { name: 'big', dtype: 'U8', shape: [BIG / 8, 8] },
        { name: 'tail', dtype: 'F32', shape: [4] },
      ]);
      const total = header.byteLength + dataSize;
      expect(total).toBeGreaterThan(2 ** 32);
      const tail = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
      const lastRow = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
      const h = await fsOpen(file, 'w');
      try {
        await h.write(header, 0, header.byteLength, 0);
        await h.truncate(total); // sparse
        await h.write(lastRow, 0, 8, header.byteLength + BIG - 8);
        await h.write(tail, 0, tail.byteLength, header.byteLength + offsets[1].begin);
      } finally {
        await h.close();
      }
      const st = await openSafetensorsFile(file);
      try {
        expect(st.fileSize).toBe(total);
        expect(st.get('big').byteLength).toBe(BIG);
        expect(st.get('tail').byteOffset).toBe(header.byteLength + BIG);
        expect(await st.read('tail')).toEqual(tail);
        expect(await st.readRows('big', BIG / 8 - 1, BIG / 8)).toEqual(lastRow);
        const it = st.readChunks('big', 1 << 20);
        const first = await it.next();
        expect(first.value!.rowEnd).toBe((1 << 20) / 8);
        await it.return?.();
      } finally {
        await st.close();
      }
    });
  });
});
