/**
 * The model bench's depth truncation (bench/model/checkpoint.ts): a checkpoint seen with fewer layers must load
 * (the loader refuses tensors the config does not use), and every kept tensor must read the original bytes.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelProvider } from '../../bench/model/checkpoint';
import { GlmAsr } from '../../src/models/glm-asr/transcriber';
import { Checkpoint } from '../../src/weights/checkpoint';
import { NodeFolderProvider } from '../../src/weights/node-file-source';
import { REPO } from '../audio/helpers';

describe('bench: a checkpoint truncated to fewer layers', () => {
  const open: { close(): Promise<void> | void }[] = [];
  afterAll(async () => {
    for (const o of open) await o.close();
  });

  // tiny: one model.safetensors, 2 + 2 layers; tiny-b: two shards and an index, 3 + 3 layers.
  it.each([
    ['tiny', 1, 1, /^(audio_tower|language_model\.model)\.layers\.1\./],
    ['tiny-b', 2, 1, /^(audio_tower\.layers\.2|language_model\.model\.layers\.[12])\./],
  ])('%s to %i encoder and %i decoder layers: only those, with the original bytes, and it loads',
    async (name, enc, dec, droppedName) => {
      const dir = join(REPO, 'test/goldens', name);
      const { provider, use } = await modelProvider(dir, enc, dec);
      expect(use).toEqual({ encoder: enc, decoder: dec });
      const cut = await Checkpoint.open(provider);
      const whole = await Checkpoint.open(new NodeFolderProvider(dir));
      open.push(cut, whole);
      const dropped = [...whole.tensors.keys()].filter((n) => !cut.has(n));
      expect(dropped.length).toBeGreaterThan(0);
      expect(dropped.filter((n) => !droppedName.test(n))).toEqual([]);
      for (const t of cut.tensors.keys()) {
        expect(Buffer.from(await cut.read(t)).equals(Buffer.from(await whole.read(t))), t).toBe(true);
      }
      const asr = await GlmAsr.load(provider, { precision: 'f32' });
      open.push({ close: () => asr.dispose() });
      expect(asr.weights.encoderLayers).toHaveLength(enc);
      expect(asr.weights.decoderLayers).toHaveLength(dec);
    });
});
