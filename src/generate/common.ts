/** Small helpers shared by the searches. */

/** What `guard` resolves to when the search must stop because its signal was aborted. */
export const ABORTED: unique symbol = Symbol('aborted');

/**
 * Runs one model call unless `signal` is already aborted. When the call rejects while `signal` is
 * aborted (the model gave up because of the abort, whatever error it threw), resolves to `ABORTED`;
 * the search then returns `finishReason: 'aborted'`. Other rejections propagate unchanged.
 */
export async function guard<T>(signal: AbortSignal | undefined,
  call: () => T | Promise<T>): Promise<T | typeof ABORTED> {
  if (signal?.aborted) return ABORTED;
  try {
    return await call();
  } catch (err) {
    if (signal?.aborted) return ABORTED;
    throw err;
  }
}

export function checkInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`;
    throw new RangeError(`${name} must be an integer ${range}, got ${value}`);
  }
}

/** Validated, de-duplicated eos ids. */
export function eosSet(ids: readonly number[], vocabSize: number): Set<number> {
  for (const id of ids) checkInt('eos token id', id, 0, vocabSize - 1);
  return new Set(ids);
}
