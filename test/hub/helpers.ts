import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { randomCommit, type FakeFile, type FakeRepo } from './fake-hub';

/** Every variable the hub code reads: cleared for each test so the host's own settings never leak in. */
export const HUB_ENV_KEYS = [
  'HF_ENDPOINT',
  'HF_HOME',
  'HF_HUB_CACHE',
  'HUGGINGFACE_HUB_CACHE',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
  'HF_TOKEN_PATH',
  'HF_HUB_OFFLINE',
  'TRANSFORMERS_OFFLINE',
  'XDG_CACHE_HOME',
] as const;

/** Clear the hub variables, point HF_HOME at a fresh temp dir; returns it and a restore function. */
export async function isolateHubEnv(): Promise<{ home: string; restore: () => Promise<void> }> {
  const saved = new Map<string, string | undefined>(HUB_ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of HUB_ENV_KEYS) delete process.env[k];
  const home = await mkdtemp(path.join(os.tmpdir(), 'glm-asr-hub-'));
  process.env.HF_HOME = home;
  return {
    home,
    restore: async () => {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * A GLM-ASR-like repo: single-file weights (LFS), no processor/preprocessor config, plus files the engine does not
 * use.
 */
export function singleFileRepo(id = 'test-org/tiny-asr', weightsSize = 300_000): FakeRepo {
  const files: FakeFile[] = [
    { path: 'config.json', data: text('{"model_type":"glmasr","hidden_size":8}\n') },
    { path: 'generation_config.json', data: text('{"eos_token_id":[1,2]}\n') },
    { path: 'tokenizer.json', data: text('{"model":{"type":"BPE","vocab":{},"merges":[]}}\n') },
    { path: 'tokenizer_config.json', data: text('{"model_max_length":8192}\n') },
    { path: 'chat_template.jinja', data: text('{{ messages }}\n') },
    { path: 'model.safetensors', data: bytes(weightsSize, 1), lfs: true },
    { path: 'README.md', data: text('# tiny\n') },
    { path: '.gitattributes', data: text('*.safetensors filter=lfs diff=lfs merge=lfs -text\n') },
  ];
  return { id, commit: randomCommit(), files };
}

/** Sharded weights: an index + two LFS shards. */
export function shardedRepo(id = 'test-org/sharded-asr'): FakeRepo {
  const s1 = 'model-00001-of-00002.safetensors';
  const s2 = 'model-00002-of-00002.safetensors';
  const index = { metadata: { total_size: 3000 }, weight_map: { 'a.weight': s1, 'b.weight': s1, 'c.weight': s2 } };
  return {
    id,
    commit: randomCommit(),
    files: [
      { path: 'config.json', data: text('{"model_type":"glmasr"}\n') },
      { path: 'tokenizer.json', data: text('{"model":{}}\n') },
      { path: 'model.safetensors.index.json', data: text(JSON.stringify(index)), lfs: false },
      { path: s1, data: bytes(2000, 2), lfs: true },
      { path: s2, data: bytes(1000, 3), lfs: true },
      { path: 'onnx/encoder.onnx', data: bytes(500, 4), lfs: true },
    ],
  };
}

export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}
