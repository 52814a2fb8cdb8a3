/**
 * Real-weights conformance: with GLM_ASR_MODEL_DIR pointing at the official zai-org/GLM-ASR-Nano-2512
 * checkpoint (config.json, model.safetensors, tokenizer.json, processor config), the engine must reproduce the
 * published transcripts of the two reference clips in ../shared/corpus. Skipped otherwise — the 4.5 GB
 * checkpoint cannot be downloaded on the CI machines. To run it:
 *   GLM_ASR_MODEL_DIR=/path/to/GLM-ASR-Nano-2512 npm run test:node -- test/e2e/real-weights.test.ts
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { CORPUS, HAS_CORPUS, loadManifest } from '../audio/helpers';
import { skipWhen } from '../helpers/skip';

const MODEL_DIR = process.env.GLM_ASR_MODEL_DIR;
const skipReason = !MODEL_DIR
  ? 'GLM_ASR_MODEL_DIR is not set: set it to a folder with the official GLM-ASR-Nano-2512 checkpoint to run this test'
  : !existsSync(join(MODEL_DIR, 'config.json'))
    ? `GLM_ASR_MODEL_DIR=${MODEL_DIR} has no config.json`
    : !HAS_CORPUS
      ? '../shared/corpus is absent'
      : '';

/** Lower-case, no punctuation, single spaces: the published transcripts carry no punctuation. */
const normalise = (s: string) => s.toLowerCase().replace(/[\p{P}\p{S}]/gu, '').replace(/\s+/g, ' ').trim();

describe('official checkpoint', skipWhen(skipReason), () => {
  for (const file of ['audio/en-glmasr-example-f32.wav', 'audio/zh-glmasr-example-quiet.wav']) {
    it(`transcribes ${file} as published`, async () => {
      const clip = loadManifest().find((c) => c.file === file)!;
      const asr = await GlmAsr.load(MODEL_DIR!);
      try {
        const t = await asr.transcribe(new Uint8Array(readFileSync(join(CORPUS, file))),
          { name: file, maxNewTokens: 128 });
        expect(normalise(t.text)).toBe(normalise(clip.transcript));
      } finally {
        asr.dispose();
      }
    }, 600_000);
  }
});
