/**
 * The HTTP service with the real engine: `glm-asr serve`'s app on 127.0.0.1 with GlmAsr on the tiny golden
 * checkpoint, called by the official `openai` client. The text must equal what the library returns for the
 * same bytes, and concurrent requests must each get their own result.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { buildServer, type AsrServer } from '../../src/server/app';
import { CORPUS } from '../audio/helpers';
import { testGpu } from '../helpers/gpu';
import { skipWhen } from '../helpers/skip';
import { makeWav } from '../server/helpers';

const TINY = join(__dirname, '..', 'goldens', 'tiny');
const CLIP = join(CORPUS, 'audio', 'en-jfk.wav');

describe('server with the real engine', () => {
  let asr: GlmAsr;
  let app: AsrServer;
  let client: OpenAI;

  beforeAll(async () => {
    asr = await GlmAsr.load(TINY, { gpu: await testGpu(), precision: 'f32' });
    app = buildServer({ transcriber: asr, apiKey: 'k', rateLimit: false, logger: () => {} });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const addr = app.server.address() as { port: number };
    client = new OpenAI({ apiKey: 'k', baseURL: `http://127.0.0.1:${addr.port}/v1` });
  });
  afterAll(() => app.closeGracefully({ timeoutMs: 5000 }));

  const noClip = existsSync(CLIP) ? null : `${CLIP} not found (../shared absent)`;
  it('the openai client transcribes a corpus clip (text as the library gives it)', skipWhen(noClip), async () => {
    const bytes = new Uint8Array(readFileSync(CLIP));
    const res = await client.audio.transcriptions.create({ file: await toFile(bytes, 'en-jfk.wav'),
      model: 'glm-asr-nano-2512', response_format: 'verbose_json' });
    const direct = await asr.transcribe(bytes, { name: 'en-jfk.wav' });
    expect(res.text).toBe(direct.text);
    expect(res.duration).toBeCloseTo(11, 0);
  });

  it('concurrent requests get their own transcripts', async () => {
    const clips = [0, 1, 2].map((seed) => makeWav(1.5 + seed * 0.5, seed));
    const expected = [];
    for (const [i, c] of clips.entries()) expected.push((await asr.transcribe(c,
      { name: `c${i}.wav`, maxNewTokens: 500 })).text);
    const got = await Promise.all(clips.map(async (c, i) =>
      (await client.audio.transcriptions.create({ file: await toFile(c, `c${i}.wav`), model: 'm' })).text));
    expect(got).toEqual(expected);
  });

  it('corrupt audio is a 400 with the decoder message', async () => {
    const bad = await toFile(Uint8Array.from([82, 73, 70, 70, 1, 2]), 'bad.wav');
    await expect(client.audio.transcriptions.create({ file: bad, model: 'm' }))
      .rejects.toMatchObject({ status: 400 });
  });
});
