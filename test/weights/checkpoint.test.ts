import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Checkpoint, CheckpointError, FileMapProvider, isSafeRelPath } from '../../src/weights/checkpoint';
import { NodeFolderProvider, openCheckpointFolder } from '../../src/weights/node-file-source';
import { SafetensorsError } from '../../src/weights/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/weights/safetensors-writer';
import { prngBytes, withTempDir } from './helpers';

const SHARD1 = 'model-00001-of-00002.safetensors';
const SHARD2 = 'model-00002-of-00002.safetensors';

function t(name: string, n: number, seed: number): TensorToWrite {
  return { name, dtype: 'BF16', shape: [n, 2], data: prngBytes(n * 4, seed) };
}

const shard1 = [t('a.weight', 3, 1), t('b.weight', 5, 2)];
const shard2 = [t('c.weight', 4, 3), t('d.weight', 1, 4)];

function indexJson(map: Record<string, string>): string {
  return JSON.stringify({ metadata: { total_size: 52 }, weight_map: map }, null, 2);
}

const fullMap = { 'a.weight': SHARD1, 'b.weight': SHARD1, 'c.weight': SHARD2, 'd.weight': SHARD2 };

async function writeSharded(dir: string, map: Record<string, string> = fullMap,
  s2: TensorToWrite[] = shard2): Promise<void> {
  await writeFile(path.join(dir, SHARD1), writeSafetensors(shard1, { format: 'pt' }));
  await writeFile(path.join(dir, SHARD2), writeSafetensors(s2, { format: 'pt' }));
  await writeFile(path.join(dir, 'model.safetensors.index.json'), indexJson(map));
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('Checkpoint (Node folder)', () => {
  it('opens a sharded checkpoint as one tensor map', async () => {
    await withTempDir(async (dir) => {
      await writeSharded(dir);
      const ck = await openCheckpointFolder(dir);
      try {
        expect(ck.sharded).toBe(true);
        expect(ck.indexMetadata).toEqual({ total_size: 52 });
        expect(ck.files.size).toBe(2);
        expect([...ck.tensors.keys()].sort()).toEqual(['a.weight', 'b.weight', 'c.weight', 'd.weight']);
        expect(ck.get('c.weight').file).toBe(SHARD2);
        for (const x of [...shard1, ...shard2]) expect(await ck.read(x.name)).toEqual(x.data);
        expect(await ck.readRows('b.weight', 1, 3)).toEqual(shard1[1].data.slice(4, 12));
        const chunks = [];
        for await (const c of ck.readChunks('b.weight', 8)) chunks.push(c.rowEnd - c.rowStart);
        expect(chunks).toEqual([2, 2, 1]);
        expect(ck.totalBytes).toBe(52);
        expect(ck.unindexedTensors).toEqual([]);
      } finally {
        await ck.close();
      }
    });
  });

  it('opens a single-file checkpoint', async () => {
    await withTempDir(async (dir) => {
      await writeFile(path.join(dir, 'model.safetensors'), writeSafetensors(shard1));
      const ck = await openCheckpointFolder(dir);
      expect(ck.sharded).toBe(false);
      expect(ck.get('a.weight').file).toBe('model.safetensors');
      expect(await ck.read('a.weight')).toEqual(shard1[0].data);
      await ck.close();
    });
  });

  it('reports a missing shard', async () => {
    await withTempDir(async (dir) => {
      await writeFile(path.join(dir, SHARD1), writeSafetensors(shard1));
      await writeFile(path.join(dir, 'model.safetensors.index.json'), indexJson(fullMap));
      const e = await rejection(openCheckpointFolder(dir));
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e).toBeInstanceOf(SafetensorsError);
      expect(e.message).toContain(SHARD2);
      expect(e.message).toMatch(/shard listed in model\.safetensors\.index\.json is missing/);
      expect(e.message).toMatch(/c\.weight/);
    });
  });

  it('reports a tensor listed in the index but absent from its shard', async () => {
    await withTempDir(async (dir) => {
      await writeSharded(dir, { ...fullMap, 'e.weight': SHARD2 });
      const e = await rejection(openCheckpointFolder(dir));
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e.message).toContain(SHARD2);
      expect(e.message)
        .toContain('tensor "e.weight": listed in model.safetensors.index.json for this shard but absent');
    });
  });

  it('reports a tensor mapped to the wrong shard with where it really is', async () => {
    await withTempDir(async (dir) => {
      await writeSharded(dir, { ...fullMap, 'c.weight': SHARD1 });
      const e = await rejection(openCheckpointFolder(dir));
      expect(e.message).toMatch(/tensor "c\.weight".*\(found in model-00002-of-00002\.safetensors\)/);
    });
  });

  it('reports a tensor stored in two shards', async () => {
    await withTempDir(async (dir) => {
      await writeSharded(dir, fullMap, [...shard2, t('a.weight', 3, 9)]);
      const e = await rejection(openCheckpointFolder(dir));
      expect(e).toBeInstanceOf(CheckpointError);
      expect(e.message).toContain('tensor "a.weight": tensor is stored in two shards: ' +
        'model-00001-of-00002.safetensors and model-00002-of-00002.safetensors');
    });
  });

  it('reports a corrupt shard with the shard file name', async () => {
    await withTempDir(async (dir) => {
      await writeSharded(dir);
      const full = writeSafetensors(shard2);
      await writeFile(path.join(dir, SHARD2), full.subarray(0, full.byteLength - 1));
      const e = await rejection(openCheckpointFolder(dir));
      expect(e).toBeInstanceOf(SafetensorsError);
      expect(e.message).toContain(SHARD2);
      expect(e.message).toMatch(/tensor "d\.weight"/);
    });
  });

  it('rejects bad indexes and empty folders', async () => {
    await withTempDir(async (dir) => {
      const e1 = await rejection(openCheckpointFolder(dir));
      expect(e1.message).toMatch(/no model\.safetensors or model\.safetensors\.index\.json found/);
      await writeFile(path.join(dir, 'model.safetensors.index.json'), '{"weight_map": {"a": "../evil.safetensors"}}');
      const e2 = await rejection(openCheckpointFolder(dir));
      expect(e2.message).toMatch(/tensor "a".*not a relative path inside the folder/);
      await writeFile(path.join(dir, 'model.safetensors.index.json'), '{"metadata": {}}');
      const e3 = await rejection(openCheckpointFolder(dir));
      expect(e3.message).toMatch(/model\.safetensors\.index\.json.*no "weight_map"/);
      await writeFile(path.join(dir, 'model.safetensors.index.json'), '{oops');
      const e4 = await rejection(openCheckpointFolder(dir));
      expect(e4.message).toMatch(/cannot read index/);
    });
  });

  it('lists tensors present in shards but not indexed', async () => {
    await withTempDir(async (dir) => {
      const { 'd.weight': _d, ...partial } = fullMap;
      await writeSharded(dir, partial);
      const ck = await openCheckpointFolder(dir);
      expect(ck.has('d.weight')).toBe(false);
      expect(ck.unindexedTensors).toEqual(['d.weight']);
      await expect(ck.read('d.weight')).rejects.toThrow(/tensor "d\.weight": no such tensor/);
      await ck.close();
    });
  });

  it('NodeFolderProvider keeps paths inside the folder and supports subfolders', async () => {
    await withTempDir(async (dir) => {
      await mkdir(path.join(dir, 'sub'));
      await writeFile(path.join(dir, 'sub', 'x.txt'), 'hello');
      const p = new NodeFolderProvider(dir);
      expect(await p.exists('sub/x.txt')).toBe(true);
      expect(await p.exists('sub')).toBe(false);
      expect(await p.exists('nope.txt')).toBe(false);
      expect(await p.readText('sub/x.txt')).toBe('hello');
      await expect(p.exists('../x.txt')).rejects.toThrow(/escapes the folder/);
      await expect(p.open('/etc/passwd')).rejects.toThrow(/invalid relative path/);
    });
  });
});

describe('Checkpoint (browser providers)', () => {
  it('works over a Map of Files from a folder picker', async () => {
    const files = [
      new File([writeSafetensors(shard1)], SHARD1),
      new File([writeSafetensors(shard2)], SHARD2),
      new File([indexJson(fullMap)], 'model.safetensors.index.json'),
    ];
    // emulate webkitRelativePath of a directory pick
    for (const f of files) Object.defineProperty(f, 'webkitRelativePath', { value: `GLM-ASR-Nano-2512/${f.name}` });
    const provider = FileMapProvider.fromFiles(files);
    expect(provider.name).toBe('GLM-ASR-Nano-2512');
    const ck = await Checkpoint.open(provider);
    expect(await ck.read('d.weight')).toEqual(shard2[1].data);
    expect(ck.fileOf('a.weight').name).toBe(`GLM-ASR-Nano-2512/${SHARD1}`);
  });

  it('missing shard in a file map is reported', async () => {
    const provider = new FileMapProvider(new Map([
      [SHARD1, new Blob([writeSafetensors(shard1)])],
      ['model.safetensors.index.json', new Blob([indexJson(fullMap)])],
    ]), 'picked');
    const e = await rejection(Checkpoint.open(provider));
    expect(e.message).toContain(`picked/${SHARD2}`);
  });

  it('isSafeRelPath', () => {
    expect(isSafeRelPath('a/b.safetensors')).toBe(true);
    for (const bad of ['', '/a', '../a', 'a/../b', 'a//b', 'C:x', 'a\\b', './a']) {
      expect(isSafeRelPath(bad)).toBe(false);
    }
  });
});
