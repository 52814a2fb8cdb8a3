/** startServer in a child process: SIGTERM lets the in-flight job finish, then the process exits 0. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { fakeText } from './fake-transcriber';
import { makeWav, postAudio, waitFor } from './helpers';

describe('startServer', () => {
  it('SIGTERM: finishes the running and queued jobs, then exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/server/signal-fixture.ts'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FAKE_DELAY_MS: '400' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = once(child, 'exit');
    try {
      await waitFor(() => stdout.includes('\n'), 15_000);
      const { url } = JSON.parse(stdout.split('\n')[0]) as { url: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(stderr).toContain(`listening on ${url}`);

      const wavs = [makeWav(0.3, 900), makeWav(0.3, 901)];
      const pending = wavs.map((w) => postAudio(url, w));
      await waitFor(async () => {
        const h = (await (await fetch(`${url}/health`)).json()) as { queue: { running: number; waiting: number } };
        return h.queue.running === 1 && h.queue.waiting === 1;
      });
      child.kill('SIGTERM');
      const responses = await Promise.all(pending);
      for (const [i, r] of responses.entries()) {
        expect(r.status).toBe(200);
        expect((await r.json()).text).toBe(fakeText(wavs[i]));
      }
      const [code] = await exited;
      expect(code).toBe(0);
      expect(stderr).toContain('SIGTERM: shutting down after 2 job(s)');
      expect(stderr).toContain('server closed.');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
