/**
 * The library's one WAV writer: mono 16-bit PCM, the smallest WAV that every decoder reads. The web page
 * uses it (through the browser bundle) to turn a microphone recording into a file it can upload or transcribe.
 */

const HEADER_BYTES = 44;
/** The RIFF size field is 32 bits and counts everything after its own 8 bytes. */
const MAX_SAMPLES = Math.floor((0xffffffff - (HEADER_BYTES - 8)) / 2);

/**
 * `samples` (float, full scale ±1; clipped to it, NaN written as 0) as a 16-bit PCM mono WAV file at
 * `sampleRate` Hz. Throws a RangeError for a rate that is not a positive integer or audio too long for a
 * 32-bit RIFF size.
 */
export function encodeWav(samples: Float32Array, sampleRate: number): Uint8Array {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0xffffffff / 2) {
    throw new RangeError(`encodeWav: sample rate ${sampleRate} is not a positive integer below 2^31 Hz`);
  }
  if (samples.length > MAX_SAMPLES) {
    throw new RangeError(`encodeWav: ${samples.length} samples do not fit one WAV file (at most ${MAX_SAMPLES})`);
  }
  const dataBytes = samples.length * 2;
  const out = new Uint8Array(HEADER_BYTES + dataBytes);
  const v = new DataView(out.buffer);
  const ascii = (offset: number, text: string): void => {
    for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  v.setUint32(4, HEADER_BYTES - 8 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true); // fmt chunk size
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true); // bytes per second
  v.setUint16(32, 2, true); // bytes per frame
  v.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Number.isNaN(samples[i]) ? 0 : Math.max(-1, Math.min(1, samples[i]));
    // Asymmetric scale, so that -1 and +1 both reach full scale (-32768 and 32767).
    v.setInt16(HEADER_BYTES + 2 * i, Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), true);
  }
  return out;
}
