/** The job queue seen over HTTP: back-pressure, ordering, client aborts, graceful close. */
import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { audioId, fakeText } from './fake-transcriber';
import { makeWav, postAudio, startTestServer, waitFor } from './helpers';

const MODEL = 'glm-asr-nano-2512';

async function health(base: string) {
  const res = await fetch(`${base}/health`);
  return (await res.json()) as { queue: { running: number; waiting: number; capacity: number } };
}

describe('queue over HTTP', () => {
  it('queue full → 503 with Retry-After (queueSize 2, 5 concurrent requests)', async () => {
    const srv = await startTestServer({ queueSize: 2, delayMs: 400 });
    try {
      const wavs = Array.from({ length: 5 }, (_, i) => makeWav(0.2, 100 + i));
      const responses = await Promise.all(wavs.map((w) => postAudio(srv.base, w, { model: MODEL })));
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 200, 503, 503]);
      for (const r of responses) {
        const body = await r.json();
        if (r.status === 503) {
          expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
          expect(body.error).toMatchObject({ type: 'server_error', code: 'queue_full' });
        } else {
          expect(body.text).toMatch(/^Hello from the fake engine/);
        }
      }
      expect(srv.fake.calls).toHaveLength(3);
    } finally {
      await srv.close();
    }
  });

  it('50 concurrent requests with distinct audio: each gets its own text, none lost', async () => {
    const srv = await startTestServer({ queueSize: 64, delayMs: 2 });
    try {
      const client = new OpenAI({ apiKey: 'x', baseURL: `${srv.base}/v1`, maxRetries: 0, timeout: 20_000 });
      const wavs = Array.from({ length: 50 }, (_, i) => makeWav(0.25, 1000 + i));
      expect(new Set(wavs.map(audioId)).size).toBe(50);
      const texts = await Promise.all(
        wavs.map(async (w, i) => {
          const file = await toFile(w, `clip-${i}.wav`);
          return (await client.audio.transcriptions.create({ file, model: MODEL })).text;
        }),
      );
      texts.forEach((t, i) => expect(t, `request ${i}`).toBe(fakeText(wavs[i])));
      expect(srv.fake.calls).toHaveLength(50);
      expect(srv.fake.calls.every((c) => c.outcome === 'done')).toBe(true);
      expect(srv.app.jobQueue.stats).toEqual({ running: 0, waiting: 0, capacity: 64, concurrency: 1 });
    } finally {
      await srv.close();
    }
  });

  it('runs one job at a time, first come first served', async () => {
    const srv = await startTestServer({ queueSize: 8, delayMs: 40 });
    try {
      const wavs = Array.from({ length: 4 }, (_, i) => makeWav(0.1, 300 + i));
      const pending: Promise<Response>[] = [];
      for (const w of wavs) {
        pending.push(postAudio(srv.base, w));
        const n = pending.length;
        await waitFor(() => srv.fake.calls.length + srv.app.jobQueue.stats.waiting >= n);
      }
      let maxRunning = 0;
      const poll = setInterval(() => (maxRunning = Math.max(maxRunning, srv.app.jobQueue.stats.running)), 2);
      await Promise.all(pending);
      clearInterval(poll);
      expect(maxRunning).toBeLessThanOrEqual(1);
      expect(srv.fake.calls.map((c) => c.id)).toEqual(wavs.map(audioId));
    } finally {
      await srv.close();
    }
  });

  it('a client that disconnects while queued has its job skipped', async () => {
    const srv = await startTestServer({ queueSize: 4, delayMs: 250 });
    try {
      const a = makeWav(0.2, 500);
      const b = makeWav(0.2, 501);
      const c = makeWav(0.2, 502);
      const pa = postAudio(srv.base, a);
      await waitFor(() => srv.fake.calls.length === 1); // a is running
      const ctrl = new AbortController();
      const pb = postAudio(srv.base, b, {}, { signal: ctrl.signal }).catch((e: unknown) => e);
      await waitFor(() => srv.app.jobQueue.stats.waiting === 1);
      const pc = postAudio(srv.base, c);
      await waitFor(() => srv.app.jobQueue.stats.waiting === 2);
      ctrl.abort();
      expect(await pb).toBeInstanceOf(Error);
      await waitFor(() => srv.app.jobQueue.stats.waiting === 1); // b left the queue at once
      expect((await health(srv.base)).queue).toEqual({ running: 1, waiting: 1, capacity: 4, concurrency: 1 });
      const [ra, rc] = await Promise.all([pa, pc]);
      expect((await ra.json()).text).toBe(fakeText(a));
      expect((await rc.json()).text).toBe(fakeText(c));
      expect(srv.fake.calls.map((x) => x.id)).toEqual([audioId(a), audioId(c)]);
      expect(srv.app.jobQueue.counts.skipped).toBe(1);
      await waitFor(() => srv.logs.some((l) => JSON.parse(l).status === 499));
    } finally {
      await srv.close();
    }
  });

  it('a client that disconnects while its job runs aborts the job', async () => {
    const srv = await startTestServer({ delayMs: 400 });
    try {
      const ctrl = new AbortController();
      const p = postAudio(srv.base, makeWav(0.2, 600), {}, { signal: ctrl.signal }).catch((e: unknown) => e);
      await waitFor(() => srv.fake.calls.length === 1);
      ctrl.abort();
      await p;
      await waitFor(() => srv.fake.calls[0].outcome === 'aborted');
    } finally {
      await srv.close();
    }
  });

  it('closeGracefully finishes the running and queued jobs, refuses new ones, then closes', async () => {
    const srv = await startTestServer({ queueSize: 4, delayMs: 150 });
    const wavs = [makeWav(0.2, 700), makeWav(0.2, 701), makeWav(0.2, 702)];
    const pending = wavs.map((w) => postAudio(srv.base, w));
    await waitFor(() => srv.fake.calls.length === 1 && srv.app.jobQueue.stats.waiting === 2);
    const t0 = performance.now();
    const closing = srv.app.closeGracefully({ timeoutMs: 5000 });
    // a new request while closing is refused (503 on an open connection, or connection refused)
    const late = await postAudio(srv.base, makeWav(0.2, 703)).then((r) => r.status, () => 'refused');
    expect([503, 'refused']).toContain(late);
    const responses = await Promise.all(pending);
    for (const [i, r] of responses.entries()) {
      expect(r.status).toBe(200);
      expect((await r.json()).text).toBe(fakeText(wavs[i]));
    }
    await closing;
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(srv.app.server.listening).toBe(false);
    await expect(fetch(`${srv.base}/health`)).rejects.toThrow();
    expect(srv.fake.calls.map((c) => c.outcome)).toEqual(['done', 'done', 'done']);
  });

  it('closeGracefully gives up after its timeout: waiting jobs skipped (503), running one aborted', async () => {
    const srv = await startTestServer({ queueSize: 4, delayMs: 2000 });
    const pending = [makeWav(0.2, 800), makeWav(0.2, 801)].map((w) => postAudio(srv.base, w));
    await waitFor(() => srv.fake.calls.length === 1 && srv.app.jobQueue.stats.waiting === 1);
    const t0 = performance.now();
    await srv.app.closeGracefully({ timeoutMs: 100 });
    expect(performance.now() - t0).toBeLessThan(1500);
    const statuses = (await Promise.all(pending.map((p) => p.then((r) => r.status, () => 'error')))).sort();
    expect(statuses).toEqual([503, 503]);
    expect(srv.fake.calls.map((c) => c.outcome)).toEqual(['aborted']);
  });
});
