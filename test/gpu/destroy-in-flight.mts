/**
 * Child process of test/gpu/runtime.test.ts (it needs `--expose-gc`): devices destroyed with a read-back still in
 * flight and then dropped, with garbage collections in between, round after round. Each read must settle with the
 * right values, and the process must live through all of it. Prints one line per round, then DONE.
 */
import { Gpu, Recorder } from '../../src/gpu';
import { add } from '../../src/ops/elementwise';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const n = 1 << 22;
const data = new Float32Array(n).map((_, i) => Math.sin(i) + 1.5);
for (let round = 0; round < 4; round++) {
  let gpu: Gpu | undefined = await Gpu.create();
  const a = gpu.upload('a', data, [n], 'f32');
  const out = gpu.tensor('out', [n], 'f32');
  const rec = new Recorder(gpu, 'in flight');
  for (let i = 0; i < 8; i++) add(rec, a, a, out);
  rec.submit();
  const pending = gpu.readF32(out);
  gpu.destroy();
  gpu.destroy(); // a second call does nothing
  gpu = undefined;
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 1));
  }
  const got = await pending;
  let wrong = 0;
  for (let i = 0; i < n; i += 997) if (got[i] !== 2 * data[i]) wrong++;
  console.log(`round ${round}: ${wrong} wrong`);
}
console.log('DONE');
