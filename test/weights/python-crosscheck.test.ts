/**
 * Cross-check against an independent writer/reader: a small Python script (struct + json + numpy,
 * no `safetensors` package) writes a file the TypeScript reader must parse, and reads a file the
 * TypeScript writer produced. numpy's float16 cast is the reference for f32 → f16 rounding.
 * Skipped when no python3 with numpy is available.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { asF32, asU16, bytesOf, toFloat32 } from '../../src/weights/dtype';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../src/weights/half';
import { openSafetensorsFile } from '../../src/weights/node-file-source';
import { writeSafetensors } from '../../src/weights/safetensors-writer';
import { skipWhen } from '../helpers/skip';
import { withTempDir } from './helpers';

function findPython(): string | null {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    if (exe.startsWith('/') && !existsSync(exe)) continue;
    const r = spawnSync(exe, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return null;
}

const PY = findPython();

function runPython(script: string, args: string[]): string {
  const r = spawnSync(PY!, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const WRITE_SCRIPT = String.raw`
import json, struct, sys
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(1234)
# values spanning f16 normal, subnormal, overflow and exact-tie cases
vals = np.concatenate([
    rng.standard_normal(4000).astype(np.float32) * np.float32(10.0) ** rng.integers(-9, 6, 4000).astype(np.float32),
    np.array([0.0, -0.0, 1.0, 65504.0, 65519.0, 65520.0, 1e9, -1e9, 2.0**-24, 2.0**-25, 3 * 2.0**-25,
              1 + 2.0**-11, 1 + 3 * 2.0**-11, 2.0**-14 - 2.0**-25, np.inf, -np.inf], dtype=np.float32),
]).astype(np.float32)
u32 = vals.view(np.uint32).astype(np.uint64)
bf16 = ((u32 + 0x7FFF + ((u32 >> 16) & 1)) >> 16).astype(np.uint16)   # RNE, no NaNs present

tensors = {
    "vals.f32": ("F32", [vals.size], vals.tobytes()),
    "vals.f16": ("F16", [vals.size], vals.astype(np.float16).tobytes()),
    "vals.bf16": ("BF16", [vals.size], bf16.tobytes()),
    "ints.i8": ("I8", [2, 3], np.array([[-128, -5, 0], [1, 42, 127]], dtype=np.int8).tobytes()),
    "ints.i64": ("I64", [3], np.array([-(2**40), 7, 2**50], dtype=np.int64).tobytes()),
    "flags.bool": ("BOOL", [4], np.array([True, False, False, True]).tobytes()),
    "dbl.f64": ("F64", [2, 2], np.array([[1.5, -2.25], [1e-300, 3.0]], dtype=np.float64).tobytes()),
    "mat.f32": ("F32", [3, 5], np.arange(15, dtype=np.float32).reshape(3, 5).tobytes()),
}
# data laid out in reverse name order; header keys sorted: offsets must not depend on JSON order
order = sorted(tensors, reverse=True)
header, blobs, off = {"__metadata__": {"format": "np", "writer": "python"}}, [], 0
for name in order:
    dt, shape, b = tensors[name]
    header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
text = json.dumps(dict(sorted(header.items())), separators=(",", ":")).encode("utf-8")
text += b" " * ((8 - len(text) % 8) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text))); f.write(text)
    for b in blobs: f.write(b)
`;

const READ_SCRIPT = String.raw`
import json, struct, sys
import numpy as np

path = sys.argv[1]
raw = open(path, "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
text = raw[8:8 + n]
assert n % 8 == 0, n
assert text[:1] == b"{"
stripped = text.rstrip(b" ")
assert stripped.endswith(b"}") and set(text[len(stripped):]) <= {0x20}
hdr = json.loads(text.decode("utf-8"))
data = raw[8 + n:]
meta = hdr.pop("__metadata__", None)
npdt = {"F32": np.float32, "F16": np.float16, "I8": np.int8, "U8": np.uint8, "I32": np.int32}
spans, out = [], {}
for name, t in hdr.items():
    b, e = t["data_offsets"]
    spans.append((b, e))
    if t["dtype"] == "BF16":
        u = np.frombuffer(data[b:e], dtype=np.uint16).astype(np.uint32) << 16
        arr = u.view(np.float32)
    else:
        arr = np.frombuffer(data[b:e], dtype=npdt[t["dtype"]]).astype(np.float64)
    arr = np.asarray(arr, dtype=np.float64).reshape(t["shape"])
    out[name] = {"dtype": t["dtype"], "shape": t["shape"], "values": arr.reshape(-1).tolist()}
spans.sort()
cur = 0
for b, e in spans:
    assert b == cur, (b, cur)
    cur = e
assert cur == len(data), (cur, len(data))
print(json.dumps({"metadata": meta, "tensors": out}))
`;

const NO_PY = PY ? null : 'no python3 with numpy (bash scripts/setup.sh installs python3-numpy)';

describe('python cross-check (struct + json + numpy)', skipWhen(NO_PY), () => {
  it('reads a file written by Python, and matches numpy f16 rounding and bf16 RNE', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'py.safetensors');
      runPython(WRITE_SCRIPT, [file]);
      const st = await openSafetensorsFile(file);
      try {
        expect(st.metadata).toEqual({ format: 'np', writer: 'python' });
        const vals = asF32(await st.read('vals.f32'));
        expect(vals.length).toBe(4016);
        const f16 = asU16(await st.read('vals.f16'));
        const bf16 = asU16(await st.read('vals.bf16'));
        const mine16 = f32ToF16Bits(vals);
        const mineBf = f32ToBf16Bits(vals);
        let bad16 = 0;
        let badBf = 0;
        for (let i = 0; i < vals.length; i++) {
          if (mine16[i] !== f16[i]) bad16++;
          if (mineBf[i] !== bf16[i]) badBf++;
        }
        expect(bad16).toBe(0);
        expect(badBf).toBe(0);
        // decode side: f16 → f32 equals numpy's float16 → float32 view
        const dec = f16BitsToF32(f16);
        expect(Array.from(dec.subarray(4003, 4011))).toEqual([65504, 65504, Infinity, Infinity,
          -Infinity, 2 ** -24, 0, 2 ** -23]);
        expect(Array.from(bf16BitsToF32(bf16.subarray(4000, 4003)))).toEqual([0, -0, 1]);
        expect(Array.from(toFloat32(await st.read('ints.i8'), 'I8'))).toEqual([-128, -5, 0, 1, 42, 127]);
        expect(Array.from(toFloat32(await st.read('ints.i64'), 'I64'))).toEqual([-(2 ** 40), 7, 2 ** 50]);
        expect(Array.from(await st.read('flags.bool'))).toEqual([1, 0, 0, 1]);
        expect(Array.from(toFloat32(await st.read('dbl.f64'), 'F64'))).toEqual([1.5, -2.25, 0, 3]);
        expect(st.get('mat.f32').shape).toEqual([3, 5]);
        expect(Array.from(asF32(await st.readRows('mat.f32', 1, 2)))).toEqual([5, 6, 7, 8, 9]);
      } finally {
        await st.close();
      }
    });
  });

  it('Python reads a file written by TypeScript', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'ts.safetensors');
      const f32 = new Float32Array([1, -2, 0.5, 3.25, 100, -0.125]);
      await writeFile(file, writeSafetensors([
        { name: 'w.bf16', dtype: 'BF16', shape: [2, 3], data: bytesOf(f32ToBf16Bits(f32)) },
        { name: 'w.f16', dtype: 'F16', shape: [3, 2], data: bytesOf(f32ToF16Bits(f32)) },
        { name: 'q', dtype: 'I8', shape: [5], data: bytesOf(new Int8Array([-1, 2, -3, 4, 127])) },
        { name: 'x', dtype: 'F32', shape: [1], data: bytesOf(new Float32Array([7.75])) },
      ], { format: 'pt', 'ключ': 'значение' }));
      const res = JSON.parse(runPython(READ_SCRIPT, [file])) as {
        metadata: Record<string, string>;
        tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
      };
      expect(res.metadata).toEqual({ format: 'pt', 'ключ': 'значение' });
      expect(res.tensors['w.bf16']).toEqual({ dtype: 'BF16', shape: [2, 3], values: Array.from(f32) });
      expect(res.tensors['w.f16'].values).toEqual(Array.from(f32));
      expect(res.tensors.q.values).toEqual([-1, 2, -3, 4, 127]);
      expect(res.tensors.x).toEqual({ dtype: 'F32', shape: [1], values: [7.75] });
    });
  });
});
