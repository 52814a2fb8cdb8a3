/**
 * The small interface the searches (`greedy`, `beamSearch`) drive, and their options and results.
 *
 * The searches never see logits: the model reduces them where they live (on the GPU) and hands back
 * only an argmax per row or the top k (row, token, score) triples. Exact semantics, and the
 * transformers version they follow, are in `docs/generation.md`.
 */

/** One continuation: extend row `row` by `token`. */
export interface Candidate {
  /** The row (beam) the continuation extends, `0 ≤ row < rowScores.length`. */
  row: number;
  /** The token id, `0 ≤ token < vocabSize`. */
  token: number;
  /**
   * `rowScores[row] + logSoftmax(logits[row])[token]`, computed in float32: the log-softmax result is
   * an f32 value and the sum is rounded to f32 (transformers adds two float32 tensors).
   */
  score: number;
}

/**
 * A decoder with a KV cache of `maxRows` rows, positioned after a prompt.
 *
 * Row state = the KV cache of the row's sequence plus the logits that sequence predicts for the next
 * position ("last logits"). Row 0 is the only valid row right after `prefill`; rows become valid when
 * `reorder` copies a valid row into them. The searches call the methods strictly one at a time (they
 * await each promise before the next call).
 */
export interface SearchModel {
  /** Number of logits per row (the decoder's vocabulary size). */
  readonly vocabSize: number;

  /** Number of rows (beams) the model was set up for: the most rows `reorder`/`step` may address. */
  readonly maxRows: number;

  /** Runs the prompt; afterwards row 0 holds the prompt's KV cache and its last logits. */
  prefill(signal?: AbortSignal): Promise<void>;

  /**
   * Makes rows `0..src.length-1` copies of existing rows: new row `i` takes the KV cache and the last
   * logits of old row `src[i]` (all reads happen before any write, so `src` may be any mapping,
   * e.g. `[1, 0]` or `[0, 0, 0, 0]`). Every `src[i]` is a valid row. On the GPU: a copy or gather,
   * no re-decoding. May return a promise (awaited) or nothing.
   */
  reorder(src: readonly number[]): void | Promise<void>;

  /** Argmax of the last logits for rows `0..rows-1` (ties → lowest token id). */
  argmax(rows: number): Promise<Int32Array>;

  /**
   * The `k` best candidates over rows `0..rowScores.length-1` × vocabulary, where the score of
   * (row, token) is `f32(rowScores[row] + logSoftmax_f32(logits[row])[token])`, sorted by score
   * descending; equal scores: lower row first, then lower token (= lower flat index
   * `row * vocabSize + token`). `1 ≤ k ≤ rowScores.length * vocabSize`; returns exactly `k` entries.
   * `rowScores` may hold -1e9 (dead beams); no logits processor is applied.
   */
  topK(rowScores: Float32Array, k: number): Promise<Candidate[]>;

  /**
   * Appends one token per row (rows `0..tokens.length-1`, all valid) at the next position and
   * computes the new last logits of those rows.
   */
  step(tokens: Int32Array, signal?: AbortSignal): Promise<void>;
}

/** Why a search ended. */
export type FinishReason =
  /** The returned sequence ended on an eos token (which `tokens` does not include; see `eosToken`). */
  | 'eos'
  /** `maxNewTokens` tokens were generated without an eos. */
  | 'length'
  /** The signal was aborted; the result holds what the search had so far. */
  | 'aborted';

export interface GreedyOptions {
  /** Most tokens to generate, an eos included (transformers `max_new_tokens`). ≥ 1. */
  maxNewTokens: number;
  /** Token ids that end the sequence (transformers `eos_token_id`, a list). May be empty. */
  eosTokenIds: readonly number[];
  /** Checked before each model call; an abort ends the search with `finishReason: 'aborted'`. */
  signal?: AbortSignal;
  /** Called for each non-eos token as soon as it is chosen; `index` is its position in `tokens`. */
  onToken?: (token: number, index: number) => void;
}

export interface GreedyResult {
  /** The generated tokens, without the final eos. */
  tokens: number[];
  finishReason: FinishReason;
  /** The eos token that ended the sequence (transformers' output ends with it); only with 'eos'. */
  eosToken?: number;
}

/** transformers `early_stopping`: `true`, `false` (heuristic) or `'never'` (canonical beam search). */
export type EarlyStopping = boolean | 'never';

export interface BeamSearchOptions {
  /** Number of beams B (transformers `num_beams`), `1 ≤ B ≤ model.maxRows`. */
  beams: number;
  /** Most tokens to generate, an eos included (transformers `max_new_tokens`). ≥ 1. */
  maxNewTokens: number;
  /** Token ids that end a hypothesis (transformers `eos_token_id`). Duplicates are ignored. */
  eosTokenIds: readonly number[];
  /**
   * transformers `length_penalty`: hypothesis score = sum of log-probs / generated_len ** lengthPenalty.
   * Default 1.0.
   */
  lengthPenalty?: number;
  /**
   * transformers `early_stopping`. Default `true` (the reference call uses early_stopping=True; transformers' own
   * default is false).
   */
  earlyStopping?: EarlyStopping;
  /** Checked before each model call; an abort ends the search with `finishReason: 'aborted'`. */
  signal?: AbortSignal;
  /** Called after each step's bookkeeping, before the model is advanced. */
  onStep?: (info: BeamStepInfo) => void;
}

/** Progress of a beam search after one step. */
export interface BeamStepInfo {
  /** Tokens generated so far by the running beams (1 after the first step). */
  step: number;
  /** Tokens of the best running beam (it may end on an eos only at the last step). */
  best: number[];
  /** Sum of log-probs of `best` (not length-normalised). */
  bestScore: number;
  /** Number of finished hypotheses held (0..B). */
  finished: number;
  /** Whether the search stops after this step. */
  done: boolean;
}

/** A finished hypothesis. */
export interface Hypothesis {
  /** Generated tokens, without the final eos. */
  tokens: number[];
  /** sum of log-probs / generated_len ** lengthPenalty (transformers `sequences_scores`), f32. */
  score: number;
  /** The eos token the hypothesis ended on; absent when it was cut at `maxNewTokens`. */
  eosToken?: number;
}

export interface BeamSearchResult {
  /** The best hypothesis' tokens, without the final eos. */
  tokens: number[];
  /**
   * The best hypothesis' score (transformers `sequences_scores[0]`). With 'aborted': the best
   * running beam's sum of log-probs divided by its length ** lengthPenalty (NaN if nothing ran).
   */
  score: number;
  finishReason: FinishReason;
  /** The eos token the best hypothesis ended on; only with 'eos'. */
  eosToken?: number;
  /** All finished hypotheses, best first (at most B; empty when aborted before any finished). */
  hypotheses: Hypothesis[];
  /** Tokens generated by the running beams when the search stopped (= number of topK calls). */
  steps: number;
}
