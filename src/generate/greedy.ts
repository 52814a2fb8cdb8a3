/**
 * Greedy decoding: transformers `generate(do_sample=False, num_beams=1)` for one prompt.
 *
 * Each step takes the argmax of the last logits (float32, no logits processor, ties → lowest id) and
 * stops when that token is an eos id or when `maxNewTokens` tokens (the eos included) exist.
 * transformers' output sequence ends with the eos; here `tokens` leaves it out and `eosToken` says
 * which one it was. The model is advanced only when another token is needed: generating n tokens
 * costs one prefill and n - 1 steps.
 */
import { ABORTED, checkInt, eosSet, guard } from './common';
import type { GreedyOptions, GreedyResult, SearchModel } from './types';

export async function greedy(model: SearchModel, options: GreedyOptions): Promise<GreedyResult> {
  const { maxNewTokens, signal, onToken } = options;
  checkInt('maxNewTokens', maxNewTokens, 1);
  const eos = eosSet(options.eosTokenIds, model.vocabSize);
  const tokens: number[] = [];
  const aborted = (): GreedyResult => ({ tokens, finishReason: 'aborted' });

  if ((await guard(signal, () => model.prefill(signal))) === ABORTED) return aborted();
  for (;;) {
    const ids = await guard(signal, () => model.argmax(1));
    if (ids === ABORTED) return aborted();
    const token = ids[0];
    if (eos.has(token)) return { tokens, finishReason: 'eos', eosToken: token };
    tokens.push(token);
    onToken?.(token, tokens.length - 1);
    if (tokens.length >= maxNewTokens) return { tokens, finishReason: 'length' };
    if ((await guard(signal, () => model.step(Int32Array.of(token), signal))) === ABORTED) return aborted();
  }
}
