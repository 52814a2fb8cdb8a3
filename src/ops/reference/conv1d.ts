/** Plain-TypeScript reference for src/ops/conv1d.ts (f64 accumulation, f32 result, output [W·Tout, Cout]). */
import { erf } from './elementwise';

export interface Conv1dRefOptions {
  cin: number;
  cout: number;
  windows: number;
  stride: number;
  channelMajor: boolean;
  gelu: boolean;
}

export function conv1d(x: Float32Array, w: Float32Array, b: Float32Array, o: Conv1dRefOptions): Float32Array {
  const tin = x.length / (o.windows * o.cin);
  const tout = Math.floor((tin - 1) / o.stride) + 1;
  const y = new Float32Array(o.windows * tout * o.cout);
  const at = (win: number, ci: number, t: number) =>
    o.channelMajor ? x[(win * o.cin + ci) * tin + t] : x[(win * tin + t) * o.cin + ci];
  for (let win = 0; win < o.windows; win++) {
    for (let t = 0; t < tout; t++) {
      for (let co = 0; co < o.cout; co++) {
        let s = b[co];
        for (let ci = 0; ci < o.cin; ci++) {
          for (let k = 0; k < 3; k++) {
            const src = t * o.stride + k - 1;
            if (src >= 0 && src < tin) s += w[(co * o.cin + ci) * 3 + k] * at(win, ci, src);
          }
        }
        y[(win * tout + t) * o.cout + co] = o.gelu ? 0.5 * s * (1 + erf(s / Math.SQRT2)) : s;
      }
    }
  }
  return y;
}
