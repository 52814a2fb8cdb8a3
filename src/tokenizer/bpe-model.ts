import {
  TokenizerConfigError,
  describe,
  expectArray,
  expectInt,
  expectObject,
  expectString,
  optBool,
  optString,
  required,
} from './errors';

/** Binary min-heap of merge candidates ordered by (rank, position). Packed as parallel arrays. */
class CandidateHeap {
  private rank: number[] = [];
  private pos: number[] = [];

  get size(): number {
    return this.rank.length;
  }

  clear(): void {
    this.rank.length = 0;
    this.pos.length = 0;
  }

  private less(a: number, b: number): boolean {
    return this.rank[a] < this.rank[b] || (this.rank[a] === this.rank[b] && this.pos[a] < this.pos[b]);
  }

  private swap(a: number, b: number): void {
    const r = this.rank[a];
    this.rank[a] = this.rank[b];
    this.rank[b] = r;
    const p = this.pos[a];
    this.pos[a] = this.pos[b];
    this.pos[b] = p;
  }

  push(rank: number, pos: number): void {
    this.rank.push(rank);
    this.pos.push(pos);
    let k = this.rank.length - 1;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!this.less(k, parent)) break;
      this.swap(k, parent);
      k = parent;
    }
  }

  /** Removes the top; returns [rank, pos]. Caller checks size first. */
  pop(): [number, number] {
    const top: [number, number] = [this.rank[0], this.pos[0]];
    const lastRank = this.rank.pop()!;
    const lastPos = this.pos.pop()!;
    if (this.rank.length > 0) {
      this.rank[0] = lastRank;
      this.pos[0] = lastPos;
      let k = 0;
      const n = this.rank.length;
      for (;;) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < n && this.less(l, m)) m = l;
        if (r < n && this.less(r, m)) m = r;
        if (m === k) break;
        this.swap(k, m);
        k = m;
      }
    }
    return top;
  }
}

const CACHE_LIMIT = 100_000;

/**
 * The BPE model: a word (one pre-token) is split into characters, then adjacent pairs are merged,
 * always taking the pair with the lowest merge rank (leftmost on ties), until no listed pair remains.
 */
export class BpeModel {
  /** token string -> id */
  readonly vocab: Map<string, number>;
  /** id -> token string */
  readonly idToToken: Map<number, string>;
  /** (left id, right id) packed as left * 2^26 + right -> [rank, merged id] */
  private readonly merges: Map<number, number>;
  private readonly mergeIds: Int32Array;
  private readonly unkId: number | undefined;
  private readonly unkToken: string | null;
  private readonly fuseUnk: boolean;
  private readonly prefix: string;
  private readonly suffix: string;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, number[]>();
  private readonly heap = new CandidateHeap();

  constructor(json: unknown, field = 'model') {
    const obj = expectObject(json, field);
    if (obj.type !== 'BPE') {
      const missing = obj.type === undefined || obj.type === null;
      const what = missing ? 'required field is missing' : `unsupported model type ${describe(obj.type)}`;
      throw new TokenizerConfigError(`${field}.type`, `${what} (only BPE is supported)`);
    }
    if (optBool(obj.byte_fallback, `${field}.byte_fallback`, false)) {
      throw new TokenizerConfigError(`${field}.byte_fallback`,
        'byte_fallback=true is not supported (byte-level BPE does not need it)');
    }
    if (obj.dropout !== undefined && obj.dropout !== null && obj.dropout !== 0) {
      throw new TokenizerConfigError(`${field}.dropout`, `BPE dropout ${describe(obj.dropout)} makes encoding ` +
        `random; only null/0 is supported`);
    }
    this.prefix = optString(obj.continuing_subword_prefix, `${field}.continuing_subword_prefix`, '');
    this.suffix = optString(obj.end_of_word_suffix, `${field}.end_of_word_suffix`, '');
    this.fuseUnk = optBool(obj.fuse_unk, `${field}.fuse_unk`, false);
    this.ignoreMerges = optBool(obj.ignore_merges, `${field}.ignore_merges`, false);

    const vocabObj = expectObject(required(obj.vocab, `${field}.vocab`), `${field}.vocab`);
    this.vocab = new Map();
    this.idToToken = new Map();
    for (const [token, id] of Object.entries(vocabObj)) {
      expectInt(id, `${field}.vocab[${JSON.stringify(token)}]`);
      this.vocab.set(token, id as number);
      this.idToToken.set(id as number, token);
    }
    let maxId = -1;
    for (const id of this.idToToken.keys()) if (id > maxId) maxId = id;
    if (maxId >= 1 << 26) throw new TokenizerConfigError(`${field}.vocab`,
      `ids up to ${maxId} exceed the supported 2^26`);

    this.unkToken = obj.unk_token === undefined || obj.unk_token === null ? null :
      expectString(obj.unk_token, `${field}.unk_token`);
    this.unkId = this.unkToken === null ? undefined : this.vocab.get(this.unkToken);

    // Without its merges a BPE model would still encode (one token per byte) but not as trained: required.
    const merges = expectArray(required(obj.merges, `${field}.merges`), `${field}.merges`);
    this.merges = new Map();
    this.mergeIds = new Int32Array(merges.length);
    for (let rank = 0; rank < merges.length; rank++) {
      const f = `${field}.merges[${rank}]`;
      const m = merges[rank];
      let a: string;
      let b: string;
      if (typeof m === 'string') {
        const sp = m.indexOf(' ');
        if (sp <= 0 || sp === m.length - 1 || m.indexOf(' ', sp + 1) >= 0) {
          throw new TokenizerConfigError(f, `expected "left right" (two tokens separated by one ` +
            `space), got ${describe(m)}`);
        }
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
        a = m[0];
        b = m[1];
      } else {
        throw new TokenizerConfigError(f, `expected "left right" or ["left", "right"], got ${describe(m)}`);
      }
      const ida = this.vocab.get(a);
      const idb = this.vocab.get(b);
      const mergedToken = a + (this.prefix && b.startsWith(this.prefix) ? b.slice(this.prefix.length) : b);
      const idm = this.vocab.get(mergedToken);
      if (ida === undefined) throw new TokenizerConfigError(f, `left part ${JSON.stringify(a)} is not in model.vocab`);
      if (idb === undefined) throw new TokenizerConfigError(f, `right part ${JSON.stringify(b)} is not in model.vocab`);
      if (idm === undefined) throw new TokenizerConfigError(f,
        `merged token ${JSON.stringify(mergedToken)} is not in model.vocab`);
      const key = ida * 0x4000000 + idb;
      if (!this.merges.has(key)) {
        this.merges.set(key, rank);
        this.mergeIds[rank] = idm;
      }
    }
  }

  /** Ids for one pre-token (cached). The returned array must not be modified. */
  tokenize(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const ids = this.tokenizeUncached(word);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  private tokenizeUncached(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    // Initial symbols: one per code point, with the subword prefix / word suffix applied.
    const chars = Array.from(word);
    const ids: number[] = [];
    let pendingUnk = false;
    for (let k = 0; k < chars.length; k++) {
      let s = chars[k];
      if (k > 0 && this.prefix) s = this.prefix + s;
      if (k === chars.length - 1 && this.suffix) s = s + this.suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (pendingUnk) ids.push(this.unkId!);
        pendingUnk = false;
        ids.push(id);
      } else if (this.unkToken !== null) {
        if (this.unkId === undefined) {
          throw new TokenizerConfigError('model.unk_token', `unk_token ` +
            `${JSON.stringify(this.unkToken)} is not in model.vocab`);
        }
        if (pendingUnk && !this.fuseUnk) ids.push(this.unkId);
        pendingUnk = true;
      }
      // else: like the reference implementation, a character with no token and no unk is dropped.
    }
    if (pendingUnk) ids.push(this.unkId!);
    if (ids.length < 2 || this.merges.size === 0) return ids;
    return this.applyMerges(ids);
  }

  private applyMerges(ids: number[]): number[] {
    const n = ids.length;
    const sym = Int32Array.from(ids);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      next[k] = k + 1 < n ? k + 1 : -1;
      prev[k] = k - 1;
    }
    const heap = this.heap;
    heap.clear();
    const rankOf = (a: number, b: number): number => {
      const r = this.merges.get(a * 0x4000000 + b);
      return r === undefined ? -1 : r;
    };
    for (let k = 0; k + 1 < n; k++) {
      const r = rankOf(sym[k], sym[k + 1]);
      if (r >= 0) heap.push(r, k);
    }
    while (heap.size > 0) {
      const [rank, pos] = heap.pop();
      // Skip stale candidates: the left symbol was absorbed, or its pair changed since it was queued.
      if (sym[pos] < 0) continue;
      const right = next[pos];
      if (right < 0 || rankOf(sym[pos], sym[right]) !== rank) continue;
      sym[pos] = this.mergeIds[rank];
      sym[right] = -1;
      const after = next[right];
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      const before = prev[pos];
      if (before >= 0) {
        const r = rankOf(sym[before], sym[pos]);
        if (r >= 0) heap.push(r, before);
      }
      if (after >= 0) {
        const r = rankOf(sym[pos], sym[after]);
        if (r >= 0) heap.push(r, pos);
      }
    }
    const out: number[] = [];
    for (let k = 0; k >= 0; k = next[k]) out.push(sym[k]);
    return out;
  }
}
