/**
 * Seeded fuzz of the audio decode path (issue 14): WAV, FLAC and MP3 files with mutated headers and
 * bodies go through `decodeAudio` with a duration limit. Every case must end in 16 kHz samples that
 * are finite and within the limit, or in an AudioDecodeError — never another error, never a hang.
 * A failure names the case's index; the same seed replays it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeAudio } from '../../src/audio/decode';
import { AudioDecodeError } from '../../src/audio/errors';
import { AUDIO_SEEDS, mutateAudio } from './audio-mutate';
import { Rng } from './mutate';

const SEED = 0x5eed_a0d1;
const CASES = 3800;
const MAX_SECONDS = 20;
/** A case that takes longer than this is a hang. */
const CASE_TIMEOUT_MS = 5000;

type Outcome = 'ok' | 'rejected';

async function runCase(bytes: Uint8Array, name: string): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: no answer after ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
  });
  try {
    const d = await Promise.race([decodeAudio(bytes, name, { maxSeconds: MAX_SECONDS }), hang]);
    if (d.sampleRate !== 16000) throw new Error(`sample rate ${d.sampleRate}`);
    if (d.samples.length > (MAX_SECONDS + 1) * 16000) {
      throw new Error(`${d.samples.length} samples over the ${MAX_SECONDS} s limit`);
    }
    for (let i = 0; i < d.samples.length; i++) {
      if (!Number.isFinite(d.samples[i])) throw new Error(`non-finite sample at ${i}`);
    }
    return 'ok';
  } catch (e) {
    if (e instanceof AudioDecodeError && e.message.startsWith(`${name}: `)) return 'rejected';
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

describe(`audio decode fuzz (${CASES} seeded cases, seed ${SEED.toString(16)})`, () => {
  beforeAll(() => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined); // the WASM decoders log what they reject
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterAll(() => vi.restoreAllMocks());

  it('every seed decodes unmutated (the header-only MP4 is refused)', async () => {
    for (const [name, bytes] of AUDIO_SEEDS) {
      // the MP4 seed has headers only: the header reader's input, the decoder's refusal
      expect(await runCase(bytes, name), name).toBe(name === 'index-only.m4a' ? 'rejected' : 'ok');
    }
  });

  it('every mutated file decodes within the limit or is an AudioDecodeError; no crash, no hang', async () => {
    const r = new Rng(SEED);
    const counts = { ok: 0, rejected: 0 };
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const [seedName, seed] = AUDIO_SEEDS[i % AUDIO_SEEDS.length];
      const name = `case-${i}-${seedName}`;
      const bytes = mutateAudio(r, seed);
      try {
        counts[await runCase(bytes, name)]++;
      } catch (e) {
        failures.push(`${name}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
    const { ok, rejected } = counts;
    console.log(`audio fuzz: ${CASES} cases, ${ok} decoded, ${rejected} rejected, ${failures.length} failures`);
    expect(failures.slice(0, 10)).toEqual([]);
    // the mutations must reach both outcomes, or the fuzz is not exercising the decoders
    expect(counts.ok).toBeGreaterThan(CASES / 10);
    expect(counts.rejected).toBeGreaterThan(CASES / 10);
  });
});
