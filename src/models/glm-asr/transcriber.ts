/**
 * Audio → text with GLM-ASR: the public entry point of the library.
 *
 * @example
 * const asr = await GlmAsr.load(new UrlFolderProvider(baseUrl));  // a FileProvider (Node: also a folder, ./node.ts)
 * const { text, tokens, segments } = await asr.transcribe(await readFile('clip.wav'), { beams: 1 });
 * asr.dispose();
 *
 * One transcription: decode + resample (CPU) → 30 s windows → log-mel per window (CPU) → encoder, all windows
 * of a segment in one batch (GPU) → projector rows of each window's valid tokens spliced into the prompt's
 * embeddings at the `<|pad|>` positions → prefill → greedy or beam steps → ids → text. Audio longer than the
 * model's prompt span (max_audio_len: 21 windows = 630 s) is cut into consecutive segments of at most that many
 * windows, each transcribed with its own prompt; their texts are joined with a space.
 */
import { Gpu, type GpuOptions, Recorder, type Tensor } from '../../gpu';
import { audioTokenCount, decodeAudio, LogMelSpectrogram, splitWindows, yieldToEventLoop } from '../../audio';
import { beamSearch, greedy, type SearchModel, type Candidate } from '../../generate';
import { embedRows } from '../../ops/linear';
import { argmax, topKLogSoftmax } from '../../ops/sample';
import { buildTranscriptionPrompt, Tokenizer } from '../../tokenizer';
import { Checkpoint, type FileProvider } from '../../weights/checkpoint';
import { checkpointScheme } from '../../weights/quant';
import { loadGlmAsrConfig, validateAgainstTensors, type GlmAsrConfig } from './config';
import { Decoder } from './decoder';
import { audioArgument, checkLoadOptions, checkTranscribeOptions, OptionError, type AudioInput } from './options';
import { encodeAudio, encoderFrames, encoderWindowBatch, type EncoderTaps } from './encoder';
import { loadWeights, type GlmAsrWeights, type LoadProgress, type WeightPrecision } from './weights';

export interface LoadOptions {
  /**
   * Weight storage: 'f32', 'f16', 'int8', or 'auto' (an INT8 checkpoint: int8; else f16 on GPUs, f32 on CPU
   * adapters where it is faster). 'int8' needs an INT8 checkpoint (`npm run quantize`, docs/int8.md) and is the
   * only precision such a checkpoint loads with; anything else is an error naming the mismatch.
   */
  precision?: WeightPrecision | 'auto';
  /** An existing device to use (otherwise one is created with `gpuOptions`). */
  gpu?: Gpu;
  gpuOptions?: GpuOptions;
  /** Most beams any transcribe call may ask for (sizes the KV cache). Default 4. */
  maxBeams?: number;
  onProgress?: (p: LoadProgress) => void;
}

export interface TranscribeOptions {
  /** 1 = greedy (default); > 1 = beam search. */
  beams?: number;
  /** Default 500. */
  maxNewTokens?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
  signal?: AbortSignal;
  /** Name used in error messages (e.g. the file name). */
  name?: string;
  onProgress?: (p: TranscribeProgress) => void;
}

export interface TranscribeProgress {
  stage: 'decode-audio' | 'encode' | 'generate';
  done: number;
  total: number;
}

export interface Segment {
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  text: string;
}

export interface Transcription {
  text: string;
  /** Generated token ids (no prompt, no eos), all segments in order. */
  tokens: number[];
  segments: Segment[];
  durationSec: number;
  /** Milliseconds per stage; `encode` covers encoder, projector and prefill (one GPU submission). */
  timings: Record<'decodeAudio' | 'mel' | 'encode' | 'generate' | 'total', number>;
}

export type { AudioInput } from './options';

/** One 30 s window: samples zero-padded to the window length, and how many of them are real audio. */
export interface WindowSamples {
  samples: Float32Array;
  validSamples: number;
}

/** Copies of intermediate activations for the golden tests (each tensor sized by the caller). */
export interface PrefillTaps extends EncoderTaps {
  mel?: Tensor;
  /** Projector output for every window: [windows × tokensPerWindow, text hidden]. */
  projector?: Tensor;
}

export class GlmAsr {
  private readonly mel: LogMelSpectrogram;

  protected constructor(
    /** Where the model came from (folder or repo id), for logs and the server's model list. */
    readonly modelId: string,
    readonly gpu: Gpu,
    readonly config: GlmAsrConfig,
    readonly tokenizer: Tokenizer,
    readonly weights: GlmAsrWeights,
    readonly maxBeams: number,
    private readonly ownsGpu: boolean,
    /** Set for models that must say what they are: the demo model's closed-vocabulary notice. */
    readonly notice?: string,
  ) {
    const fe = config.frontEnd;
    this.mel = new LogMelSpectrogram({ sampleRate: fe.sampleRate, nFft: fe.nFft, hopLength: fe.hopLength, nMels: fe.melBins });
  }

  /**
   * Loads a checkpoint in the official Hugging Face layout (config.json, processor config, tokenizer.json,
   * model.safetensors or sharded with an index) from a FileProvider: files picked from a folder or a base URL
   * (browser), or a folder (Node). Node's entry (`glm-asr-webgpu`, ./node.ts) also takes a folder path, a repo
   * id or 'demo'. The checkpoint is checked against the config before a device is created; when loading fails
   * later, everything allocated is released (the weights, and the device when this call created it).
   */
  static async load(source: FileProvider, options: LoadOptions = {}): Promise<GlmAsr> {
    checkLoadOptions(source, options);
    if (typeof source === 'string') {
      throw new OptionError('source', `the path or repo id ${JSON.stringify(source)} needs Node's entry point ` +
        "(import { GlmAsr } from 'glm-asr-webgpu'); here, pass a FileProvider (FileMapProvider, UrlFolderProvider)");
    }
    return GlmAsr.open(source, options);
  }

  /** `load` once the source is a provider; `notice`: see the field. */
  protected static async open(provider: FileProvider, options: LoadOptions, notice?: string): Promise<GlmAsr> {
    const config = await loadGlmAsrConfig(provider);
    const tokenizerFile = `${provider.name}/tokenizer.json`;
    const tokenizer = Tokenizer.fromJSON(await provider.readText('tokenizer.json'), { file: tokenizerFile });
    const ckpt = await Checkpoint.open(provider);
    try {
      const scheme = checkpointScheme(ckpt);
      validateAgainstTensors(config, ckpt.tensors, { source: provider.name, scheme });
      const gpu = options.gpu ?? (await Gpu.create(options.gpuOptions));
      try {
        const precision = options.precision && options.precision !== 'auto' ? options.precision
          : scheme ? 'int8' : gpu.caps.cpuAdapter ? 'f32' : 'f16';
        const weights = await loadWeights(gpu, ckpt, config, { precision, onProgress: options.onProgress });
        return new GlmAsr(provider.name, gpu, config, tokenizer, weights, options.maxBeams ?? 4, !options.gpu, notice);
      } catch (e) {
        if (!options.gpu) gpu.destroy(); // loadWeights has freed its buffers already
        throw e;
      }
    } finally {
      await ckpt.close();
    }
  }

  async transcribe(audio: AudioInput, options: TranscribeOptions = {}): Promise<Transcription> {
    const t0 = performance.now();
    const timings = { decodeAudio: 0, mel: 0, encode: 0, generate: 0, total: 0 };
    checkTranscribeOptions(options, { maxBeams: this.maxBeams, maxPositions: this.config.decoder.maxPositions });
    const name = options.name ?? 'audio';
    const input = audioArgument(audio, name);
    const beams = options.beams ?? 1;
    const maxNewTokens = options.maxNewTokens ?? 500;
    const fe = this.config.frontEnd;

    options.onProgress?.({ stage: 'decode-audio', done: 0, total: 1 });
    const samples = 'bytes' in input ? (await decodeAudio(input.bytes, name)).samples : input.samples;
    timings.decodeAudio = performance.now() - t0;
    const durationSec = samples.length / fe.sampleRate;
    if (this.audioTokens(samples.length) === 0) {
      // Below one audio token (6 hops + 1 sample: 961 at 16 kHz) the model sees no audio: refuse rather than invent text.
      const minMs = this.minAudioSeconds * 1000;
      throw new RangeError(`${name}: audio is too short (${(durationSec * 1000).toFixed(1)} ms); GLM-ASR needs at least ${minMs.toFixed(1)} ms`);
    }
    const windows = splitWindows(samples, fe.nSamples);
    const segments: Segment[] = [];
    const tokens: number[] = [];
    for (let s0 = 0; s0 < windows.length; s0 += fe.maxWindows) {
      options.signal?.throwIfAborted();
      const group = windows.slice(s0, s0 + fe.maxWindows);
      const ids = await this.transcribeWindows(group, beams, maxNewTokens, options, timings);
      const start = group[0].startSample / fe.sampleRate;
      const end = (group[group.length - 1].startSample + group[group.length - 1].validSamples) / fe.sampleRate;
      segments.push({ start, end, text: this.tokenizer.decode(ids, { skipSpecialTokens: true }).trim() });
      tokens.push(...ids);
    }
    timings.total = performance.now() - t0;
    return { text: segments.map((s) => s.text).filter(Boolean).join(' '), tokens, segments, durationSec, timings };
  }

  /** Shortest audio, in seconds, that gives the model one audio token (6 hops + 1 sample: 60.1 ms at 16 kHz). */
  get minAudioSeconds(): number {
    const fe = this.config.frontEnd;
    return (6 * fe.hopLength + 1) / fe.sampleRate;
  }

  /** Audio tokens the projector keeps for a window with `validSamples` real samples (HF processor rule). */
  audioTokens(validSamples: number): number {
    return audioTokenCount(validSamples, this.config.frontEnd.hopLength);
  }

  private async transcribeWindows(windows: WindowSamples[], beams: number, maxNewTokens: number,
    options: TranscribeOptions, timings: Transcription['timings']): Promise<number[]> {
    let t = performance.now();
    options.onProgress?.({ stage: 'encode', done: 0, total: windows.length });
    const decoder = await this.prefill(windows, { beams, maxNewTokens, timings });
    timings.encode += performance.now() - t; // encoder and prefill share one wait
    options.onProgress?.({ stage: 'encode', done: windows.length, total: windows.length });

    t = performance.now();
    const model = new GpuSearchModel(this.gpu, decoder, this.config.decoder.vocab, beams);
    const eosTokenIds = this.config.ids.eosTokenIds;
    // n tokens take n - 1 steps: generation stops at the last decoder position (a 'length' finish) when the prompt
    // leaves fewer than maxNewTokens - 1 free.
    const budget = Math.min(maxNewTokens, decoder.maxSeq - decoder.length + 1);
    const onToken = (i: number) => options.onProgress?.({ stage: 'generate', done: i + 1, total: budget });
    try {
      const { signal, lengthPenalty, earlyStopping } = options;
      const result = beams === 1
        ? await greedy(model, { maxNewTokens: budget, eosTokenIds, signal, onToken: (_t, i) => onToken(i) })
        : await beamSearch(model, {
          beams, maxNewTokens: budget, eosTokenIds, lengthPenalty, earlyStopping, signal, onStep: (s) => onToken(s.step - 1),
        });
      if (result.finishReason === 'aborted') options.signal?.throwIfAborted();
      return result.tokens;
    } finally {
      timings.generate += performance.now() - t;
      model.dispose();
      decoder.dispose();
    }
  }

  /**
   * Encodes up to maxWindows windows and runs the prompt through the decoder: log-mel (CPU) → encoder and
   * projector for all windows in one batch → each window's first N_i projector rows copied over the prompt's
   * `<|pad|>` run → prefill. Returns the decoder holding the prompt's KV cache and last logits (row 0).
   * Exposed for the stage-by-stage golden tests (`taps`); `transcribe` is the everyday entry point.
   */
  async prefill(windows: WindowSamples[], o: { beams: number; maxNewTokens: number; taps?: PrefillTaps; timings?: Transcription['timings']; prefillChunk?: number }): Promise<Decoder> {
    const gpu = this.gpu;
    const cfg = this.config;
    const fe = cfg.frontEnd;
    const W = windows.length;
    if (W < 1 || W > fe.maxWindows) throw new RangeError(`prefill takes 1..${fe.maxWindows} windows, got ${W}`);

    // Log-mel per window on the CPU (about 20 ms per window; docs/audio.md), uploaded once.
    const t = performance.now();
    const melHost = new Float32Array(W * fe.melBins * fe.nFrames);
    const melSize = fe.melBins * fe.nFrames;
    for (let i = 0; i < W; i++) {
      if (i > 0) await yieldToEventLoop(); // a window per turn: a server stays responsive during a long file
      this.mel.compute(windows[i].samples, melHost.subarray(i * melSize, (i + 1) * melSize));
    }
    const melGpu = gpu.upload('mel', melHost, [W, fe.melBins, fe.nFrames], 'f32');
    if (o.timings) o.timings.mel += performance.now() - t;

    const perWindow = encoderFrames(cfg) / cfg.projector.mergeFactor;
    const rowBytes = cfg.decoder.hidden * 4;
    const audioEmb = gpu.tensor('audio.embeddings', [W * perWindow, cfg.decoder.hidden], 'f32');
    const rec = new Recorder(gpu, 'encode+prefill');
    if (o.taps?.mel) rec.copy(melGpu, o.taps.mel);
    // Windows go through the encoder in batches whose activations fit one storage binding.
    const batch = encoderWindowBatch(cfg, gpu.caps.maxStorageBindingBytes);
    if (o.taps && batch < W) throw new RangeError(`taps need all ${W} windows in one encoder batch (at most ${batch} fit)`);
    for (let w0 = 0; w0 < W; w0 += batch) {
      const n = Math.min(batch, W - w0);
      const mel = n === W ? melGpu : melGpu.rows(w0, n);
      encodeAudio(rec, this.weights, cfg, mel, n, audioEmb.rows(w0 * perWindow, n * perWindow), o.taps);
    }
    if (o.taps?.projector) rec.copy(audioEmb, o.taps.projector);

    const counts = windows.map((w) => this.audioTokens(w.validSamples));
    const prompt = buildTranscriptionPrompt(this.tokenizer, counts.reduce((a, b) => a + b, 0), { audioTokenId: cfg.ids.audioTokenId });
    const T = prompt.ids.length;
    const maxSeq = Math.min(T + o.maxNewTokens, cfg.decoder.maxPositions);
    if (T >= maxSeq) throw new RangeError(`the prompt (${T} tokens) leaves no room to generate within ${cfg.decoder.maxPositions} positions`);
    const ids = gpu.upload('prompt.ids', Uint32Array.from(prompt.ids), [T], 'u32');
    const promptEmb = gpu.tensor('prompt.embeddings', [T, cfg.decoder.hidden], 'f32');
    embedRows(rec, this.weights.embed, ids, promptEmb, { label: 'prompt.embed' });
    let row = prompt.audioStart;
    counts.forEach((n, i) => {
      if (n) rec.copy(audioEmb, promptEmb, n * rowBytes, i * perWindow * rowBytes, row * rowBytes);
      row += n;
    });
    const decoder = new Decoder(gpu, this.weights, cfg, o.beams, maxSeq);
    decoder.prefill(rec, promptEmb, T, o.prefillChunk);
    rec.submit();
    gpu.release(melGpu, audioEmb, ids, promptEmb);
    await gpu.sync();
    return decoder;
  }

  /** Frees the device when load created it, else the weights (the device's owner keeps it). */
  dispose(): void {
    if (this.ownsGpu) this.gpu.destroy();
    else this.weights.destroy();
  }
}

/** The decoder as the search sees it: GPU argmax / top-k, only ids and scores read back (also timed by bench/model). */
export class GpuSearchModel implements SearchModel {
  private readonly ids: Tensor;
  private readonly src: Tensor;
  private readonly best: Tensor;
  constructor(private readonly gpu: Gpu, private readonly decoder: Decoder, readonly vocabSize: number, readonly maxRows: number) {
    this.ids = gpu.tensor('search.ids', [maxRows], 'u32');
    this.src = gpu.tensor('search.reorder', [maxRows], 'u32');
    this.best = gpu.tensor('search.argmax', [maxRows], 'u32');
  }

  async prefill(): Promise<void> {
    // Done by the transcriber before the search starts (the prompt embeddings need the audio splice).
  }

  reorder(src: readonly number[]): void {
    this.gpu.write(this.src, Uint32Array.from(src));
    const rec = new Recorder(this.gpu, 'reorder');
    this.decoder.reorder(rec, this.src);
    rec.submit();
  }

  async argmax(rows: number): Promise<Int32Array> {
    const rec = new Recorder(this.gpu, 'argmax');
    argmax(rec, this.decoder.logits.rows(0, rows), this.best.rows(0, rows));
    rec.submit();
    return Int32Array.from(await this.gpu.readU32(this.best, rows));
  }

  async topK(rowScores: Float32Array, k: number): Promise<Candidate[]> {
    return topKLogSoftmax(this.gpu, this.decoder.logits.rows(0, rowScores.length), rowScores, { k });
  }

  async step(tokens: Int32Array): Promise<void> {
    this.gpu.write(this.ids, Uint32Array.from(tokens));
    const rec = new Recorder(this.gpu, `step ${this.decoder.length}`);
    this.decoder.step(rec, this.ids.rows(0, tokens.length), tokens.length);
    rec.submit();
  }

  dispose(): void {
    this.gpu.release(this.ids, this.src, this.best);
  }
}
