/**
 * Seeded fuzzing of the model files a user may hand us: safetensors headers, the config JSON files and
 * tokenizer.json. Each case mutates a valid file (JSON structure, JSON text or raw bytes) and loads it; the only
 * acceptable failure is the library's own typed error for that file kind (SafetensorsError, ConfigError,
 * TokenizerConfigError). Anything else — a TypeError, a RangeError from a typed array or the stack — is a crash,
 * and every case must finish quickly (no hang). A failure prints the case's seed and index: rerun with
 * `FUZZ_SEED=<seed>` to reproduce.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  parseGlmAsrConfig,
  validateAgainstTensors,
  type GlmAsrConfigFiles,
} from '../../src/models/glm-asr/config';
import { Tokenizer, TokenizerConfigError } from '../../src/tokenizer';
import { Checkpoint, FileMapProvider } from '../../src/weights/checkpoint';
import { MemorySource } from '../../src/weights/sources';
import { SafetensorsError, SafetensorsFile } from '../../src/weights/safetensors';
import { writeSafetensors } from '../../src/weights/safetensors-writer';
import { makeGlmTokenizerJson } from '../tokenizer/make-glm-tokenizer';
import { mutateBytes, mutateJson, mutateText, nest, Rng } from './mutate';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
/** Longest one case may take (a generous bound on a busy 2-core machine; real cases take well under 10 ms). */
const SLOW_CASE_MS = 2000;
const TINY = join(__dirname, '..', 'goldens', 'tiny');

interface Report {
  cases: number;
  accepted: number;
  /** Indices of the accepted cases (the first 20). */
  acceptedCases: number[];
  rejected: number;
  crashes: string[];
  slowestMs: number;
}

/**
 * Runs `n` cases; case i gets its own Rng (seed, i) so it can be replayed alone. `allowed` says which thrown
 * errors are the library's typed rejection of bad input.
 */
async function fuzz(
  label: string,
  n: number,
  allowed: (e: unknown) => boolean,
  run: (r: Rng, i: number) => unknown,
): Promise<Report> {
  const report: Report = { cases: n, accepted: 0, acceptedCases: [], rejected: 0, crashes: [], slowestMs: 0 };
  for (let i = 0; i < n; i++) {
    const r = new Rng((SEED ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
    const t0 = performance.now();
    try {
      await run(r, i);
      if (report.accepted++ < 20) report.acceptedCases.push(i);
    } catch (e) {
      if (allowed(e)) report.rejected++;
      else if (report.crashes.length >= 5) report.crashes.push(`${label} case ${i}`);
      else report.crashes.push(`${label} seed ${SEED} case ${i}: ${(e as Error)?.stack ?? String(e)}`);
    }
    const ms = performance.now() - t0;
    if (ms > report.slowestMs) report.slowestMs = ms;
    if (ms > SLOW_CASE_MS) report.crashes.push(`${label} seed ${SEED} case ${i}: took ${ms.toFixed(0)} ms (hang?)`);
  }
  return report;
}

function expectClean(report: Report): void {
  expect(report.crashes).toEqual([]);
  expect(report.slowestMs).toBeLessThan(SLOW_CASE_MS);
  // The mutations must reach both outcomes, or the fuzzer tests nothing.
  expect(report.accepted).toBeGreaterThan(report.cases * 0.02);
  expect(report.rejected).toBeGreaterThan(report.cases * 0.2);
}

// ---------------------------------------------------------------------------------------------
// safetensors headers
// ---------------------------------------------------------------------------------------------

function baseSafetensors(): Uint8Array {
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, k) => (k * 31 + seed) & 0xff);
  return writeSafetensors(
    [
      { name: 'a.weight', dtype: 'F32', shape: [2, 3], data: bytes(24, 1) },
      { name: 'b.bias', dtype: 'BF16', shape: [4], data: bytes(8, 2) },
      { name: 'c.q', dtype: 'I8', shape: [2, 2, 2], data: bytes(8, 3) },
      { name: 'd.scalar', dtype: 'F16', shape: [], data: bytes(2, 4) },
      { name: 'e.empty', dtype: 'F32', shape: [0, 5], data: new Uint8Array(0) },
    ],
    { format: 'pt' },
  );
}

function splitSafetensors(file: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, unknown>;
  return { header, data: file.subarray(8 + n) };
}

function joinSafetensors(headerText: string, data: Uint8Array, declaredLength?: bigint): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

/** Opens the bytes and reads every tensor (of a small file) whole, by rows and in chunks, as the weight loader does. */
async function loadSafetensors(bytes: Uint8Array): Promise<void> {
  const st = await SafetensorsFile.open(new MemorySource(bytes, 'fuzz.safetensors'));
  if (st.tensors.size > 64) return;
  for (const [name, t] of st.tensors) {
    expect((await st.read(name)).byteLength).toBe(t.byteLength);
    const rows = t.shape.length ? t.shape[0] : 1;
    await st.readRows(name, 0, Math.min(1, rows));
    for await (const chunk of st.readChunks(name, 16)) expect(chunk.data.byteLength).toBeLessThanOrEqual(16);
  }
}

describe('fuzz: safetensors headers', () => {
  const base = baseSafetensors();
  const { header, data } = splitSafetensors(base);
  const headerText = JSON.stringify(header);

  it('2,000 mutated files: only SafetensorsError, no hang', async () => {
    const report = await fuzz('safetensors', 2000, (e) => e instanceof SafetensorsError, async (r) => {
      let bytes: Uint8Array;
      switch (r.int(6)) {
        case 0: // header JSON structure, correct length prefix
        case 1:
          bytes = joinSafetensors(
            JSON.stringify(mutateJson(r, header)),
            r.chance(0.8) ? data : data.subarray(0, r.int(data.length + 1)),
          );
          break;
        case 2: // header text damaged, correct length prefix
          bytes = joinSafetensors(mutateText(r, headerText), data);
          break;
        case 3: // bytes flipped in the length prefix and header
          bytes = mutateBytes(r, base, 8 + headerText.length + 8);
          break;
        case 4: { // a wrong length prefix
          const n = BigInt(headerText.length);
          const declared = r.pick([0n, 1n, n - 1n, n + 1n, n + 8n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n]);
          bytes = joinSafetensors(headerText, data, declared);
          break;
        }
        default: // truncated or extended file
          if (r.chance(0.5)) bytes = base.subarray(0, r.int(base.length));
          else bytes = Uint8Array.from([...base, ...new Uint8Array(1 + r.int(9))]);
      }
      await loadSafetensors(bytes);
    });
    expectClean(report);
  });

  it('pathological headers: deep nesting, huge shapes and names, many tensors', async () => {
    const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    /** 50,000 one-byte tensors with the given data_offsets. */
    const many = (offsets: (k: number) => string) => {
      const entry = (k: number) => `"t${k}":{"dtype":"U8","shape":[1],"data_offsets":${offsets(k)}}`;
      return `{${Array.from({ length: 50_000 }, (_, k) => entry(k)).join(',')}}`;
    };
    const cases = [
      `{"t":${deep(100_000)}}`,
      `{"t":{"dtype":"F32","shape":${deep(100_000)},"data_offsets":[0,0]}}`,
      `{"t":{"dtype":"F32","shape":[1],"data_offsets":${deep(100_000)}}}`,
      `{"__metadata__":${deep(100_000)}}`,
      `{"__metadata__":{"k":${deep(100_000)}}}`,
      `{"t":{"dtype":${deep(50_000)},"shape":[1],"data_offsets":[0,4]}}`,
      `{"t":{"dtype":"F32","shape":[${'1,'.repeat(200_000)}1],"data_offsets":[0,4]}}`,
      `{"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`,
      `{"${'n'.repeat(1_000_000)}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
      many((k) => `[${k},${k + 1}]`),
      many(() => '[0,1]'),
    ];
    const isSafetensorsError = (e: unknown) => e instanceof SafetensorsError;
    const report = await fuzz('safetensors-pathological', cases.length, isSafetensorsError, async (_r, i) => {
      await loadSafetensors(joinSafetensors(cases[i], new Uint8Array(i === 9 ? 50_000 : 4)));
    });
    expect(report.crashes).toEqual([]);
    // Valid files, only large: a 200,001-dimension shape, a 1 MB tensor name, 50,000 one-byte tensors.
    expect(report.acceptedCases).toEqual([6, 8, 9]);
  });
});

describe('fuzz: sharded checkpoint index', () => {
  const shard = (names: string[]) =>
    writeSafetensors(names.map((name) => ({ name, dtype: 'F32' as const, shape: [2], data: new Uint8Array(8) })));
  const shards = { 'model-1.safetensors': shard(['a', 'b']), 'model-2.safetensors': shard(['c']) };
  const index = {
    metadata: { total_size: 24 },
    weight_map: { a: 'model-1.safetensors', b: 'model-1.safetensors', c: 'model-2.safetensors' },
  };
  const open = async (indexText: string) => {
    const files = new Map<string, Blob>(Object.entries(shards).map(([k, v]) => [k, new Blob([v])]));
    files.set('model.safetensors.index.json', new Blob([indexText]));
    const ckpt = await Checkpoint.open(new FileMapProvider(files, 'fuzz'));
    for (const name of ckpt.tensors.keys()) await ckpt.read(name);
  };
  const isCheckpointError = (e: unknown) => e instanceof SafetensorsError;

  it('500 mutated index files, and deep or odd weight_map values: only SafetensorsError', async () => {
    const report = await fuzz('index', 500, isCheckpointError, async (r) => {
      await open(r.chance(0.8) ? JSON.stringify(mutateJson(r, index)) : mutateText(r, JSON.stringify(index)));
    });
    expectClean(report);
    const deep = '['.repeat(100_000) + '"x"' + ']'.repeat(100_000);
    const odd = [
      `{"weight_map":{"a":${deep}}}`,
      '{"weight_map":{"a":"../model-1.safetensors"}}',
      '{"weight_map":{"a":"/etc/passwd"}}',
      '{"weight_map":{"a":"model-1.safetensors\\u0000"}}',
      `{"weight_map":${deep}}`,
    ];
    const pathological = await fuzz('index-pathological', odd.length, isCheckpointError, async (_r, i) => open(odd[i]));
    expect(pathological.crashes).toEqual([]);
    expect(pathological.acceptedCases).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// config JSON
// ---------------------------------------------------------------------------------------------

describe('fuzz: config JSON', () => {
  const read = (f: string) => JSON.parse(readFileSync(join(TINY, f), 'utf8')) as unknown;
  const files = {
    config: read('config.json'),
    generationConfig: read('generation_config.json'),
    processorConfig: read('processor_config.json'),
    preprocessorConfig: read('preprocessor_config.json'),
  };
  const keys = Object.keys(files) as Array<keyof typeof files>;

  /** The tiny checkpoint's tensors: a parsed config is checked against them, as `GlmAsr.load` does. */
  let tensors: SafetensorsFile['tensors'];
  beforeAll(async () => {
    tensors = (await SafetensorsFile.open(new MemorySource(readFileSync(join(TINY, 'model.safetensors'))))).tensors;
  });
  const load = (input: GlmAsrConfigFiles) => validateAgainstTensors(parseGlmAsrConfig(input), tensors);

  it('the unmutated files parse and match the checkpoint (the base of every case is valid)', () => {
    expect(() => load({ ...files })).not.toThrow();
  });

  it('2,000 mutated config sets: only ConfigError, no hang', async () => {
    const report = await fuzz('config', 2000, (e) => e instanceof ConfigError, (r) => {
      const input: GlmAsrConfigFiles = { ...files };
      const key = r.chance(0.6) ? 'config' : r.pick(keys);
      const mode = r.int(10);
      if (mode < 7) input[key] = mutateJson(r, files[key]);
      else if (mode < 9) input[key] = mutateText(r, JSON.stringify(files[key], null, 1));
      else input[key] = r.pick([undefined, null, 0, '', '[]', 'null', [], 'x']);
      load(input);
    });
    expectClean(report);
  });

  it('pathological values: deep nesting, huge sizes and counts', async () => {
    const deep = nest(100_000, 1, (v) => [v]);
    const big = (path: string[], value: unknown) => {
      const c = structuredClone(files.config) as Record<string, Record<string, unknown>>;
      if (path.length === 1) (c as Record<string, unknown>)[path[0]] = value;
      else c[path[0]][path[1]] = value;
      return c;
    };
    const cases: GlmAsrConfigFiles[] = [
      { ...files, config: big(['text_config', 'num_hidden_layers'], 2 ** 32) },
      { ...files, config: big(['audio_config', 'num_hidden_layers'], 2 ** 40) },
      { ...files, config: big(['text_config', 'hidden_size'], 2 ** 50) },
      { ...files, config: big(['text_config', 'vocab_size'], Number.MAX_SAFE_INTEGER) },
      { ...files, config: big(['text_config', 'eos_token_id'], deep) },
      { ...files, config: big(['text_config', 'rope_parameters'], deep) },
      { ...files, config: big(['text_config'], deep) },
      { ...files, config: big(['audio_token_id'], deep) },
      { ...files, config: big(['text_config', 'eos_token_id'], Array.from({ length: 1_000_000 }, (_, k) => k)) },
      { ...files, processorConfig: { ...(files.processorConfig as object), max_audio_len: 2 ** 40 } },
      { ...files, config: '['.repeat(100_000) + ']'.repeat(100_000) },
    ];
    const isConfigError = (e: unknown) => e instanceof ConfigError;
    const report = await fuzz('config-pathological', cases.length, isConfigError, (_r, i) => load(cases[i]));
    expect(report.crashes).toEqual([]);
    // Harmless: text_config's eos list is overridden by generation_config's, a long max_audio_len only allows
    // longer prompts (which then must fit the decoder's positions).
    expect(report.acceptedCases).toEqual([8, 9]);
  });
});

// ---------------------------------------------------------------------------------------------
// tokenizer.json
// ---------------------------------------------------------------------------------------------

const TEXTS = ['hello world', "It's 42, isn't it?", '数字 123 粤语', '<|user|>\nhi<|assistant|>', ' \t\r\n\u0085\u3000x',
  '😀👍🏽 é'];

/** Builds the tokenizer and runs what transcription uses: encode, decode (whole and streaming), id lookups. */
function useTokenizer(json: unknown, r: Rng): void {
  const tok = Tokenizer.fromJSON(json, { file: 'fuzz/tokenizer.json' });
  for (const text of TEXTS) {
    const ids = tok.encode(text);
    tok.decode(ids, { skipSpecialTokens: r.chance(0.5) });
    tok.tokenize(text);
  }
  const ids = Array.from({ length: 20 }, () => r.int(tok.vocabSize + 3) - 1);
  tok.decode(ids);
  const stream = tok.createStreamingDecoder();
  for (const id of ids) stream.push(id);
  stream.flush();
}

describe('fuzz: tokenizer.json', () => {
  const glm = makeGlmTokenizerJson({ merges: 120 });
  const tiny = JSON.parse(readFileSync(join(TINY, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const isTokenizerError = (e: unknown) => e instanceof TokenizerConfigError;

  it('1,500 mutated tokenizer files: only TokenizerConfigError, no hang', async () => {
    const report = await fuzz('tokenizer', 1500, isTokenizerError, (r) => {
      const base = r.chance(0.5) ? glm : tiny;
      const json = r.chance(0.85) ? mutateJson(r, base) : mutateText(r, JSON.stringify(base));
      useTokenizer(json, r);
    });
    expectClean(report);
  });

  it('pathological files: deep nesting of every Sequence, huge ids', async () => {
    const seq = (field: string, leaf: unknown, key: string) =>
      ({ ...tiny, [field]: nest(20_000, leaf, (v) => ({ type: 'Sequence', [key]: [v] })) });
    const cases: unknown[] = [
      seq('pre_tokenizer', { type: 'ByteLevel', add_prefix_space: false, use_regex: true }, 'pretokenizers'),
      seq('normalizer', { type: 'NFC' }, 'normalizers'),
      seq('post_processor', { type: 'ByteLevel' }, 'processors'),
      { ...tiny, decoder: nest(100_000, { type: 'ByteLevel' }, (v) => [v]) },
      { ...tiny, added_tokens: nest(100_000, 1, (v) => [v]) },
      { ...tiny, model: { ...(tiny.model as object), vocab: { a: 2 ** 26, b: 0 } } },
      { ...tiny, model: { ...(tiny.model as object), merges: nest(100_000, 'a b', (v) => [v]) } },
      '['.repeat(100_000) + ']'.repeat(100_000),
    ];
    const report = await fuzz('tokenizer-pathological', cases.length, isTokenizerError, (r, i) => {
      useTokenizer(cases[i], r);
    });
    expect(report.crashes).toEqual([]);
    expect(report.acceptedCases).toEqual([]);
  });
});
