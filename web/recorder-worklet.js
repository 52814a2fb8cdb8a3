// AudioWorklet processor for the microphone recorder: mixes the input to mono and posts it to the
// page in blocks of `processorOptions.blockFrames` frames (default 4096; live mode asks for about 0.1 s so
// text follows speech closely; one message per 128-frame quantum would be too chatty). On 'stop' it sends
// the partial block, then 'done'.

const BLOCK = 4096;

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const frames = options && options.processorOptions && options.processorOptions.blockFrames;
    this.block = Number.isInteger(frames) && frames >= 128 ? frames : BLOCK;
    this.buffer = new Float32Array(this.block);
    this.filled = 0;
    this.running = true;
    this.port.onmessage = (e) => {
      if (e.data === 'flush') this.flush();
      if (e.data === 'stop') {
        this.flush();
        this.port.postMessage('done');
        this.running = false;
      }
    };
  }

  flush() {
    if (this.filled === 0) return;
    const block = this.buffer.slice(0, this.filled);
    this.port.postMessage(block, [block.buffer]);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      const frames = input[0].length;
      const channels = input.length;
      for (let i = 0; i < frames; i++) {
        let v = 0;
        for (let c = 0; c < channels; c++) v += input[c][i];
        this.buffer[this.filled++] = v / channels;
        if (this.filled === this.block) this.flush();
      }
    }
    return this.running;
  }
}

registerProcessor('pcm-capture', PcmCapture);
