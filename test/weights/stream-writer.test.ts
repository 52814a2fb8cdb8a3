import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { createSafetensorsFileWriter, openSafetensorsFile } from '../../src/weights/node-file-source';
import { writeSafetensors, SafetensorsStreamWriter, type ByteSink,
  type TensorSpec } from '../../src/weights/safetensors-writer';
import { SafetensorsError } from '../../src/weights/safetensors';
import { prngBytes, sameBytes, withTempDir } from './helpers';

class MemorySink implements ByteSink {
  readonly name = 'mem-sink';
  parts: Uint8Array[] = [];
  closed = false;
  async write(b: Uint8Array) { this.parts.push(b.slice()); }
  async close() { this.closed = true; }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.byteLength, 0));
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.byteLength; }
    return out;
  }
}

const specs: TensorSpec[] = [
  { name: 'big', dtype: 'F16', shape: [1000, 300] },
  { name: 'empty', dtype: 'F32', shape: [0] },
  { name: 'q', dtype: 'I8', shape: [17, 3] },
  { name: 's', dtype: 'F32', shape: [] },
];
const datas = new Map<string, Uint8Array>([
  ['big', prngBytes(1000 * 300 * 2, 21)],
  ['empty', new Uint8Array(0)],
  ['q', prngBytes(51, 22)],
  ['s', prngBytes(4, 23)],
]);

describe('SafetensorsStreamWriter', () => {
  it('streams tensors in pieces to a file, byte-identical to the in-memory writer', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'streamed.safetensors');
      const w = await createSafetensorsFileWriter(file, specs, { format: 'pt', kind: 'test' });
      expect(w.current).toBe('big');
      const big = datas.get('big')!;
      for (let o = 0; o < big.byteLength; o += 7001) await w.write('big',
        big.subarray(o, Math.min(big.byteLength, o + 7001)));
      expect(w.current).toBe('q'); // the empty tensor is skipped automatically
      await w.writeTensor('q', datas.get('q')!);
      await w.write('s', datas.get('s')!);
      expect(w.current).toBeNull();
      await w.finish();

      const expected = writeSafetensors(specs.map((s) => ({ ...s, data: datas.get(s.name)! })),
        { format: 'pt', kind: 'test' });
      expect((await stat(file)).size).toBe(w.totalBytes);
      expect(sameBytes(new Uint8Array(await readFile(file)), expected)).toBe(true);
      const st = await openSafetensorsFile(file);
      for (const s of specs) expect(sameBytes(await st.read(s.name), datas.get(s.name)!)).toBe(true);
      await st.close();
    });
  });

  it('verifies order, byte counts and completeness', async () => {
    const sink = new MemorySink();
    const w = await SafetensorsStreamWriter.create(sink, specs);
    await expect(w.write('q', new Uint8Array(1)))
      .rejects.toThrow(/mem-sink: tensor "q": out of order: expected bytes of "big" next/);
    const w2 = await SafetensorsStreamWriter.create(new MemorySink(), specs);
    await expect(w2.write('zzz', new Uint8Array(1))).rejects.toThrow(/tensor "zzz": not in the header/);
    const w3 = await SafetensorsStreamWriter.create(new MemorySink(), specs);
    await expect(w3.write('big', new Uint8Array(600_001)))
      .rejects.toThrow(/piece of 600001 bytes exceeds the 600000 bytes remaining/);
    const w4 = await SafetensorsStreamWriter.create(new MemorySink(), specs);
    await w4.write('big', new Uint8Array(10));
    await expect(w4.finish()).rejects.toThrow(/tensor "big": incomplete: 10 of 600000 bytes/);
    await expect(w4.write('big', new Uint8Array(1))).rejects.toThrow(/write after an earlier error/);
    const w5 = await SafetensorsStreamWriter.create(new MemorySink(), specs);
    await expect(w5.writeTensor('big', new Uint8Array(5))).rejects.toThrow(SafetensorsError);
  });

  it('aborting a file writer deletes the partial file', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'partial.safetensors');
      const w = await createSafetensorsFileWriter(file, specs);
      await w.write('big', new Uint8Array(100));
      await w.abort();
      await expect(stat(file)).rejects.toThrow(/ENOENT/);
    });
  });
});
