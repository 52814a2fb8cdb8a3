/**
 * Scale-out over Redis (issue 17 §3-5): front ends (`serve --queue`, in this process) and workers (child
 * processes with the fake engine) on a private redis-server. Nothing is lost: a worker killed mid-job, a front end
 * restarted with jobs waiting, Redis stopped for a few seconds, and 200 requests with a worker killed midway.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeText } from '../server/fake-transcriber';
import { makeWav, postAudio, startTestServer } from '../server/helpers';
import {
  sleep,
  startFrontEnd,
  startRedis,
  startWorker,
  waitFor,
  type TestFrontEnd,
  type TestRedis,
  type TestWorker,
} from './helpers';

let redis: TestRedis;
const workers: TestWorker[] = [];
const frontEnds: TestFrontEnd[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.dispose();
});
afterEach(async () => {
  await Promise.all(frontEnds.splice(0).map((f) => f.close()));
  await Promise.all(workers.splice(0).map((w) => w.kill()));
});

const worker = async (env: Parameters<typeof startWorker>[1] = {}) => {
  const w = await startWorker(redis.url, env);
  workers.push(w);
  return w;
};
const frontEnd = async (options: Parameters<typeof startFrontEnd>[1] = {}) => {
  const f = await startFrontEnd(redis.url, options);
  frontEnds.push(f);
  return f;
};
const getJob = async (base: string, id: string, key?: string) => {
  const res = await fetch(`${base}/v1/jobs/${id}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('front end and workers over Redis', () => {
  it('a job runs on a worker; the job id is in both logs; /health lists the worker and its model', async () => {
    const w = await worker();
    const f = await frontEnd();
    const wav = makeWav(0.5, 1);
    const res = await postAudio(f.base, wav, { response_format: 'verbose_json' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { text: string; segments: unknown[] };
    expect(body.text).toBe(fakeText(wav));
    expect(body.segments).toHaveLength(2);
    const line = await waitFor('the request log line', () => f.logs.find((l) => l.path === '/v1/audio/transcriptions'));
    expect(line.jobId).toMatch(/^[0-9a-f-]{36}$/);
    const done = w.lines.find((l) => l.event === 'done' && l.jobId === line.jobId);
    expect(done).toMatchObject({ requestId: line.id, ok: true });

    const health = (await (await fetch(`${f.base}/health`)).json()) as Record<string, any>;
    expect(health.status).toBe('ok');
    expect(health.jobQueue).toMatchObject({ status: 'ok', waiting: 0, active: 0 });
    const worker0 = expect.objectContaining({ id: w.id, model: 'fake-model', concurrency: 1 });
    expect(health.jobQueue.workers).toEqual([worker0]);
  });

  it('a worker takes as many jobs at once as its transcriber batches (maxBatch 3)', async () => {
    const w = await worker({ DELAY_MS: 800, MAX_BATCH: 3 });
    const f = await frontEnd();
    const wavs = Array.from({ length: 4 }, (_, i) => makeWav(0.2, 40 + i));
    const answers = wavs.map(async (wav) => ((await (await postAudio(f.base, wav)).json()) as { text: string }).text);
    expect(await Promise.all(answers)).toEqual(wavs.map((w) => fakeText(w)));
    // Three started before the first was done; the fourth waited for a free slot.
    const events = w.lines.filter((l) => l.event === 'start' || l.event === 'done').map((l) => l.event);
    expect(events.slice(0, 4)).toEqual(['start', 'start', 'start', 'done']);
    const health = (await (await fetch(`${f.base}/health`)).json()) as Record<string, any>;
    expect(health.jobQueue.workers).toContainEqual(expect.objectContaining({ id: w.id, concurrency: 3 }));
  });

  it('bad audio found by the worker is the usual 400; async jobs and unknown ids', async () => {
    await worker();
    const f = await frontEnd({ apiKey: 'k' });
    const tooShort = makeWav(0.03, 2);
    const res = await postAudio(f.base, tooShort, {}, { key: 'k' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('audio_too_short');

    const wav = makeWav(0.4, 3);
    const posted = await postAudio(f.base, wav, { async: 'true', response_format: 'text' }, { key: 'k' });
    expect(posted.status).toBe(202);
    const { id, status } = (await posted.json()) as { id: string; status: string };
    expect(status).toBe('queued');
    const job = await waitFor('the async job', async () => {
      const j = await getJob(f.base, id, 'k');
      return j.body.status === 'completed' ? j : undefined;
    });
    expect(job.body.result).toBe(fakeText(wav));
    expect((await getJob(f.base, id)).status).toBe(401); // the key, as for the rest of /v1
    expect((await getJob(f.base, '00000000-0000-0000-0000-000000000000', 'k')).status).toBe(404);
    expect((await getJob(f.base, 'nope', 'k')).status).toBe(404);
    const both = await postAudio(f.base, wav, { async: 'true', stream: 'true' }, { key: 'k' });
    expect(both.status).toBe(400);
    expect(((await both.json()) as any).error.param).toBe('async');
  });

  it('uploads over the inline limit go through the shared folder; uploads are deleted once done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glm-asr-queue-dir-'));
    try {
      await worker({ QUEUE_DIR: dir, DELAY_MS: 300 });
      const f = await frontEnd({ queueDir: dir, inlineMaxBytes: 20_000 });
      const big = makeWav(1, 12); // 32 kB: through the folder
      const small = makeWav(0.3, 13); // 9.6 kB: through Redis
      const answers = [big, small].map((wav) => postAudio(f.base, wav));
      await waitFor('the big upload in the folder', () => (readdirSync(dir).length === 1 ? true : undefined));
      const texts = await Promise.all(answers.map(async (a) => ((await (await a).json()) as { text: string }).text));
      expect(texts).toEqual([fakeText(big), fakeText(small)]);
      await waitFor('the folder to be emptied', () => (readdirSync(dir).length === 0 ? true : undefined));
      const keys = new Redis(redis.url);
      try {
        await waitFor('the Redis uploads to be deleted', async () =>
          (await keys.keys('glm-asr:audio:*')).length === 0 ? true : undefined);
      } finally {
        keys.disconnect();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a server without a queue refuses async=true', async () => {
    const srv = await startTestServer();
    try {
      const res = await postAudio(srv.base, makeWav(0.3, 14), { async: 'true' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ param: 'async', code: 'unsupported_value' });
    } finally {
      await srv.close();
    }
  });

  it('stream=true through the queue: text deltas from the worker reach the client in order, then done', async () => {
    await worker({ DELAY_MS: 0 });
    const f = await frontEnd();
    const wav = makeWav(0.5, 11);
    const res = await postAudio(f.base, wav, { stream: 'true' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter(Boolean)
      .map((e) => JSON.parse(e.replace(/^data: /, '')) as { type: string; delta?: string; text?: string });
    const deltas = events.filter((e) => e.type === 'transcript.text.delta').map((e) => e.delta);
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(fakeText(wav));
    expect(events.at(-1)).toEqual({ type: 'transcript.text.done', text: fakeText(wav) });
  });

  it('a worker killed with SIGKILL mid-job: another worker finishes it, the client gets the right text', async () => {
    const a = await worker({ DELAY_MS: 3000, LOCK_MS: 1500 });
    const f = await frontEnd();
    const wav = makeWav(0.5, 4);
    const answer = postAudio(f.base, wav);
    const started = await waitFor('worker A to start the job', () => a.lines.find((l) => l.event === 'start'));
    const b = await worker({ DELAY_MS: 100, LOCK_MS: 1500 });
    await a.kill('SIGKILL');
    const res = await answer;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text).toBe(fakeText(wav));
    expect(b.lines.find((l) => l.event === 'done' && l.jobId === started.jobId)).toBeTruthy();
  });

  it('a front end closing gracefully first answers the requests waiting for workers', async () => {
    const w = await worker({ DELAY_MS: 2000 });
    const f = await frontEnd();
    const wav = makeWav(0.4, 15);
    const answer = postAudio(f.base, wav);
    await waitFor('the worker to start', () => w.lines.find((l) => l.event === 'start'));
    await f.app.closeGracefully({ timeoutMs: 10_000 });
    frontEnds.splice(frontEnds.indexOf(f), 1);
    const res = await answer;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text).toBe(fakeText(wav));
  });

  it('a front end restarted with jobs waiting: they are done and their results can be fetched', async () => {
    const f1 = await frontEnd({ maxWaiting: 3 });
    const wavs = [5, 6, 7].map((seed) => makeWav(0.4, seed));
    const ids: string[] = [];
    for (const wav of wavs) {
      const res = await postAudio(f1.base, wav, { async: 'true' });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const health = (await (await fetch(`${f1.base}/health`)).json()) as Record<string, any>;
    expect(health.jobQueue.waiting).toBe(3);
    const full = await postAudio(f1.base, makeWav(0.4, 16), { async: 'true' }); // over maxWaiting
    expect(full.status).toBe(503);
    expect(((await full.json()) as any).error.code).toBe('queue_full');
    await f1.close();
    frontEnds.splice(frontEnds.indexOf(f1), 1);

    const f2 = await frontEnd();
    await worker();
    for (const [i, id] of ids.entries()) {
      const job = await waitFor(`job ${i}`, async () => {
        const j = await getJob(f2.base, id);
        return j.body.status === 'completed' ? j : undefined;
      });
      expect(job.body.result).toEqual({ text: fakeText(wavs[i]) });
    }
  });

  it('Redis stopped for a few seconds: clear 503s meanwhile, then recovery without restarting anything', async () => {
    await worker();
    const f = await frontEnd();
    const before = makeWav(0.4, 8);
    expect((await postAudio(f.base, before)).status).toBe(200);

    await redis.stop();
    const t0 = Date.now();
    const refused = await postAudio(f.base, makeWav(0.4, 9));
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as any).error.code).toBe('queue_unavailable');
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(Date.now() - t0).toBeLessThan(1500);
    const health = await fetch(`${f.base}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as any).jobQueue.status).toBe('unavailable');
    await sleep(2000);

    await redis.start();
    await waitFor('the front end to see Redis again', async () =>
      (await fetch(`${f.base}/health`)).status === 200 ? true : undefined);
    const after = makeWav(0.4, 10);
    const res = await postAudio(f.base, after);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text).toBe(fakeText(after));
  });

  it('200 requests over 2 workers, one killed midway: 200 right transcripts, each job answered once', async () => {
    const a = await worker({ DELAY_MS: 20, MAX_BATCH: 2, LOCK_MS: 1500 });
    await worker({ DELAY_MS: 20, MAX_BATCH: 2, LOCK_MS: 1500 });
    const f = await frontEnd();
    const wavs = Array.from({ length: 200 }, (_, i) => makeWav(0.2, 100 + i));
    const answers = wavs.map(async (wav) => {
      const r = await postAudio(f.base, wav);
      return { status: r.status, body: await r.text() };
    });
    await waitFor('worker A to finish 40 jobs', () =>
      a.lines.filter((l) => l.event === 'done').length >= 40 ? true : undefined, 30_000);
    await a.kill('SIGKILL');
    const results = await Promise.all(answers);
    expect(results.map((r) => r.status)).toEqual(wavs.map(() => 200));
    expect(results.map((r) => (JSON.parse(r.body) as { text: string }).text)).toEqual(wavs.map((w) => fakeText(w)));
    const jobIds = f.logs.filter((l) => l.path === '/v1/audio/transcriptions').map((l) => l.jobId);
    expect(jobIds).toHaveLength(200);
    expect(new Set(jobIds).size).toBe(200);
  });

  it('the demo model through one `glm-asr worker`: the reference transcript', async () => {
    const samples = join(__dirname, '..', '..', 'models', 'demo', 'samples');
    const expected = (JSON.parse(readFileSync(join(samples, 'expected.json'), 'utf8')) as Record<string, string>)[
      'digits-oh.wav'
    ];
    const w = await startWorker(redis.url, {}, ['--model', 'demo', '--precision', 'f32', '--lock-seconds', '10']);
    workers.push(w);
    expect(w.lines.find((l) => l.event === 'ready')).toMatchObject({ model: 'demo' });
    const f = await frontEnd();
    const wav = new Uint8Array(readFileSync(join(samples, 'digits-oh.wav')));
    const res = await postAudio(f.base, wav, { segmenter: 'fixed', max_new_tokens: '32' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text).toBe(expected);
  });
});
