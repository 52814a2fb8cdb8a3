/**
 * GlmAsr.load against checkpoints that do not fit their config or fail half-way (issue 14 §3, §4): a mismatch is
 * an error naming the tensors before any device exists; a load that fails while streaming the weights releases
 * everything it allocated (the weights on a shared device; the device itself when load created it).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Gpu } from '../../src/gpu';
import { GlmAsr } from '../../src/models/glm-asr/node';
import type { FileProvider } from '../../src/weights/checkpoint';
import { NodeFolderProvider } from '../../src/weights/node-file-source';
import type { ByteSource } from '../../src/weights/sources';
import { testGpu } from '../helpers/gpu';

const TINY = join(__dirname, '..', 'goldens', 'tiny');
const tmp = mkdtempSync(join(tmpdir(), 'glm-asr-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the tiny model with `edit` applied to its config.json and/or safetensors header. */
function variant(name: string, edit: { config?: (c: any) => void; header?: (h: Record<string, any>) => void }): string {
  const dir = join(tmp, name);
  cpSync(TINY, dir, { recursive: true });
  if (edit.config) {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    edit.config(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  }
  if (edit.header) {
    const file = readFileSync(join(dir, 'model.safetensors'));
    const n = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
    edit.header(header);
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([len, json, file.subarray(8 + n)]));
  }
  return dir;
}

/** The tiny model, whose tensor data cannot be read past the middle of model.safetensors (a dropped connection). */
class FailingProvider extends NodeFolderProvider {
  override async open(relPath: string): Promise<ByteSource> {
    const src = await super.open(relPath);
    if (relPath !== 'model.safetensors') return src;
    const failAt = Math.floor((await src.size()) / 2);
    return {
      name: src.name,
      size: () => src.size(),
      close: () => src.close?.() ?? Promise.resolve(),
      read: (offset, length) =>
        offset + length > failAt ? Promise.reject(new Error('injected read failure')) : src.read(offset, length),
    };
  }
}

/** Devices Gpu.create made while `run` ran. */
async function createdDevices(run: () => Promise<void>): Promise<Gpu[]> {
  const created: Gpu[] = [];
  const create = Gpu.create.bind(Gpu);
  const spy = vi.spyOn(Gpu, 'create').mockImplementation(async (o) => {
    const g = await create(o);
    created.push(g);
    return g;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return created;
}

describe('GlmAsr.load', () => {
  afterEach(() => vi.restoreAllMocks());

  it('rejects a config with one decoder layer fewer than its checkpoint, naming the unused tensors', async () => {
    const dir = variant('fewer-layers', { config: (c) => { c.text_config.num_hidden_layers -= 1; } });
    const layers = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')).text_config.num_hidden_layers;
    const devices = await createdDevices(async () => {
      await expect(GlmAsr.load(dir, { precision: 'f32' })).rejects.toThrow(
        new RegExp(`the configuration does not use \\(language_model\\.model\\.layers\\.${layers - 1}\\.`));
    });
    expect(devices).toHaveLength(0);
  });

  it('rejects an I16 tensor by name before any device', async () => {
    // The tiny checkpoint is BF16: I16 keeps every byte range.
    const dir = variant('i16', { header: (h) => { h['audio_tower.layers.0.mlp.fc1.bias'].dtype = 'I16'; } });
    const devices = await createdDevices(async () => {
      await expect(GlmAsr.load(dir, { precision: 'f32' })).rejects.toThrow(
        'audio_tower.layers.0.mlp.fc1.bias: dtype I16; only BF16, F16 and F32 weights are supported');
    });
    expect(devices).toHaveLength(0);
  });

  it('20 loads failing half-way through the weights leave a shared device as they found it', async () => {
    const gpu = await testGpu();
    const failing = new FailingProvider(TINY);
    await expect(GlmAsr.load(failing, { gpu, precision: 'f32' })).rejects.toThrow('injected read failure');
    const live = gpu.pool.stats.liveBytes; // after one failure: the staging buffers now pooled for reuse
    for (let i = 0; i < 20; i++) {
      await expect(GlmAsr.load(failing, { gpu, precision: 'f32' })).rejects.toThrow('injected read failure');
    }
    expect(gpu.pool.stats.liveBytes).toBe(live);
  });

  it('a load that fails half-way destroys the device it created', async () => {
    const failing: FileProvider = new FailingProvider(TINY);
    const devices = await createdDevices(async () => {
      for (let i = 0; i < 3; i++) {
        await expect(GlmAsr.load(failing, { precision: 'f32' })).rejects.toThrow('injected read failure');
      }
    });
    expect(devices).toHaveLength(3);
    const timeout = new Promise<string>((r) => setTimeout(() => r('still alive after 5 s'), 5000));
    for (const g of devices) {
      expect(await Promise.race([g.device.lost.then((info) => info.reason as string), timeout])).toBe('destroyed');
    }
  });

  it('dispose frees the weights on a shared device', async () => {
    const gpu = await testGpu();
    const asr = await GlmAsr.load(TINY, { gpu, precision: 'f32' });
    const loaded = gpu.pool.stats.liveBytes;
    const weights = asr.weights.bytes;
    expect(weights).toBeGreaterThan(0);
    asr.dispose();
    expect(loaded - gpu.pool.stats.liveBytes).toBe(weights);
  });
});
