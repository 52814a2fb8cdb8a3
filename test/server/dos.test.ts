/**
 * Untrusted uploads never block the server (issue 14 §1): while crafted headers (absurd sample
 * rates, tiny files that would expand hugely) and a long valid file are handled, `/health` keeps
 * answering within 200 ms and the server's memory stays within the bound docs/server.md states.
 * The server runs in its own process (signal-fixture.ts), so the client's work does not count; the
 * model is the fake, header checks, decoding and resampling are the real ones.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeWav, waitFor } from './helpers';

/** Resident set (VmRSS) and its peak so far (VmHWM) of a process, in bytes; null where /proc has no such file. */
function memoryOf(pid: number): { rss: number; peak: number } | null {
  const file = `/proc/${pid}/status`;
  if (!existsSync(file)) return null;
  const status = readFileSync(file, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** A 16-bit mono WAV header claiming `rate` Hz over `n` samples. */
function wavAt(rate: number, n: number): Uint8Array {
  const w = makeWav(n / 16000, 5);
  const v = new DataView(w.buffer);
  v.setUint32(24, rate >>> 0, true);
  v.setUint32(28, (rate * 2) >>> 0, true);
  return w;
}

/** A 16-bit mono WAV of `seconds` at `rate`, built fast (a sawtooth). */
function longWav(seconds: number, rate: number): Uint8Array {
  const n = seconds * rate;
  const w = wavAt(rate, 0);
  const out = new Uint8Array(44 + 2 * n);
  out.set(w.subarray(0, 44));
  const v = new DataView(out.buffer);
  v.setUint32(4, 36 + 2 * n, true);
  v.setUint32(40, 2 * n, true);
  const s = new Int16Array(out.buffer, 44, n);
  for (let i = 0; i < n; i++) s[i] = ((i * 131) % 4000) - 2000;
  return out;
}

describe('crafted and long uploads do not block the server', () => {
  it('/health answers within 200 ms throughout; the server RSS grows by less than 400 MB', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/server/signal-fixture.ts'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FAKE_DELAY_MS: '0' },
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    try {
      await waitFor(() => stdout.includes('\n'), 30_000);
      const { url: base } = JSON.parse(stdout.split('\n')[0]) as { url: string };
      const crafted: [string, Uint8Array, number][] = [
        ['20 MHz, 244 bytes', wavAt(20_000_003, 100), 400],
        ['48 MHz, 9.6 KB', wavAt(48_000_001, 4800), 400],
        ['1 Hz, 2 KB', wavAt(1, 1000), 400],
        ['1 Hz, 66 KB', wavAt(1, 33_000), 400],
        ['4 GHz', wavAt(4_294_967_295, 100), 400],
        ['767,999 Hz: the largest awkward-ratio filter table', wavAt(767_999, 767_999), 200],
        ['1,001 Hz for 600 s: a long output from a small rate', wavAt(1001, 600_600), 200],
      ];
      const long = longWav(240, 44_100); // 21 MB, 240 s at an awkward ratio: seconds of decoding work
      // Request bodies are built before the clock starts: the client shares this event loop.
      const form = (bytes: Uint8Array, filename: string) => {
        const f = new FormData();
        f.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'audio/wav' }), filename);
        return f;
      };
      const post = (body: FormData) => fetch(`${base}/v1/audio/transcriptions`, { method: 'POST', body });
      const longForm = form(long, 'long.wav');
      // Warm up the client (fetch loads its modules on first use) and the route, outside the clock.
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await post(form(makeWav(0.5), 'warm.wav'))).status).toBe(200);
      const craftedForms = crafted.map(([what, bytes, want]) => [what, form(bytes, 'a.wav'), want] as const);
      const mem0 = memoryOf(child.pid!);
      const latencies: number[] = [];
      let stop = false;
      const poll = (async () => {
        while (!stop) {
          const t0 = performance.now();
          const res = await fetch(`${base}/health`);
          await res.json();
          latencies.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const results = await Promise.all([
        post(longForm).then((r) => ['long', r.status, 200] as const),
        ...craftedForms.map(([what, body, want]) => post(body).then((r) => [what, r.status, want] as const)),
      ]);
      stop = true;
      await poll;
      for (const [what, got, want] of results) expect(got, what).toBe(want);
      const worst = Math.max(...latencies);
      const mem1 = memoryOf(child.pid!);
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
      const memory = mem0 && mem1 ? `; server RSS ${mib(mem0.rss)} → peak ${mib(mem1.peak)}` : '';
      console.log(`/health: ${latencies.length} polls, worst ${worst.toFixed(0)} ms${memory}`);
      expect(worst).toBeLessThan(200);
      expect(latencies.length).toBeGreaterThan(10);
      if (mem0 && mem1) expect(mem1.peak - mem0.rss).toBeLessThan(400 * 2 ** 20);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
