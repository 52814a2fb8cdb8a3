import { describe, expect, it } from 'vitest';

import { asU16, asF32, bytesOf } from '../../src/weights/dtype';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../src/weights/half';
import { SafetensorsError, SafetensorsFile, MAX_HEADER_BYTES } from '../../src/weights/safetensors';
import { buildSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../../src/weights/safetensors-writer';
import { BlobSource, CountingSource, MemorySource } from '../../src/weights/sources';
import { prngBytes, rawFile } from './helpers';

const FILE = 'unit.safetensors';

function sampleTensors(): TensorToWrite[] {
  const f32 = new Float32Array([0, 1, -2.5, 3.25, 1e-3, -7, 8, 9, 10, 11, 12, 13]);
  return [
    { name: 'a.f32', dtype: 'F32', shape: [3, 4], data: bytesOf(f32) },
    { name: 'b.f16', dtype: 'F16', shape: [2, 3], data: bytesOf(f32ToF16Bits([1, 2, 3, -0.5, 0.25, 65504])) },
    { name: 'c.bf16', dtype: 'BF16', shape: [5], data: bytesOf(f32ToBf16Bits([1, -1, 3.140625, 0, 256])) },
    { name: 'd.i8', dtype: 'I8', shape: [2, 2, 2], data: bytesOf(new Int8Array([-128, -1, 0, 1, 2, 3, 4, 127])) },
    { name: 'e.u8', dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) },
    { name: 'f.scalar', dtype: 'F32', shape: [], data: bytesOf(new Float32Array([42])) },
    { name: 'g.empty', dtype: 'F16', shape: [0, 4], data: new Uint8Array(0) },
  ];
}

async function open(bytes: Uint8Array, name = FILE) {
  return SafetensorsFile.open(new MemorySource(bytes, name));
}

async function expectError(bytes: Uint8Array, ...patterns: RegExp[]): Promise<SafetensorsError> {
  let err: unknown;
  try {
    await open(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SafetensorsError);
  const msg = (err as Error).message;
  expect(msg).toContain(FILE);
  for (const p of patterns) expect(msg).toMatch(p);
  return err as SafetensorsError;
}

describe('safetensors round trip', () => {
  it('writes and reads back F32/F16/BF16/I8/U8, scalar, empty, metadata', async () => {
    const tensors = sampleTensors();
    const bytes = writeSafetensors(tensors, { format: 'pt', note: 'ünïcode ✓' });
    // Header length is a multiple of 8 and padded with spaces.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(headerText.startsWith('{"__metadata__"')).toBe(true);
    expect(/^ *$/.test(headerText.slice(headerText.lastIndexOf('}') + 1))).toBe(true);

    const st = await open(bytes);
    expect(st.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect([...st.tensors.keys()]).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const info = st.get(t.name);
      expect(info.dtype).toBe(t.dtype);
      expect(info.shape).toEqual(t.shape);
      expect(info.byteLength).toBe(t.data.byteLength);
      expect(info.byteOffset).toBeGreaterThanOrEqual(st.dataOffset);
      expect(await st.read(t.name)).toEqual(t.data);
    }
    expect(Array.from(f16BitsToF32(asU16(await st.read('b.f16'))))).toEqual([1, 2, 3, -0.5, 0.25, 65504]);
    expect(Array.from(bf16BitsToF32(asU16(await st.read('c.bf16'))))).toEqual([1, -1, 3.140625, 0, 256]);
    expect(Array.from(asF32(await st.read('f.scalar')))).toEqual([42]);
  });

  it('reads without metadata (metadata is null)', async () => {
    const st = await open(writeSafetensors([{ name: 'x', dtype: 'U8', shape: [1], data: new Uint8Array([7]) }]));
    expect(st.metadata).toBeNull();
  });

  it('reads one tensor with one exact ranged read (never the whole file)', async () => {
    const big = prngBytes(4 * 1000 * 64);
    const bytes = writeSafetensors([
      { name: 'first', dtype: 'F32', shape: [1000, 64], data: big },
      { name: 'small', dtype: 'BF16', shape: [3], data: new Uint8Array([1, 2, 3, 4, 5, 6]) },
      { name: 'last', dtype: 'F32', shape: [1000, 64], data: big },
    ]);
    const src = new CountingSource(new MemorySource(bytes, FILE));
    const st = await SafetensorsFile.open(src);
    const headerBytes = src.bytesRead;
    expect(src.reads).toBe(2); // length prefix + header
    expect(headerBytes).toBe(st.dataOffset);
    src.log.length = 0;
    const small = await st.read('small');
    expect(small).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(src.log).toEqual([{ offset: st.get('small').byteOffset, length: 6 }]);
    expect(src.bytesRead - headerBytes).toBe(6);
  });

  it('readRange and readRows read the right slices', async () => {
    const data = prngBytes(10 * 6 * 2, 3);
    const st = await open(writeSafetensors([{ name: 'w', dtype: 'BF16', shape: [10, 6], data }]));
    expect(await st.readRows('w', 2, 5)).toEqual(data.slice(2 * 12, 5 * 12));
    expect(await st.readRange('w', 3, 9)).toEqual(data.slice(3, 9));
    await expect(st.readRows('w', 9, 11)).rejects.toThrow(/unit\.safetensors: tensor "w": row range \[9, 11\)/);
    await expect(st.readRange('w', 0, 121)).rejects.toThrow(SafetensorsError);
    expect(() => st.get('nope')).toThrow(/unit\.safetensors: tensor "nope"/);
  });
});

describe('readChunks', () => {
  const rows = 37;
  const cols = 10; // F32 → 40 bytes per row
  const data = prngBytes(rows * cols * 4, 9);
  const bytes = writeSafetensors([
    { name: 'pad', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
    { name: 'm', dtype: 'F32', shape: [rows, cols], data },
  ]);

  it('yields row-aligned chunks within the byte bound that reassemble the tensor', async () => {
    const src = new CountingSource(new MemorySource(bytes, FILE));
    const st = await SafetensorsFile.open(src);
    src.log.length = 0;
    const maxBytes = 130; // 3 rows of 40
    const parts: Uint8Array[] = [];
    let expectRow = 0;
    for await (const c of st.readChunks('m', maxBytes)) {
      expect(c.rowStart).toBe(expectRow);
      expect(c.data.byteLength).toBeLessThanOrEqual(maxBytes);
      expect(c.data.byteLength).toBe((c.rowEnd - c.rowStart) * cols * 4);
      expect(c.byteOffset).toBe(c.rowStart * cols * 4);
      expect(c.rowEnd - c.rowStart === 3 || c.rowEnd === rows).toBe(true);
      expectRow = c.rowEnd;
      parts.push(c.data);
    }
    expect(expectRow).toBe(rows);
    expect(parts.length).toBe(Math.ceil(rows / 3));
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let o = 0;
    for (const p of parts) { joined.set(p, o); o += p.byteLength; }
    expect(joined).toEqual(data);
    // one ranged read per chunk, nothing else
    expect(src.log.length).toBe(parts.length);
    expect(src.log.reduce((n, r) => n + r.length, 0)).toBe(data.byteLength);
  });

  it('honours rowMultiple and rejects a bound below one row', async () => {
    const st = await open(bytes);
    const sizes: number[] = [];
    for await (const c of st.readChunks('m', 200, { rowMultiple: 2 })) sizes.push(c.rowEnd - c.rowStart);
    expect(sizes.slice(0, -1).every((s) => s === 4)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(rows);
    expect(() => st.readChunks('m', 39)).toThrow(/unit\.safetensors: tensor "m".*smaller than 1 row/);
  });

  it('handles 1-D, scalar and empty tensors', async () => {
    const st = await open(writeSafetensors([
      { name: 'v', dtype: 'F16', shape: [5], data: prngBytes(10) },
      { name: 's', dtype: 'F32', shape: [], data: prngBytes(4) },
      { name: 'e', dtype: 'F32', shape: [0, 3], data: new Uint8Array(0) },
    ]));
    const v = [];
    for await (const c of st.readChunks('v', 4)) v.push([c.rowStart, c.rowEnd]);
    expect(v).toEqual([[0, 2], [2, 4], [4, 5]]);
    const s = [];
    for await (const c of st.readChunks('s', 4)) s.push(c.data.byteLength);
    expect(s).toEqual([4]);
    const e = [];
    for await (const c of st.readChunks('e', 4)) e.push(c);
    expect(e).toEqual([]);
  });
});

describe('safetensors validation errors', () => {
  const good = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  it('file shorter than the length prefix', async () => {
    await expectError(new Uint8Array(5), /5 bytes, too short/);
  });

  it('header length beyond the 100 MB bound', async () => {
    const b = rawFile(good, 8, { headerLength: BigInt(MAX_HEADER_BYTES) + 1n });
    const e = await expectError(b, /exceeds the 100000000-byte limit/);
    expect(e.limit).toBe(MAX_HEADER_BYTES);
    await expectError(rawFile(good, 8, { headerLength: 0xffffffffffffffffn }), /exceeds/);
  });

  it('header length beyond the file', async () => {
    const b = rawFile(good, 0, { headerLength: 1000n });
    const e = await expectError(b, /header length 1000 reaches past the end of the file/, /offset 1008/);
    expect(e.offset).toBe(1008);
  });

  it('bad JSON / not an object / not starting with {', async () => {
    await expectError(rawFile('{"t": {"dtype": "F32",', 0), /not valid JSON/);
    await expectError(rawFile(' {}', 0), /must start with '\{'/);
    await expectError(rawFile('[1,2]', 0), /must start with '\{'/);
    await expectError(rawFile('{} \u0000\u0000', 0), /NUL byte/);
    const bad = rawFile('{}', 0);
    const withBadUtf8 = new Uint8Array([...bad.subarray(0, 8), 0x7b, 0xff, 0x7d]);
    new DataView(withBadUtf8.buffer).setBigUint64(0, 3n, true);
    await expectError(withBadUtf8, /not valid UTF-8/);
  });

  it('accepts space padding after the JSON', async () => {
    const st = await open(rawFile(good, 8, { pad: 5 }));
    expect(st.get('t').byteOffset).toBe(st.dataOffset);
  });

  it('unknown dtype', async () => {
    const e = await expectError(rawFile({ w: { dtype: 'F12', shape: [1], data_offsets: [0, 2] } }, 2),
      /tensor "w"/, /unknown dtype "F12"/);
    expect(e.tensor).toBe('w');
  });

  it('bad shapes and offsets', async () => {
    await expectError(rawFile({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 0] } }),
      /tensor "w"/, /dimension 1/);
    await expectError(rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 0] } }), /tensor "w"/,
      /not a non-negative integer/);
    await expectError(rawFile({ w: { dtype: 'F32', shape: 'x', data_offsets: [0, 0] } }), /tensor "w"/, /not an array/);
    await expectError(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), /tensor "w"/, /data_offsets/);
    await expectError(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4),
      /tensor "w"/, /end before begin/);
    await expectError(rawFile({ w: 3 }), /tensor "w"/, /not an object/);
    await expectError(rawFile({ __metadata__: { a: 1 } }), /__metadata__/);
  });

  it('shape × dtype mismatch', async () => {
    const e = await expectError(
      rawFile({ w: { dtype: 'BF16', shape: [3, 2], data_offsets: [0, 10] } }, 10),
      /tensor "w"/,
      /needs 12 bytes but data_offsets \[0, 10\] span 10/,
    );
    expect(e.offset).toBeGreaterThan(8);
  });

  it('offsets outside the data section (also what a truncated file looks like)', async () => {
    const full = writeSafetensors([
      { name: 'a', dtype: 'F32', shape: [4], data: prngBytes(16) },
      { name: 'b', dtype: 'F32', shape: [4], data: prngBytes(16) },
    ]);
    const truncated = full.slice(0, full.byteLength - 3);
    const e = await expectError(truncated, /tensor "b"/, /reach past the data section/, /truncated/);
    expect(e.offset).toBe(full.byteLength);
    expect(e.limit).toBe(full.byteLength - 3);
    await expectError(rawFile({ w: { dtype: 'U8', shape: [4], data_offsets: [8, 12] } }, 10), /tensor "w"/,
      /past the data section \(10 bytes/);
  });

  it('overlapping tensors', async () => {
    const h = {
      a: { dtype: 'U8', shape: [6], data_offsets: [0, 6] },
      b: { dtype: 'U8', shape: [4], data_offsets: [4, 8] },
    };
    const e = await expectError(rawFile(h, 8), /tensor "b"/, /overlaps tensor "a"/);
    expect(e.tensor).toBe('b');
    // zero-length tensor inside another one also overlaps
    await expectError(rawFile({ a: { dtype: 'U8', shape: [6], data_offsets: [0, 6] },
      z: { dtype: 'U8', shape: [0], data_offsets: [3, 3] } }, 6), /overlaps/);
  });

  it('holes are rejected (format requires full coverage), unless allowGaps', async () => {
    const gapMiddle = rawFile({
      a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
      b: { dtype: 'U8', shape: [4], data_offsets: [6, 10] },
    }, 10);
    const e = await expectError(gapMiddle, /tensor "b"/, /hole in the data section after tensor "a"/);
    expect(e.offset! < e.limit!).toBe(true);
    await expectError(rawFile({ a: { dtype: 'U8', shape: [4], data_offsets: [2, 6] } }, 6), /hole .*at the start/);
    await expectError(rawFile({ a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] } }, 7),
      /3 trailing bytes after the last tensor "a"/);
    const lenient = await SafetensorsFile.open(new MemorySource(gapMiddle, FILE), { allowGaps: true });
    expect(await lenient.read('b')).toEqual(new Uint8Array(4));
  });

  it('zero-size tensors at boundaries are fine', async () => {
    const st = await open(rawFile({
      z0: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
      a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
      z1: { dtype: 'F32', shape: [3, 0], data_offsets: [2, 2] },
    }, 2));
    expect(st.tensors.size).toBe(3);
  });

  it('I/O failure during a tensor read is reported with file, tensor and offset', async () => {
    const bytes = writeSafetensors([{ name: 'w', dtype: 'U8', shape: [4], data: prngBytes(4) }]);
    const src = new MemorySource(bytes, FILE);
    const st = await SafetensorsFile.open(src);
    (src as unknown as { read: () => Promise<Uint8Array> }).read = async () => { throw new Error('disk on fire'); };
    await expect(st.read('w'))
      .rejects.toThrow(/unit\.safetensors: tensor "w": reading 4 bytes at offset \d+ failed: disk on fire/);
  });
});

describe('BlobSource', () => {
  it('reads a safetensors file from a Blob / File', async () => {
    const tensors = sampleTensors();
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const file = new File([bytes], 'picked.safetensors');
    const src = new BlobSource(file);
    expect(src.name).toBe('picked.safetensors');
    const st = await SafetensorsFile.open(src);
    for (const t of tensors) expect(await st.read(t.name)).toEqual(t.data);
    await expect(src.read(bytes.byteLength - 2, 5))
      .rejects.toThrow(/picked\.safetensors: read of 5 bytes .* past the end/);
    const blobSrc = new BlobSource(new Blob([bytes]));
    expect(blobSrc.name).toBe('blob');
  });
});

describe('writer checks', () => {
  it('rejects bad input', () => {
    expect(() => writeSafetensors([{ name: 'a', dtype: 'F32', shape: [2],
      data: new Uint8Array(7) }])).toThrow(/tensor "a".*7 bytes/);
    expect(() => writeSafetensors([
      { name: 'a', dtype: 'U8', shape: [1], data: new Uint8Array(1) },
      { name: 'a', dtype: 'U8', shape: [1], data: new Uint8Array(1) },
    ])).toThrow(/duplicate/);
    expect(() => writeSafetensors([{ name: '__metadata__', dtype: 'U8', shape: [1],
      data: new Uint8Array(1) }])).toThrow(/reserved/);
    expect(() => buildSafetensorsHeader([{ name: 'x', dtype: 'Q4' as never, shape: [1] }])).toThrow(/unknown dtype/);
  });
});
