/**
 * `stream=true`: Server-Sent Events in OpenAI's shape, consumed with the official `openai` client's streaming API
 * (fake transcriber: its text comes as one delta per word); the segmenter field reaches the engine.
 */
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeText } from './fake-transcriber';
import { makeWav, postAudio, startTestServer, type TestServer } from './helpers';

const MODEL = 'glm-asr-nano-2512';

describe('server stream=true', () => {
  let srv: TestServer;
  let client: OpenAI;
  const wav = makeWav(1.5, 3);

  beforeAll(async () => {
    srv = await startTestServer();
    client = new OpenAI({ apiKey: 'unused', baseURL: `${srv.base}/v1`, maxRetries: 0, timeout: 10_000 });
  });
  afterAll(() => srv.close());

  it('text deltas, then done with the whole text, through the openai client', async () => {
    const stream = await client.audio.transcriptions.create({ file: await toFile(wav, 'a.wav'),
      model: MODEL, stream: true });
    const events: { type: string; delta?: string; text?: string }[] = [];
    for await (const e of stream) events.push(e);
    const deltas = events.filter((e) => e.type === 'transcript.text.delta').map((e) => e.delta);
    expect(deltas.length).toBeGreaterThan(3);
    expect(events.at(-1)).toEqual({ type: 'transcript.text.done', text: fakeText(wav) });
    expect(deltas.join('')).toBe(fakeText(wav)); // segments joined with a space, as in the json answer
    expect(events.filter((e) => e.type === 'transcript.text.done')).toHaveLength(1);
  });

  it('is an event stream; an error before the first event is an ordinary HTTP error', async () => {
    const res = await postAudio(srv.base, wav, { model: MODEL, stream: 'true' });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toMatch(/^data: \{"type":"transcript\.text\.delta"/);
    const bad = await postAudio(srv.base, new Uint8Array(100), { model: MODEL, stream: 'true' });
    expect(bad.status).toBe(400);
  });

  it('passes segmenter to the engine', async () => {
    const seen: (string | undefined)[] = [];
    const original = srv.fake.transcribe.bind(srv.fake);
    srv.fake.transcribe = (audio, options) => {
      seen.push(options.segmenter);
      return original(audio, options);
    };
    try {
      await postAudio(srv.base, wav, { model: MODEL, segmenter: 'fixed' });
      await postAudio(srv.base, wav, { model: MODEL });
    } finally {
      srv.fake.transcribe = original;
    }
    expect(seen).toEqual(['fixed', 'vad']);
  });
});
