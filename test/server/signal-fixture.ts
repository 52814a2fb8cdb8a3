/**
 * Child process for the signal test: `startServer` with the fake transcriber on a free port.
 * Prints `{"url": ...}` on stdout once listening; SIGTERM/SIGINT should drain and exit 0.
 */
import { startServer } from '../../src/server/app';
import { FakeTranscriber } from './fake-transcriber';

const { url } = await startServer({
  transcriber: new FakeTranscriber({ delayMs: Number(process.env.FAKE_DELAY_MS ?? 600) }),
  port: 0,
  logger: false,
  rateLimit: false,
  shutdownTimeoutMs: 10_000,
});
process.stdout.write(`${JSON.stringify({ url })}\n`);
