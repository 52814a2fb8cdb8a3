/**
 * A CPU `SearchModel` for the search tests: each row's logits are a pure function of the row's token
 * history (what it generated after the prompt), so a wrong `reorder` or `step` changes the logits
 * the search sees. Every call is logged.
 */
import { argmaxF32, logSoftmaxF32, topKCandidates } from '../../src/generate/reference';
import type { Candidate, SearchModel } from '../../src/generate/types';

/** Logits for the next token after `history` (the generated tokens so far). */
export type LogitsFn = (history: readonly number[]) => ArrayLike<number>;

export type Call =
  | { op: 'prefill' }
  | { op: 'reorder'; src: number[] }
  | { op: 'argmax'; rows: number }
  | { op: 'topK'; rows: number; k: number }
  | { op: 'step'; tokens: number[] };

export interface MockOptions {
  maxRows?: number;
  /** Runs at the start of each `step` call (e.g. to abort, or to throw). */
  onStep?: (stepIndex: number) => void;
}

export class MockModel implements SearchModel {
  readonly maxRows: number;
  readonly calls: Call[] = [];
  /** Token history per row; null = not a valid row. */
  rows: (number[] | null)[];
  private steps = 0;
  private readonly memo = new Map<string, Float32Array>();

  constructor(
    readonly vocabSize: number,
    private readonly logits: LogitsFn,
    private readonly options: MockOptions = {},
  ) {
    this.maxRows = options.maxRows ?? 8;
    this.rows = new Array<number[] | null>(this.maxRows).fill(null);
  }

  /** log_softmax of the next-token logits after `history`. */
  logProbs(history: readonly number[]): Float32Array {
    const key = history.join(',');
    let lp = this.memo.get(key);
    if (!lp) {
      const raw = this.logits(history);
      if (raw.length !== this.vocabSize) throw new Error(`logits function gave ${raw.length} values, ` +
        `expected ${this.vocabSize}`);
      lp = logSoftmaxF32(raw);
      this.memo.set(key, lp);
    }
    return lp;
  }

  get reorders(): number[][] {
    return this.calls.flatMap((c) => (c.op === 'reorder' ? [c.src] : []));
  }

  get stepCalls(): number[][] {
    return this.calls.flatMap((c) => (c.op === 'step' ? [c.tokens] : []));
  }

  private row(i: number): number[] {
    const r = this.rows[i];
    if (!r) throw new Error(`row ${i} is not valid`);
    return r;
  }

  async prefill(): Promise<void> {
    this.calls.push({ op: 'prefill' });
    this.rows = new Array<number[] | null>(this.maxRows).fill(null);
    this.rows[0] = [];
  }

  reorder(src: readonly number[]): void {
    this.calls.push({ op: 'reorder', src: [...src] });
    if (src.length > this.maxRows) throw new Error(`reorder of ${src.length} rows, maxRows ${this.maxRows}`);
    const copies = src.map((s) => [...this.row(s)]);
    copies.forEach((h, i) => (this.rows[i] = h));
  }

  async argmax(rows: number): Promise<Int32Array> {
    this.calls.push({ op: 'argmax', rows });
    return Int32Array.from({ length: rows }, (_, i) => argmaxF32(this.logits(this.row(i))));
  }

  async topK(rowScores: Float32Array, k: number): Promise<Candidate[]> {
    this.calls.push({ op: 'topK', rows: rowScores.length, k });
    const lps = Array.from({ length: rowScores.length }, (_, i) => this.logProbs(this.row(i)));
    return topKCandidates(lps, rowScores, k);
  }

  async step(tokens: Int32Array): Promise<void> {
    this.options.onStep?.(this.steps);
    this.steps++;
    this.calls.push({ op: 'step', tokens: [...tokens] });
    tokens.forEach((t, i) => {
      if (t < 0 || t >= this.vocabSize) throw new Error(`token ${t} outside the vocabulary`);
      this.row(i).push(t);
    });
  }
}

/** Deterministic pseudo-random float in [0, 1) from a seed, a history and a token. */
function hashUnit(seed: number, history: readonly number[], token: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  const mix = (v: number): void => {
    h = Math.imul(h ^ (v + 0x9e3779b9), 0x01000193) >>> 0;
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d) >>> 0;
    h ^= h >>> 12;
  };
  for (const t of history) mix(t);
  mix(0xabcdef);
  mix(token);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  h ^= h >>> 16;
  return h / 2 ** 32;
}

/**
 * Seeded random logits in [-spread, spread]; eos logits start low and rise with the history length,
 * so hypotheses finish at different lengths.
 */
export function randomLogits(vocabSize: number, seed: number, eosIds: readonly number[], spread = 3): LogitsFn {
  return (history) => {
    const out = new Float32Array(vocabSize);
    for (let t = 0; t < vocabSize; t++) out[t] = (hashUnit(seed, history, t) * 2 - 1) * spread;
    for (const e of eosIds) out[e] += -2.5 + 0.8 * history.length;
    return out;
  };
}

/**
 * Logits from a table of next-token probabilities keyed by the history (tokens joined with ',';
 * '' is the prompt). Listed tokens get their probability; the other tokens share what is left
 * equally (at least 1e-9 in all). Histories not in the table are uniform.
 */
export function scriptedLogits(vocabSize: number, table: Record<string, Record<number, number>>): LogitsFn {
  return (history) => {
    const probs = table[history.join(',')] ?? {};
    const listed = Object.keys(probs).map(Number);
    const rest = Math.max(1e-9, 1 - listed.reduce((s, t) => s + probs[t], 0));
    const share = rest / (vocabSize - listed.length);
    return Float32Array.from({ length: vocabSize }, (_, t) => Math.log(t in probs ? probs[t] : share));
  };
}
