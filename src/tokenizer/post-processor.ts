import {
  TokenizerConfigError,
  checkSequenceDepth,
  describe,
  expectArray,
  expectInt,
  expectObject,
  expectString,
} from './errors';

/** Wraps the ids of one encoded sequence (called only when special tokens are requested). */
export type PostProcessor = (ids: number[]) => number[];

const SUPPORTED = 'TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence';

function clsSep(obj: Record<string, unknown>, field: string): PostProcessor {
  const pair = (key: 'cls' | 'sep'): number => {
    const v = expectArray(obj[key], `${field}.${key}`);
    if (v.length !== 2) throw new TokenizerConfigError(`${field}.${key}`, 'expected [token, id]');
    expectString(v[0], `${field}.${key}[0]`);
    return expectInt(v[1], `${field}.${key}[1]`);
  };
  const cls = pair('cls');
  const sep = pair('sep');
  return (ids) => [cls, ...ids, sep];
}

/** Returns null for a null/absent post-processor or one that never changes ids. */
export function buildPostProcessor(value: unknown, field = 'post_processor', depth = 0): PostProcessor | null {
  if (value === null || value === undefined) return null;
  const obj = expectObject(value, field);
  switch (obj.type) {
    case 'ByteLevel':
      return null; // only adjusts offsets
    case 'BertProcessing':
    case 'RobertaProcessing':
      return clsSep(obj, field);
    case 'TemplateProcessing': {
      const specials = obj.special_tokens === undefined || obj.special_tokens === null ? {} :
        expectObject(obj.special_tokens, `${field}.special_tokens`);
      const single = expectArray(obj.single, `${field}.single`);
      // Each template piece becomes either a list of fixed ids or null (= the sequence itself).
      const pieces: Array<number[] | null> = single.map((item, k) => {
        const f = `${field}.single[${k}]`;
        const it = expectObject(item, f);
        if (it.Sequence !== undefined) {
          const seq = expectObject(it.Sequence, `${f}.Sequence`);
          if (seq.id !== 'A') throw new TokenizerConfigError(`${f}.Sequence.id`,
            `a single-sequence template can only use sequence "A", got ${describe(seq.id)}`);
          return null;
        }
        if (it.SpecialToken !== undefined) {
          const st = expectObject(it.SpecialToken, `${f}.SpecialToken`);
          const name = expectString(st.id, `${f}.SpecialToken.id`);
          const entry = specials[name];
          if (entry === undefined) {
            throw new TokenizerConfigError(`${field}.special_tokens`,
              `template uses special token ${JSON.stringify(name)} that is not listed here`);
          }
          const e = expectObject(entry, `${field}.special_tokens[${JSON.stringify(name)}]`);
          return expectArray(e.ids, `${field}.special_tokens[${JSON.stringify(name)}].ids`).map((id, j) =>
            expectInt(id, `${field}.special_tokens[${JSON.stringify(name)}].ids[${j}]`),
          );
        }
        throw new TokenizerConfigError(f, `expected {"Sequence": ...} or {"SpecialToken": ...}, got keys ` +
          `[${Object.keys(it).join(', ')}]`);
      });
      return (ids) => {
        const out: number[] = [];
        for (const piece of pieces) {
          if (piece === null) for (const id of ids) out.push(id);
          else for (const id of piece) out.push(id);
        }
        return out;
      };
    }
    case 'Sequence': {
      checkSequenceDepth(field, depth);
      const steps = expectArray(obj.processors, `${field}.processors`)
        .map((p, k) => buildPostProcessor(p, `${field}.processors[${k}]`, depth + 1))
        .filter((p): p is PostProcessor => p !== null);
      if (steps.length === 0) return null;
      return (ids) => steps.reduce((acc, step) => step(acc), ids);
    }
    default:
      throw new TokenizerConfigError(`${field}.type`, `unsupported post_processor type ${describe(obj.type)} ` +
        `(supported: ${SUPPORTED})`);
  }
}
