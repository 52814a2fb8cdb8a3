/**
 * The VAD weights of `segmenter: 'vad'`: a missing or malformed file is an error naming the file, found at load
 * before the model's device is created; the option is validated; an engine without them refuses 'vad' by name.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { GlmAsr as Engine } from '../../src/models/glm-asr/transcriber';
import { NodeFolderProvider } from '../../src/weights/node-file-source';
import { testGpu } from '../helpers/gpu';

const REPO = join(__dirname, '..', '..');
const VAD = join(REPO, 'models', 'silero-vad-v5');
const TINY = join(REPO, 'test', 'goldens', 'tiny');

describe('VAD weights at load', () => {
  it('a missing file is a VadModelError naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glm-asr-vad-'));
    copyFileSync(join(VAD, 'config.json'), join(dir, 'config.json'));
    await expect(GlmAsr.load(TINY, { vad: new NodeFolderProvider(dir) })).rejects.toMatchObject({
      name: 'VadModelError', message: expect.stringContaining(join(dir, 'model.safetensors')),
    });
    await expect(GlmAsr.load(TINY, { vad: new NodeFolderProvider(join(dir, 'nope')) })).rejects.toMatchObject({
      name: 'VadModelError', message: expect.stringContaining('config.json'),
    });
  });

  it('a malformed file is a VadModelError naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glm-asr-vad-'));
    copyFileSync(join(VAD, 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, 'model.safetensors'), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    await expect(GlmAsr.load(TINY, { vad: new NodeFolderProvider(dir) })).rejects.toMatchObject({
      name: 'VadModelError', message: expect.stringContaining(join(dir, 'model.safetensors')),
    });
    const files = { config: '{"format": ', weights: new Uint8Array(8), name: '/somewhere/vad' };
    await expect(GlmAsr.load(TINY, { vad: files })).rejects.toMatchObject({
      name: 'VadModelError', message: expect.stringContaining('/somewhere/vad/config.json'),
    });
  });

  it('the option is checked; an engine without VAD weights refuses segmenter vad, naming the way out', async () => {
    await expect(GlmAsr.load(TINY, { vad: 42 as never })).rejects.toMatchObject({ name: 'OptionError', option: 'vad' });
    const engine = await Engine.load(new NodeFolderProvider(TINY), { gpu: await testGpu(), precision: 'f32' });
    try {
      const audio = { samples: new Float32Array(16000), sampleRate: 16000 };
      await expect(engine.transcribe(audio)).rejects.toMatchObject({
        name: 'OptionError', option: 'segmenter', message: expect.stringContaining("segmenter: 'fixed'"),
      });
      expect((await engine.transcribe(audio, { segmenter: 'fixed', maxNewTokens: 2 })).segments.length).toBe(1);
    } finally {
      engine.dispose();
    }
  });
});
