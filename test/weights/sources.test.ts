import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Checkpoint, UrlFolderProvider } from '../../src/weights/checkpoint';
import { NodeFileSource, openSafetensorsFile } from '../../src/weights/node-file-source';
import { SafetensorsFile } from '../../src/weights/safetensors';
import { writeSafetensors } from '../../src/weights/safetensors-writer';
import { ByteSourceError, UrlSource } from '../../src/weights/sources';
import { prngBytes, withTempDir } from './helpers';

describe('NodeFileSource', () => {
  it('does exact ranged reads and errors past the end / after close', async () => {
    await withTempDir(async (dir) => {
      const data = prngBytes(10_000, 5);
      const file = path.join(dir, 'blob.bin');
      await writeFile(file, data);
      const src = await NodeFileSource.open(file);
      expect(await src.size()).toBe(10_000);
      expect(await src.read(1234, 100)).toEqual(data.slice(1234, 1334));
      expect(await src.read(10_000, 0)).toEqual(new Uint8Array(0));
      await expect(src.read(9_990, 11)).rejects.toThrow(ByteSourceError);
      await expect(src.read(9_990, 11))
        .rejects.toThrow(/blob\.bin: read of 11 bytes at offset 9990 ends at 10001, past the end/);
      await expect(src.read(-1, 1)).rejects.toThrow(/invalid read offset/);
      await src.close();
      await src.close(); // idempotent
      await expect(src.read(0, 1)).rejects.toThrow(/read after close/);
    });
  });

  it('reports a missing file by name', async () => {
    await expect(NodeFileSource.open('/definitely/not/here.safetensors'))
      .rejects.toThrow(/not\/here\.safetensors: cannot open/);
  });

  it('opens a safetensors file from disk', async () => {
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'm.safetensors');
      const w = prngBytes(64, 2);
      await writeFile(file, writeSafetensors([{ name: 'w', dtype: 'F32', shape: [4, 4], data: w }]));
      const st = await openSafetensorsFile(file);
      expect(await st.read('w')).toEqual(w);
      await st.close();
    });
  });
});

// ---------------------------------------------------------------------------------------------
// URL source against a local HTTP server
// ---------------------------------------------------------------------------------------------

const files = new Map<string, Uint8Array>();
const requests: Array<{ url: string; method: string; range: string | undefined }> = [];
let server: Server;
let base = '';

function handler(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  requests.push({ url, method: req.method ?? 'GET', range: req.headers.range });
  const ignoreRanges = url.startsWith('/norange/');
  const hideContentRange = url.startsWith('/nocr/');
  const name = decodeURIComponent(url.replace(/^\/(norange|ranged|nocr)\//, ''));
  const body = files.get(name);
  if (!body) {
    res.writeHead(404).end('not found');
    return;
  }
  if (req.method === 'HEAD') {
    res.writeHead(200, { 'content-length': body.byteLength }).end();
    return;
  }
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (!m || ignoreRanges) {
    res.writeHead(200, { 'content-length': body.byteLength }).end(Buffer.from(body));
    return;
  }
  const a = Number(m[1]);
  const b = Math.min(Number(m[2]), body.byteLength - 1);
  if (a >= body.byteLength) {
    res.writeHead(416, { 'content-range': `bytes */${body.byteLength}` }).end();
    return;
  }
  res.writeHead(206, hideContentRange ? { 'content-length': b - a + 1 } :
    { 'content-range': `bytes ${a}-${b}/${body.byteLength}`, 'content-length': b - a + 1 });
  res.end(Buffer.from(body.subarray(a, b + 1)));
}

const w1 = prngBytes(3 * 8 * 2, 11);
const w2 = prngBytes(5 * 4, 12);
const modelBytes = writeSafetensors([
  { name: 'enc.w', dtype: 'BF16', shape: [3, 8], data: w1 },
  { name: 'dec.w', dtype: 'F32', shape: [5], data: w2 },
], { format: 'pt' });

beforeAll(async () => {
  files.set('model.safetensors', modelBytes);
  files.set('config.json', new TextEncoder().encode('{"model_type":"glmasr"}'));
  server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('UrlSource', () => {
  it('reads tensors with Range requests only', async () => {
    requests.length = 0;
    const src = new UrlSource(`${base}/ranged/model.safetensors`);
    const st = await SafetensorsFile.open(src);
    expect(await st.read('dec.w')).toEqual(w2);
    expect(requests.every((r) => r.range !== undefined)).toBe(true);
    const info = st.get('dec.w');
    expect(requests.at(-1)!.range).toBe(`bytes=${info.byteOffset}-${info.byteOffset + info.byteLength - 1}`);
    expect(requests.length).toBe(4); // size probe, length prefix, header, tensor
  });

  it('copes with a hidden Content-Range (cross-origin): size from HEAD, reads checked by length', async () => {
    requests.length = 0;
    const st = await SafetensorsFile.open(new UrlSource(`${base}/nocr/model.safetensors`));
    expect(await st.read('enc.w')).toEqual(w1);
    expect(requests.filter((r) => r.method === 'HEAD').length).toBe(1);
  });

  it('fails clearly when the server ignores Range', async () => {
    const src = new UrlSource(`${base}/norange/model.safetensors`);
    await expect(SafetensorsFile.open(src))
      .rejects.toThrow(/norange\/model\.safetensors: server ignored the Range header \(answered 200 instead of 206/);
  });

  it('reports HTTP errors and reads past the end', async () => {
    await expect(new UrlSource(`${base}/ranged/missing.bin`).size()).rejects.toThrow(/missing\.bin: HTTP 404/);
    const src = new UrlSource(`${base}/ranged/model.safetensors`);
    await expect(src.read(modelBytes.byteLength - 1, 2)).rejects.toThrow(/past the end/);
    // a wrong known size makes the server clamp the range: detected via Content-Range
    const liar = new UrlSource(`${base}/ranged/model.safetensors`, { size: modelBytes.byteLength + 100 });
    await expect(liar.read(modelBytes.byteLength - 4, 8)).rejects.toThrow(/server answered bytes/);
  });

  it('works as a checkpoint folder via UrlFolderProvider', async () => {
    const provider = new UrlFolderProvider(`${base}/ranged`);
    expect(await provider.exists('model.safetensors.index.json')).toBe(false);
    expect(await provider.exists('model.safetensors')).toBe(true);
    expect(JSON.parse(await provider.readText('config.json'))).toEqual({ model_type: 'glmasr' });
    const ck = await Checkpoint.open(provider);
    expect(await ck.read('enc.w')).toEqual(w1);
  });
});
