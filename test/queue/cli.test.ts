/** `glm-asr worker` and `serve --queue`: usage mistakes are exit 2 with one line saying what is wrong. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const glmAsr = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('queue commands: usage errors', () => {
  it.each([
    [['worker', '--model', 'demo'], '--queue redis://HOST:PORT is required'],
    [['worker', '--queue', 'redis://127.0.0.1:1'], '--model is required'],
    [['worker', '--queue', 'http://127.0.0.1:6379', '--model', 'demo'], 'must start with redis:// or rediss://'],
    [['worker', '--queue', 'redis://127.0.0.1:1', '--model', 'demo', '--max-batch', '0'], '--max-batch must be'],
    [['serve', '--model', 'm', '--queue', 'redis://127.0.0.1:1', '--max-batch', '2'], '--max-batch goes with glm-asr'],
    [['serve', '--model', 'm', '--max-batch', 'x'], '--max-batch must be an integer from 1 to 256'],
    [['serve', '--model', 'm', '--queue', 'not a url'], 'is not a URL'],
    [['serve', '--model', 'm', '--queue-dir', '/tmp'], '--queue-dir goes with --queue'],
    [['serve', '--model', 'm', '--queue', 'redis://127.0.0.1:1', '--realtime-idle-seconds', '30'],
      '--realtime-idle-seconds needs a model on this server, not --queue'],
  ])('glm-asr %j', (args, message) => {
    const r = glmAsr(...args);
    expect(r.stderr).toContain(message);
    expect(r.status).toBe(2);
  });
});
