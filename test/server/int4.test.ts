/**
 * The HTTP server with 4-bit weights (issue 18 §1, docs/quantization.md), on the trained demo model:
 *
 * - a 4-bit checkpoint (written by the quantize tool into a temporary folder) loads with the default precision
 *   and the server transcribes the demo clips to their expected texts; its model route hands the browser the
 *   4-bit file itself (what the page's in-browser mode loads);
 * - `glm-asr serve --precision int4` on the float demo checkpoint (quantised while it loads, as for the official
 *   BF16 one) starts and gives the expected texts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { buildServer, type AsrServer } from '../../src/server/app';
import { quantizeFolder } from '../../weights-tools/quantize';
import { REPO } from '../audio/helpers';
import { testGpu } from '../helpers/gpu';
import { postAudio } from './helpers';

const DEMO = join(REPO, 'models/demo');
const EXPECTED: Record<string, string> = JSON.parse(readFileSync(join(DEMO, 'samples/expected.json'), 'utf8'));
const CLIPS = Object.keys(EXPECTED).sort();

/** Each clip through POST /v1/audio/transcriptions: the texts, in order. */
async function texts(base: string, clips: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const clip of clips) {
    const res = await postAudio(base, new Uint8Array(readFileSync(join(DEMO, 'samples', clip))), {},
      { filename: clip });
    expect(res.status, await res.clone().text()).toBe(200);
    out.push(((await res.json()) as { text: string }).text);
  }
  return out;
}

describe('server with a 4-bit checkpoint', () => {
  let tmp: string;
  let dir: string;
  let asr: GlmAsr;
  let app: AsrServer;
  let base: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'glm-asr-server-int4-'));
    dir = join(tmp, 'demo-int4');
    await quantizeFolder(DEMO, dir, { bits: 4 });
    asr = await GlmAsr.load(dir, { gpu: await testGpu() });
    app = buildServer({ transcriber: asr, rateLimit: false, logger: () => {} });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.closeGracefully({ timeoutMs: 2000 });
    asr?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('loads as int4 and transcribes every demo clip to its expected text', async () => {
    expect(asr.weights.precision).toBe('int4');
    expect(await texts(base, CLIPS)).toEqual(CLIPS.map((c) => EXPECTED[c]));
  });

  it('the model route serves the 4-bit checkpoint file for the in-browser mode', async () => {
    const res = await fetch(`${base}/models/demo-int4/model.safetensors`);
    expect(res.status).toBe(200);
    const got = new Uint8Array(await res.arrayBuffer());
    expect(Buffer.compare(got, readFileSync(join(dir, 'model.safetensors')))).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(got.subarray(8, 8 + Number(
      new DataView(got.buffer, got.byteOffset).getBigUint64(0, true))))) as { __metadata__: Record<string, string> };
    expect(header.__metadata__.quantization).toBe('int4-sym-g32');
  });
});

describe('glm-asr serve --precision int4 on the float checkpoint', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('quantises at load and transcribes demo clips to their expected texts', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'serve', '--model', DEMO,
      '--precision', 'int4', '--port', '0'], { cwd: REPO, env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    const base = await new Promise<string>((resolve, reject) => {
      child!.stderr!.on('data', (b: Buffer) => {
        stderr += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      child!.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    const two = CLIPS.slice(0, 2); // the others are checked above; this is about the flag and the at-load path
    expect(await texts(base, two)).toEqual(two.map((c) => EXPECTED[c]));
  });
});
