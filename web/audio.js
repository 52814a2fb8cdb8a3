// Microphone recording as raw PCM, turned into a 16 kHz mono 16-bit WAV file in the page.
//
// MediaRecorder would give WebM/Opus or Ogg, which the server's decoder may not read, so the page
// captures PCM itself: getUserMedia → AudioContext → AudioWorklet (ScriptProcessor where there is
// no AudioWorklet) → Float32 blocks → resample to 16 kHz → WAV. 16 kHz keeps 10 minutes of speech
// at about 19 MB, under the 25 MB upload limit.

export const TARGET_RATE = 16000;

/** 16-bit PCM mono WAV. */
export function encodeWav(samples, sampleRate) {
  const dataBytes = samples.length * 2;
  const buf = new ArrayBuffer(44 + dataBytes);
  const v = new DataView(buf);
  const ascii = (off, s) => {
    for (let i = 0; i < s.length; i++) v.setUint8(off + i, s.charCodeAt(i));
  };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    v.setInt16(44 + 2 * i, s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff), true);
  }
  return new Blob([buf], { type: 'audio/wav' });
}

/**
 * Resamples with a Hann-windowed sinc low-pass (cut-off just under the lower Nyquist rate), so
 * that downsampling 48 kHz → 16 kHz does not fold 8–24 kHz content into the speech band.
 */
export function resample(x, fromRate, toRate = TARGET_RATE) {
  if (fromRate === toRate) return x;
  const ratio = fromRate / toRate;
  const cutoff = 0.95 * Math.min(1, 1 / ratio); // fraction of the input Nyquist rate
  const half = Math.ceil(8 / cutoff); // kernel half-width in input samples
  const n = Math.floor((x.length * toRate) / fromRate);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i * ratio;
    const lo = Math.max(0, Math.floor(t) - half + 1);
    const hi = Math.min(x.length - 1, Math.floor(t) + half);
    let acc = 0;
    let wsum = 0;
    for (let k = lo; k <= hi; k++) {
      const d = k - t;
      const a = Math.PI * d * cutoff;
      const sinc = a === 0 ? 1 : Math.sin(a) / a;
      const w = sinc * (0.5 + 0.5 * Math.cos((Math.PI * d) / half));
      acc += x[k] * w;
      wsum += w;
    }
    y[i] = wsum !== 0 ? acc / wsum : 0;
  }
  return y;
}

export function microphoneSupported() {
  return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && (window.AudioContext || window.webkitAudioContext));
}

export class MicRecorder {
  /**
   * @param {{ maxSeconds?: number, onLevel?: (rms: number) => void, onLimit?: () => void }} options
   */
  constructor(options = {}) {
    this.options = options;
    this.chunks = [];
    this.frames = 0;
    this.ctx = null;
    this.stream = null;
    this.node = null;
    this.limitHit = false;
  }

  get seconds() {
    return this.ctx ? this.frames / this.ctx.sampleRate : 0;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const Ctx = window.AudioContext || window.webkitAudioContext;
    let source;
    try {
      // Let the browser resample the microphone to 16 kHz where it can.
      this.ctx = new Ctx({ sampleRate: TARGET_RATE });
      source = this.ctx.createMediaStreamSource(this.stream);
    } catch {
      if (this.ctx) await this.ctx.close().catch(() => {});
      this.ctx = new Ctx();
      source = this.ctx.createMediaStreamSource(this.stream);
    }
    await this.ctx.resume();

    const onBlock = (block) => {
      this.chunks.push(block);
      this.frames += block.length;
      if (this.options.onLevel) {
        let sum = 0;
        for (let i = 0; i < block.length; i++) sum += block[i] * block[i];
        this.options.onLevel(Math.min(1, Math.sqrt(sum / Math.max(1, block.length)) * 4));
      }
      const max = this.options.maxSeconds;
      if (max && !this.limitHit && this.seconds >= max) {
        this.limitHit = true;
        this.options.onLimit?.();
      }
    };

    if (this.ctx.audioWorklet && typeof AudioWorkletNode === 'function') {
      await this.ctx.audioWorklet.addModule(new URL('./recorder-worklet.js', import.meta.url));
      this.node = new AudioWorkletNode(this.ctx, 'pcm-capture', { numberOfInputs: 1, numberOfOutputs: 1 });
      this.node.port.onmessage = (e) => {
        if (e.data === 'done') this.onDone?.();
        else onBlock(e.data);
      };
    } else {
      this.node = this.ctx.createScriptProcessor(4096, 1, 1);
      this.node.onaudioprocess = (e) => onBlock(e.inputBuffer.getChannelData(0).slice());
    }
    // Nodes only run when something pulls on them: route through a muted gain to the output.
    const mute = this.ctx.createGain();
    mute.gain.value = 0;
    source.connect(this.node);
    this.node.connect(mute);
    mute.connect(this.ctx.destination);
    this.source = source;
  }

  /** Stops and returns `{ blob, seconds }` — a 16 kHz mono WAV. */
  async stop() {
    if (this.node && this.node.port) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 500);
        this.onDone = () => {
          clearTimeout(timer);
          resolve();
        };
        this.node.port.postMessage('stop');
      });
    }
    const rate = this.ctx ? this.ctx.sampleRate : TARGET_RATE;
    this.release();
    const all = new Float32Array(this.frames);
    let off = 0;
    for (const c of this.chunks) {
      all.set(c, off);
      off += c.length;
    }
    this.chunks = [];
    let samples = all;
    if (rate !== TARGET_RATE) {
      // Yield once so the UI can show "Preparing…" before the CPU-bound resample.
      await new Promise((r) => setTimeout(r, 0));
      samples = resample(all, rate, TARGET_RATE);
    }
    return { blob: encodeWav(samples, TARGET_RATE), seconds: samples.length / TARGET_RATE };
  }

  /** Stops without producing a file. */
  cancel() {
    this.release();
    this.chunks = [];
    this.frames = 0;
  }

  release() {
    try {
      this.source?.disconnect();
      this.node?.disconnect();
    } catch {
      // already disconnected
    }
    this.stream?.getTracks().forEach((t) => t.stop());
    this.ctx?.close().catch(() => {});
    this.stream = null;
    this.node = null;
    this.source = null;
  }
}
