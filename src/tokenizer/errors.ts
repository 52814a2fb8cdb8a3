/** Thrown when a tokenizer.json is malformed or uses a feature this implementation does not support. */
export class TokenizerConfigError extends Error {
  override readonly name = 'TokenizerConfigError';

  constructor(
    /** Dotted path of the offending field inside tokenizer.json, e.g. `model.merges[12]`. */
    readonly field: string,
    /** What is wrong, without file and field (the message prefixes them). */
    readonly problem: string,
    /** The file, as the caller named it (`Tokenizer.fromJSON`'s `file` option). */
    readonly file = 'tokenizer.json',
  ) {
    super(`${file}: ${field}: ${problem}`);
  }
}

/** Deepest nesting of Sequence inside Sequence accepted (real files use 1; a crafted file could exhaust the stack). */
export const MAX_SEQUENCE_DEPTH = 16;

export function checkSequenceDepth(field: string, depth: number): void {
  if (depth >= MAX_SEQUENCE_DEPTH) {
    throw new TokenizerConfigError(field, `Sequence nested more than ${MAX_SEQUENCE_DEPTH} deep`);
  }
}

/** Throws "missing" unless the field is present (null counts as missing). */
export function required(value: unknown, field: string): unknown {
  if (value === undefined || value === null) throw new TokenizerConfigError(field, 'required field is missing');
  return value;
}

/** Throws unless `value` is a plain (non-null, non-array) object. */
export function expectObject(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenizerConfigError(field, `expected an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

export function expectArray(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new TokenizerConfigError(field, `expected an array, got ${describe(value)}`);
  return value;
}

export function expectString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new TokenizerConfigError(field, `expected a string, got ${describe(value)}`);
  return value;
}

export function expectInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TokenizerConfigError(field, `expected a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** Optional boolean: `undefined`/`null` give `fallback`. */
export function optBool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new TokenizerConfigError(field, `expected a boolean, got ${describe(value)}`);
  return value;
}

/** Optional string: `undefined`/`null` give `fallback`. */
export function optString(value: unknown, field: string, fallback: string): string {
  if (value === undefined || value === null) return fallback;
  return expectString(value, field);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ` +
    `${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
