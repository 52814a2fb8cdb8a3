/**
 * What the queue tests share: a private redis-server on a free loopback port (in a temp folder, with an
 * append-only file so a restart keeps the jobs), worker child processes running the fake engine, and front ends
 * in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildServer, type AsrServer } from '../../src/server/app';
import { QueueFrontEnd, QueuedModel, type QueueFrontEndOptions } from '../../src/queue/frontend';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms until it returns a value other than undefined, for at most `ms`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface TestRedis {
  url: string;
  /** SIGTERM, and wait until it has exited (it writes its append-only file first). */
  stop(): Promise<void>;
  /** Start it again on the same port and folder. */
  start(): Promise<void>;
  /** Stop it for good and delete its folder. */
  dispose(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'glm-asr-redis-'));
  let proc: ChildProcess | null = null;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
    '--appendfsync', 'always', '--daemonize', 'no', '--loglevel', 'warning'];
  const r: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      proc = spawn('redis-server', args, { stdio: 'ignore' });
      const probe = new Redis(port, '127.0.0.1', {
        lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null,
      });
      probe.on('error', () => {});
      await waitFor('redis-server to answer', async () => {
        try {
          if (probe.status !== 'ready') await probe.connect();
          return (await probe.ping()) === 'PONG' ? true : undefined;
        } catch {
          probe.disconnect();
          return undefined;
        }
      });
      probe.disconnect();
    },
    async stop() {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((resolve) => p.once('exit', resolve));
      p.kill('SIGTERM');
      await exited;
    },
    async dispose() {
      await r.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  return r;
}

export interface TestWorker {
  proc: ChildProcess;
  /** Its JSON log lines so far. */
  lines: Record<string, unknown>[];
  id: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** The fake-engine worker fixture; or, with `cliArgs`, `glm-asr worker --queue URL ...cliArgs` (a real model). */
export async function startWorker(
  url: string,
  env: { DELAY_MS?: number; MAX_BATCH?: number; LOCK_MS?: number; QUEUE_DIR?: string } = {},
  cliArgs?: string[],
): Promise<TestWorker> {
  const script = cliArgs ? ['src/cli/main.ts', 'worker', '--queue', url, ...cliArgs] : ['test/queue/worker-fixture.ts'];
  const proc = spawn(process.execPath, ['--import', 'tsx', ...script], {
    env: { ...process.env, QUEUE_URL: url, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  const ready = await waitFor('the worker to be ready', () => lines.find((l) => l.event === 'ready'), 60_000);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    lines,
    id: String(ready.worker),
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

export interface TestFrontEnd {
  app: AsrServer;
  base: string;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startFrontEnd(
  url: string, options: Omit<QueueFrontEndOptions, 'url'> & { apiKey?: string } = {},
): Promise<TestFrontEnd> {
  const { apiKey, ...queueOptions } = options;
  const logs: Record<string, unknown>[] = [];
  const app = buildServer({
    transcriber: new QueuedModel('fake-model', 4),
    remoteQueue: new QueueFrontEnd({ url, ...queueOptions }),
    apiKey,
    rateLimit: false,
    logger: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, base: `http://127.0.0.1:${port}`, logs, close: () => app.closeGracefully({ timeoutMs: 2000 }) };
}
