/**
 * Small mixed-radix FFT (f64) for the log-mel front end.
 *
 * `ComplexFft(n)`: Stockham auto-sort, decimation in frequency, any n (radix-4 and radix-2 stages
 * are specialised, every other prime factor uses a generic radix-p butterfly — fine for the small
 * factors of audio frame sizes such as 5 in 400 = 2⁴·5²).
 * `RealFft(n)` (n even): the n-point real transform through one n/2-point complex transform.
 *
 * Sign convention: X[k] = Σ x[t] e^{−2πi kt/n} (like numpy/torch), no scaling.
 */

function factorize(n: number): number[] {
  const f: number[] = [];
  while (n % 4 === 0) {
    f.push(4);
    n /= 4;
  }
  if (n % 2 === 0) {
    f.push(2);
    n /= 2;
  }
  for (let p = 3; p * p <= n; p += 2) {
    while (n % p === 0) {
      f.push(p);
      n /= p;
    }
  }
  if (n > 1) f.push(n);
  return f;
}

export class ComplexFft {
  readonly n: number;
  private readonly factors: number[];
  private readonly cos: Float64Array; // cos(2π e / n)
  private readonly sin: Float64Array; // sin(2π e / n)
  private readonly bufRe: Float64Array;
  private readonly bufIm: Float64Array;
  private readonly tmpRe: Float64Array; // generic butterfly scratch
  private readonly tmpIm: Float64Array;

  constructor(n: number) {
    if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`FFT size must be a positive integer, got ${n}`);
    this.n = n;
    this.factors = factorize(n);
    this.cos = new Float64Array(n);
    this.sin = new Float64Array(n);
    for (let e = 0; e < n; e++) {
      this.cos[e] = Math.cos((2 * Math.PI * e) / n);
      this.sin[e] = Math.sin((2 * Math.PI * e) / n);
    }
    this.bufRe = new Float64Array(n);
    this.bufIm = new Float64Array(n);
    const maxP = Math.max(1, ...this.factors);
    this.tmpRe = new Float64Array(maxP);
    this.tmpIm = new Float64Array(maxP);
  }

  /** In-place forward transform of (re, im), each of length n. */
  forward(re: Float64Array, im: Float64Array): void {
    const N = this.n;
    const cos = this.cos;
    const sin = this.sin;
    let xr = re;
    let xi = im;
    let yr = this.bufRe;
    let yi = this.bufIm;
    let len = N; // current sub-transform length
    let s = 1; // stride = product of the radices already applied = N / len
    for (const r of this.factors) {
      const m = len / r;
      if (r === 2) {
        for (let p = 0; p < m; p++) {
          const wr = cos[p * s];
          const wi = -sin[p * s];
          for (let q = 0; q < s; q++) {
            const i0 = q + s * p;
            const i1 = i0 + s * m;
            const ar = xr[i0], ai = xi[i0], br = xr[i1], bi = xi[i1];
            const o = q + s * 2 * p;
            yr[o] = ar + br;
            yi[o] = ai + bi;
            const dr = ar - br, di = ai - bi;
            yr[o + s] = dr * wr - di * wi;
            yi[o + s] = dr * wi + di * wr;
          }
        }
      } else if (r === 4) {
        for (let p = 0; p < m; p++) {
          const e1 = p * s;
          const w1r = cos[e1], w1i = -sin[e1];
          const w2r = cos[2 * e1], w2i = -sin[2 * e1];
          const w3r = cos[3 * e1], w3i = -sin[3 * e1];
          for (let q = 0; q < s; q++) {
            const i0 = q + s * p;
            const sm = s * m;
            const a0r = xr[i0], a0i = xi[i0];
            const a1r = xr[i0 + sm], a1i = xi[i0 + sm];
            const a2r = xr[i0 + 2 * sm], a2i = xi[i0 + 2 * sm];
            const a3r = xr[i0 + 3 * sm], a3i = xi[i0 + 3 * sm];
            const t0r = a0r + a2r, t0i = a0i + a2i;
            const t1r = a0r - a2r, t1i = a0i - a2i;
            const t2r = a1r + a3r, t2i = a1i + a3i;
            const t3r = a1r - a3r, t3i = a1i - a3i;
            // y0 = t0 + t2; y1 = t1 − i t3; y2 = t0 − t2; y3 = t1 + i t3
            const o = q + s * 4 * p;
            yr[o] = t0r + t2r;
            yi[o] = t0i + t2i;
            let vr = t1r + t3i, vi = t1i - t3r;
            yr[o + s] = vr * w1r - vi * w1i;
            yi[o + s] = vr * w1i + vi * w1r;
            vr = t0r - t2r;
            vi = t0i - t2i;
            yr[o + 2 * s] = vr * w2r - vi * w2i;
            yi[o + 2 * s] = vr * w2i + vi * w2r;
            vr = t1r - t3i;
            vi = t1i + t3r;
            yr[o + 3 * s] = vr * w3r - vi * w3i;
            yi[o + 3 * s] = vr * w3i + vi * w3r;
          }
        }
      } else if (r === 5) {
        const c1 = Math.cos((2 * Math.PI) / 5), c2 = Math.cos((4 * Math.PI) / 5);
        const s1 = Math.sin((2 * Math.PI) / 5), s2 = Math.sin((4 * Math.PI) / 5);
        const sm = s * m;
        for (let p = 0; p < m; p++) {
          const e1 = p * s;
          const w1r = cos[e1], w1i = -sin[e1];
          const w2r = cos[2 * e1], w2i = -sin[2 * e1];
          const w3r = cos[3 * e1], w3i = -sin[3 * e1];
          const w4r = cos[4 * e1], w4i = -sin[4 * e1];
          for (let q = 0; q < s; q++) {
            const i0 = q + s * p;
            const a0r = xr[i0], a0i = xi[i0];
            const a1r = xr[i0 + sm], a1i = xi[i0 + sm];
            const a2r = xr[i0 + 2 * sm], a2i = xi[i0 + 2 * sm];
            const a3r = xr[i0 + 3 * sm], a3i = xi[i0 + 3 * sm];
            const a4r = xr[i0 + 4 * sm], a4i = xi[i0 + 4 * sm];
            const t1r = a1r + a4r, t1i = a1i + a4i;
            const t2r = a2r + a3r, t2i = a2i + a3i;
            const t3r = a1r - a4r, t3i = a1i - a4i;
            const t4r = a2r - a3r, t4i = a2i - a3i;
            const b1r = a0r + c1 * t1r + c2 * t2r, b1i = a0i + c1 * t1i + c2 * t2i;
            const b2r = a0r + c2 * t1r + c1 * t2r, b2i = a0i + c2 * t1i + c1 * t2i;
            const d1r = s1 * t3r + s2 * t4r, d1i = s1 * t3i + s2 * t4i;
            const d2r = s2 * t3r - s1 * t4r, d2i = s2 * t3i - s1 * t4i;
            // y1 = b1 − i·d1, y4 = b1 + i·d1, y2 = b2 − i·d2, y3 = b2 + i·d2
            const o = q + s * 5 * p;
            yr[o] = a0r + t1r + t2r;
            yi[o] = a0i + t1i + t2i;
            let vr = b1r + d1i, vi = b1i - d1r;
            yr[o + s] = vr * w1r - vi * w1i;
            yi[o + s] = vr * w1i + vi * w1r;
            vr = b2r + d2i;
            vi = b2i - d2r;
            yr[o + 2 * s] = vr * w2r - vi * w2i;
            yi[o + 2 * s] = vr * w2i + vi * w2r;
            vr = b2r - d2i;
            vi = b2i + d2r;
            yr[o + 3 * s] = vr * w3r - vi * w3i;
            yi[o + 3 * s] = vr * w3i + vi * w3r;
            vr = b1r - d1i;
            vi = b1i + d1r;
            yr[o + 4 * s] = vr * w4r - vi * w4i;
            yi[o + 4 * s] = vr * w4i + vi * w4r;
          }
        }
      } else {
        // generic radix r: y_j = w_len^{pj} Σ_k a_k ω_r^{jk}, with ω_r^{jk} = W_N^{jk·N/r}
        const tr = this.tmpRe;
        const ti = this.tmpIm;
        const rootStep = N / r;
        for (let p = 0; p < m; p++) {
          for (let q = 0; q < s; q++) {
            const i0 = q + s * p;
            for (let k = 0; k < r; k++) {
              tr[k] = xr[i0 + k * s * m];
              ti[k] = xi[i0 + k * s * m];
            }
            const o = q + s * r * p;
            for (let j = 0; j < r; j++) {
              let sr = 0;
              let si = 0;
              for (let k = 0; k < r; k++) {
                const e = ((j * k) % r) * rootStep;
                const c = cos[e];
                const sn = -sin[e];
                sr += tr[k] * c - ti[k] * sn;
                si += tr[k] * sn + ti[k] * c;
              }
              const e = p * j * s;
              const wr = cos[e];
              const wi = -sin[e];
              yr[o + s * j] = sr * wr - si * wi;
              yi[o + s * j] = sr * wi + si * wr;
            }
          }
        }
      }
      // swap buffers
      const a = xr, b = xi;
      xr = yr;
      xi = yi;
      yr = a;
      yi = b;
      len = m;
      s *= r;
    }
    if (xr !== re) {
      re.set(xr);
      im.set(xi);
    }
  }
}

/** Real-input FFT of even length n through an n/2-point complex FFT. */
export class RealFft {
  readonly n: number;
  /** Number of output bins: n/2 + 1. */
  readonly bins: number;
  private readonly half: ComplexFft;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;
  private readonly wr: Float64Array; // cos(2πk/n)
  private readonly wi: Float64Array; // −sin(2πk/n)

  constructor(n: number) {
    if (!(Number.isInteger(n) && n >= 2 && n % 2 === 0)) throw new RangeError(`real FFT size must be even, got ${n}`);
    this.n = n;
    this.bins = n / 2 + 1;
    this.half = new ComplexFft(n / 2);
    this.zr = new Float64Array(n / 2);
    this.zi = new Float64Array(n / 2);
    this.wr = new Float64Array(this.bins);
    this.wi = new Float64Array(this.bins);
    for (let k = 0; k < this.bins; k++) {
      this.wr[k] = Math.cos((2 * Math.PI * k) / n);
      this.wi[k] = -Math.sin((2 * Math.PI * k) / n);
    }
  }

  /** Power spectrum |X[k]|², k = 0…n/2, of the real frame x (length n). */
  power(x: Float64Array, out: Float64Array): void {
    const h = this.n / 2;
    const zr = this.zr;
    const zi = this.zi;
    for (let t = 0; t < h; t++) {
      zr[t] = x[2 * t];
      zi[t] = x[2 * t + 1];
    }
    this.half.forward(zr, zi);
    const wr = this.wr;
    const wi = this.wi;
    for (let k = 0; k <= h; k++) {
      const a = k === h ? 0 : k;
      const b = k === 0 ? 0 : h - k;
      const zkr = zr[a], zki = zi[a];
      const zcr = zr[b], zci = -zi[b]; // conj(Z[h−k])
      const er = 0.5 * (zkr + zcr), ei = 0.5 * (zki + zci); // even part
      // odd part: (Zk − Zc) / (2i)
      const dr = zkr - zcr, di = zki - zci;
      const or = 0.5 * di, oi = -0.5 * dr;
      const Xr = er + wr[k] * or - wi[k] * oi;
      const Xi = ei + wr[k] * oi + wi[k] * or;
      out[k] = Xr * Xr + Xi * Xi;
    }
  }
}
