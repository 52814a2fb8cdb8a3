// Microphone recording as raw PCM, turned into a 16 kHz mono 16-bit WAV file in the page.
//
// MediaRecorder would give WebM/Opus or Ogg, which the server's decoder may not read, so the page
// captures PCM itself: getUserMedia → AudioContext → AudioWorklet (ScriptProcessor where there is
// no AudioWorklet) → Float32 blocks → resample to 16 kHz → WAV. 16 kHz keeps 10 minutes of speech
// at about 19 MB, under the 25 MB upload limit. The resampler and the WAV encoder are the library's.

import { library } from './library.js';

export const TARGET_RATE = 16000;

export function microphoneSupported() {
  return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia
    && (window.AudioContext || window.webkitAudioContext));
}

export class MicRecorder {
  /**
   * With `onPcm` the blocks go to it as they are captured (live mode: at the context's rate, 16 kHz where the
   * browser allows) and nothing is kept; otherwise they are kept for `stop()`'s WAV file.
   * @param {{ maxSeconds?: number, onLevel?: (rms: number) => void, onLimit?: () => void,
   *   onPcm?: (block: Float32Array, sampleRate: number) => void, blockFrames?: number }} options
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
    // Live mode takes the microphone without noise suppression and gain control: made for calls, they cost the
    // model words (Chromium's fake microphone lost the "oh" of the demo clip digits-oh.wav with them on).
    const raw = !!this.options.onPcm;
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: !raw, autoGainControl: !raw },
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
      if (this.options.onPcm) this.options.onPcm(block, this.ctx.sampleRate);
      else this.chunks.push(block);
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
      const processorOptions = { blockFrames: this.options.blockFrames };
      this.node = new AudioWorkletNode(this.ctx, 'pcm-capture', { numberOfInputs: 1, numberOfOutputs: 1,
        processorOptions });
      this.node.port.onmessage = (e) => {
        if (e.data === 'done') this.onDone?.();
        else onBlock(e.data);
      };
    } else {
      this.node = this.ctx.createScriptProcessor(this.options.blockFrames ? 1024 : 4096, 1, 1);
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

  /** Waits for the worklet's last partial block. */
  async drain() {
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
  }

  /** Live mode: hands the last block to `onPcm` and lets the microphone go. */
  async finish() {
    await this.drain();
    this.release();
  }

  /** Stops and returns `{ blob, seconds }` — a 16 kHz mono WAV. */
  async stop() {
    await this.drain();
    const rate = this.ctx ? this.ctx.sampleRate : TARGET_RATE;
    this.release();
    const all = new Float32Array(this.frames);
    let off = 0;
    for (const c of this.chunks) {
      all.set(c, off);
      off += c.length;
    }
    this.chunks = [];
    const { resample, encodeWav } = await library();
    let samples = all;
    if (rate !== TARGET_RATE) {
      // The browser could not capture at 16 kHz. Yield once so the UI can show "Preparing…" first.
      await new Promise((r) => setTimeout(r, 0));
      samples = resample(all, rate, TARGET_RATE);
    }
    const blob = new Blob([encodeWav(samples, TARGET_RATE)], { type: 'audio/wav' });
    return { blob, seconds: samples.length / TARGET_RATE };
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
