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
import { Gpu, type GpuOptions, Recorder, Tensor } from '../../gpu';
import { audioTokenCount, decodeAudio, LogMelSpectrogram, splitWindows, yieldToEventLoop } from '../../audio';
import { beamSearch, greedy, type SearchModel, type Candidate } from '../../generate';
import { embedRows } from '../../ops/linear';
import { argmax, topK, topKLogSoftmax } from '../../ops/sample';
import { buildTranscriptionPrompt, Tokenizer } from '../../tokenizer';
import { BEGIN_OF_AUDIO_TOKEN, END_OF_AUDIO_TOKEN } from '../../tokenizer/chat-template';
import { SileroVad, type VadSource } from '../../vad';
import { Checkpoint, type FileProvider } from '../../weights/checkpoint';
import { checkpointScheme } from '../../weights/quant';
import { loadGlmAsrConfig, validateAgainstTensors, type GlmAsrConfig } from './config';
import { Decoder, DecoderCache } from './decoder';
import { GEMV_MAX_ROWS } from '../../ops/matmul';
import {
  audioArgument, checkLoadOptions, checkTranscribeOptions, OptionError, type AudioBlocks, type AudioInput,
  type SegmenterKind,
} from './options';
import { openLiveSession, type LiveOptions, type LiveSession } from './live';
import { EventChannel } from './event-channel';
import { ChunkPlanner, type SpeechChunk } from './segments';
import { encodeAudio, encoderFrames, encoderWindowBatch, type EncoderTaps } from './encoder';
import { loadWeights, schemePrecision, type GlmAsrWeights, type LoadProgress, type WeightPrecision } from './weights';
import { type BatchStats, DecodeScheduler } from './scheduler';

/** Most speech chunks encoded together: the largest batch's pooled buffers stay, so this bounds the working set. */
const VAD_BATCH_CHUNKS = 8;

export interface LoadOptions {
  /**
   * Weight storage: 'f32', 'f16', 'int8', 'int4', or 'auto' (an INT8 / 4-bit checkpoint: int8 / int4; else f16
   * on GPUs, f32 on CPU adapters where it is faster). 'int8' needs an INT8 checkpoint (`npm run quantize`,
   * docs/int8.md) and is the only precision such a checkpoint loads with; 'int4' loads a 4-bit checkpoint or
   * quantises a float one at load (docs/quantization.md); a mismatch is an error naming it.
   */
  precision?: WeightPrecision | 'auto';
  /** An existing device to use (otherwise one is created with `gpuOptions`). */
  gpu?: Gpu;
  gpuOptions?: GpuOptions;
  /** Most beams any transcribe call may ask for (sizes the KV cache). Default 4. */
  maxBeams?: number;
  /**
   * Most sequences (beam rows of all concurrent transcriptions together) one decoder step serves: concurrent
   * `transcribe` calls share encoder batches and decode steps up to this. 1 runs them one by one. Default from
   * the adapter's memory (`defaultMaxBatch`, docs/batching.md).
   */
  maxBatch?: number;
  /**
   * Silero VAD v5 weights for `segmenter: 'vad'` (a FileProvider of a folder with config.json + model.safetensors,
   * or both files' contents). Node's entry loads the package's models/silero-vad-v5 when this is absent.
   */
  vad?: VadSource;
  onProgress?: (p: LoadProgress) => void;
}

export interface TranscribeOptions {
  /**
   * 'vad' (default): speech chunks of at most `maxChunkSeconds` found by the VAD, each transcribed on its own, one
   * segment each; no speech gives no segment and runs no decoder. 'fixed': consecutive 30 s windows, up to 21 per
   * prompt, one segment per prompt.
   */
  segmenter?: SegmenterKind;
  /**
   * 'vad' only: longest chunk in seconds, from 2 to the window (30). Default: the model's `maxChunkSeconds`
   * (generation_config.json `glm_asr.max_chunk_seconds`, else the window); the demo model, trained on clips of one
   * utterance, declares 3 (longer chunks holding several utterances make it repeat itself and drop words).
   */
  maxChunkSeconds?: number;
  /**
   * `segmenter: 'fixed'` with several windows in one prompt: 'single' (default) wraps all windows' audio tokens in
   * one `<|begin_of_audio|>…<|end_of_audio|>` block (transformers' processor); 'per-window' gives each window its
   * own block (the model authors' inference script). A chunk of the 'vad' segmenter is one window either way.
   */
  audioBlocks?: AudioBlocks;
  /** 1 = greedy (default); > 1 = beam search. */
  beams?: number;
  /** Default 500 (per segment). */
  maxNewTokens?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
  signal?: AbortSignal;
  /** Name used in error messages (e.g. the file name). */
  name?: string;
  onProgress?: (p: TranscribeProgress) => void;
}

export interface TranscribeProgress {
  /** 'vad': audio seconds through the VAD; 'encode': windows; 'generate': tokens of the current segment. */
  stage: 'decode-audio' | 'vad' | 'encode' | 'generate';
  done: number;
  total: number;
}

export interface Segment {
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  text: string;
  /** Generated ids of this segment (no prompt, no eos). */
  tokens?: number[];
  /**
   * Mean log-probability (natural log) of the chosen tokens, the eos included when generation ended on one
   * (Whisper's definition); with beam search, the best hypothesis' sum of log-probabilities over its length.
   */
  avgLogprob?: number;
  /** 1 − the highest VAD speech probability in the segment ('vad' segmenter only). */
  noSpeechProb?: number;
}

export interface Transcription {
  text: string;
  /** Generated token ids (no prompt, no eos), all segments in order. */
  tokens: number[];
  segments: Segment[];
  durationSec: number;
  /** Milliseconds per stage; `encode` covers encoder, projector and prefill (one GPU submission). */
  timings: Record<'decodeAudio' | 'vad' | 'mel' | 'encode' | 'generate' | 'total', number>;
}

/** What `transcribeStream` yields, in order: per segment start, text deltas, end; then one `done`. */
export type TranscribeEvent =
  /** A segment's audio span is known and its decoding starts. */
  | { type: 'segment-start'; index: number; start: number; end: number }
  /** Text as tokens are decoded: never a partial UTF-8 character; the deltas of a segment join to its text. */
  | { type: 'text'; index: number; delta: string }
  | { type: 'segment-end'; index: number; segment: Segment }
  | { type: 'done'; durationSec: number; timings: Transcription['timings'] };

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
  private readonly scheduler: DecodeScheduler;
  private readonly encoderQueue: EncoderJob[] = [];
  /** An encoder submission is on the GPU (requests that queue meanwhile go together next). */
  private encoding = false;
  /** Most rows (beams of all concurrent transcriptions) one decoder step serves (`LoadOptions.maxBatch`). */
  readonly maxBatch: number;

  protected constructor(
    /** Where the model came from (folder or repo id), for logs and the server's model list. */
    readonly modelId: string,
    readonly gpu: Gpu,
    readonly config: GlmAsrConfig,
    readonly tokenizer: Tokenizer,
    readonly weights: GlmAsrWeights,
    readonly maxBeams: number,
    maxBatch: number | undefined,
    private readonly ownsGpu: boolean,
    /** Set for models that must say what they are: the demo model's closed-vocabulary notice. */
    readonly notice?: string,
    /** The VAD of `segmenter: 'vad'`, when its weights were given at load. */
    readonly vad?: SileroVad,
  ) {
    const fe = config.frontEnd;
    this.mel = new LogMelSpectrogram({
      sampleRate: fe.sampleRate, nFft: fe.nFft, hopLength: fe.hopLength, nMels: fe.melBins,
    });
    const usual = this.usualSequence();
    this.maxBatch = maxBatch ?? GlmAsr.defaultMaxBatch(gpu, config, usual);
    this.scheduler = new DecodeScheduler(gpu, weights, config, this.maxBatch, maxBeams, usual);
  }

  /**
   * Most rows one decoder step serves when `maxBatch` is not given: the adapter's largest buffer (the memory
   * figure WebGPU exposes) over the KV bytes of one usual sequence (a 30 s window's prompt + 500 tokens), at
   * most 8 (the rows one forward shares: docs/batching.md) and at most 4 on CPU adapters (their cores, not memory,
   * bound a step).
   */
  static defaultMaxBatch(gpu: Gpu, config: GlmAsrConfig, usualSequence: number): number {
    const fit = Math.floor(gpu.caps.maxBufferBytes / DecoderCache.slotBytes(config, usualSequence));
    return Math.max(1, Math.min(fit, gpu.caps.cpuAdapter ? 4 : GEMV_MAX_ROWS));
  }

  /** Positions of a usual sequence: one full window's prompt and 500 new tokens (the default maxNewTokens). */
  private usualSequence(): number {
    return Math.min(this.promptIds([this.config.frontEnd.tokensPerWindow]).ids.length + 500,
      this.config.decoder.maxPositions);
  }

  /** Counts of the decoder steps so far: how many rows concurrent transcriptions shared (docs/batching.md). */
  get batchStats(): Readonly<BatchStats> {
    return this.scheduler.stats;
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
    // Before the device and the weights: a bad VAD file fails fast, naming the file (VadModelError).
    const vad = options.vad === undefined ? undefined : await SileroVad.load(options.vad);
    if (vad && !vad.sampleRates.includes(config.frontEnd.sampleRate)) {
      throw new OptionError('vad', `weights support ${vad.sampleRates.join(', ')} Hz, not the model's ` +
        `${config.frontEnd.sampleRate} Hz`);
    }
    const tokenizerFile = `${provider.name}/tokenizer.json`;
    const tokenizer = Tokenizer.fromJSON(await provider.readText('tokenizer.json'), { file: tokenizerFile });
    const ckpt = await Checkpoint.open(provider);
    try {
      const scheme = checkpointScheme(ckpt);
      validateAgainstTensors(config, ckpt.tensors, { source: provider.name, scheme });
      const gpu = options.gpu ?? (await Gpu.create(options.gpuOptions));
      try {
        const precision = options.precision && options.precision !== 'auto' ? options.precision
          : scheme ? schemePrecision(scheme) : gpu.caps.cpuAdapter ? 'f32' : 'f16';
        const weights = await loadWeights(gpu, ckpt, config, { precision, onProgress: options.onProgress });
        const maxBeams = options.maxBeams ?? 4;
        return new GlmAsr(provider.name, gpu, config, tokenizer, weights, maxBeams, options.maxBatch, !options.gpu,
          notice, vad);
      } catch (e) {
        if (!options.gpu) gpu.destroy(); // loadWeights has freed its buffers already
        throw e;
      }
    } finally {
      await ckpt.close();
    }
  }

  /** The whole transcription at once: `transcribeStream`'s events gathered. */
  async transcribe(audio: AudioInput, options: TranscribeOptions = {}): Promise<Transcription> {
    const segments: Segment[] = [];
    for await (const e of this.transcribeStream(audio, options)) {
      if (e.type === 'segment-end') segments.push(e.segment);
      if (e.type === 'done') {
        const text = segments.map((s) => s.text).filter(Boolean).join(' ');
        const tokens = segments.flatMap((s) => s.tokens ?? []);
        return { text, tokens, segments, durationSec: e.durationSec, timings: e.timings };
      }
    }
    throw new Error('transcribeStream ended without its done event');
  }

  /**
   * The transcription as events, as soon as each is known: a segment's start (its times), text deltas as tokens
   * are decoded, its end (text, tokens, statistics); then `done`. Options are checked before anything runs;
   * breaking out of the loop stops the work after the current decoder step.
   */
  async *transcribeStream(audio: AudioInput, options: TranscribeOptions = {}): AsyncGenerator<TranscribeEvent> {
    const t0 = performance.now();
    const timings = { decodeAudio: 0, vad: 0, mel: 0, encode: 0, generate: 0, total: 0 };
    checkTranscribeOptions(options, { maxBeams: this.maxBeams, maxPositions: this.config.decoder.maxPositions,
      windowSeconds: this.config.frontEnd.chunkLength });
    const name = options.name ?? 'audio';
    const input = audioArgument(audio, name);
    const segmenter = options.segmenter ?? 'vad';
    if (segmenter === 'vad' && !this.vad) {
      throw new OptionError('segmenter', "'vad' needs the VAD weights: load the model with { vad } (a FileProvider " +
        "of models/silero-vad-v5), or transcribe with segmenter: 'fixed'");
    }
    const fe = this.config.frontEnd;

    options.onProgress?.({ stage: 'decode-audio', done: 0, total: 1 });
    const samples = 'bytes' in input
      ? (await decodeAudio(input.bytes, name, { signal: options.signal })).samples : input.samples;
    timings.decodeAudio = performance.now() - t0;
    const durationSec = samples.length / fe.sampleRate;
    if (this.audioTokens(samples.length) === 0) {
      // Below one audio token (6 hops + 1 sample: 961 at 16 kHz) the model sees no audio: refuse, do not invent text.
      const minMs = this.minAudioSeconds * 1000;
      throw new RangeError(`${name}: audio is too short (${(durationSec * 1000).toFixed(1)} ms); ` +
        `GLM-ASR needs at least ${minMs.toFixed(1)} ms`);
    }
    const run = { options, timings, index: 0 };
    if (segmenter === 'vad') yield* this.vadSegments(samples, run);
    else yield* this.fixedSegments(samples, run);
    timings.total = performance.now() - t0;
    yield { type: 'done', durationSec, timings };
  }

  /** Consecutive 30 s windows, up to maxWindows per prompt (one segment each); windows are cut per prompt. */
  private async *fixedSegments(samples: Float32Array, run: SegmentRun): AsyncGenerator<TranscribeEvent> {
    const fe = this.config.frontEnd;
    const span = fe.nSamples * fe.maxWindows;
    for (let s0 = 0; s0 < Math.max(1, samples.length); s0 += span) {
      run.options.signal?.throwIfAborted();
      const group = splitWindows(samples.subarray(s0, s0 + span), fe.nSamples);
      const start = s0 / fe.sampleRate;
      const end = (s0 + group.reduce((n, w) => n + w.validSamples, 0)) / fe.sampleRate;
      const blocks = run.options.audioBlocks === 'per-window' ? group.map((_, i) => [i]) : [group.map((_, i) => i)];
      const encoded = await this.encodeBatch(group, run);
      try {
        yield* this.decodeSegment(encoded, blocks, { start, end }, run);
      } finally {
        encoded.release();
      }
    }
  }

  /**
   * Speech chunks from the VAD, planned while the VAD runs over the audio (a piece at a time), so the first text
   * comes after the first chunk, not after the whole file. Ready chunks are encoded together (one encoder batch:
   * the GPU work they share), then each is prefilled and decoded on its own.
   */
  private async *vadSegments(samples: Float32Array, run: SegmentRun): AsyncGenerator<TranscribeEvent> {
    const fe = this.config.frontEnd;
    const vad = this.vad!;
    const stream = vad.stream(fe.sampleRate);
    const planner = new ChunkPlanner({ frameSamples: vad.chunkSamples(fe.sampleRate), sampleRate: fe.sampleRate },
      { maxChunkSec: run.options.maxChunkSeconds ?? fe.maxChunkSeconds });
    const piece = 10 * fe.sampleRate;
    const batch = Math.min(VAD_BATCH_CHUNKS, encoderWindowBatch(this.config, this.gpu.caps.maxStorageBindingBytes));
    const ready: SpeechChunk[] = [];
    let pos = 0;
    // Encoder batches of 1, 2, 4, … chunks up to what one batch holds: the first text comes after one chunk, and
    // later chunks share encoder work while segments keep coming at a steady pace.
    let want = 1;
    for (;; want = Math.min(batch, 2 * want)) {
      while (ready.length < want && pos < samples.length) {
        run.options.signal?.throwIfAborted();
        const t = performance.now();
        const end = Math.min(pos + piece, samples.length);
        ready.push(...planner.push(stream.push(samples.subarray(pos, end))));
        if (end === samples.length) ready.push(...planner.push(stream.flush()), ...planner.finish(samples.length));
        pos = end;
        run.timings.vad += performance.now() - t;
        run.options.onProgress?.({ stage: 'vad', done: pos / fe.sampleRate, total: samples.length / fe.sampleRate });
        await yieldToEventLoop(); // a piece per turn: a server stays responsive
      }
      if (!ready.length) return;
      const chunks = ready.splice(0, batch);
      const windows = chunks.map((c) => splitWindows(samples.subarray(c.startSample, c.endSample), fe.nSamples)[0]);
      const encoded = await this.encodeBatch(windows, run);
      try {
        for (let i = 0; i < chunks.length; i++) {
          const c = chunks[i];
          const span = { start: c.startSample / fe.sampleRate, end: c.endSample / fe.sampleRate };
          yield* this.decodeSegment(encoded, [[i]], { ...span, noSpeechProb: 1 - c.maxProb }, run);
        }
      } finally {
        encoded.release();
      }
    }
  }

  /**
   * A live session: push PCM as it is captured; partial text while someone speaks, a final per utterance
   * (`./live.ts`). Needs the VAD weights unless `turnDetection: null`.
   */
  live(options: LiveOptions = {}): LiveSession {
    return openLiveSession(this, options);
  }

  /**
   * Log-mel (CPU), then encoder + projector for `windows` on the GPU; the rows stay for their prompts until
   * `release`. Windows of transcriptions waiting at the same time go in one encoder batch (`runEncoder`).
   */
  private async encodeBatch(windows: WindowSamples[], run: SegmentRun): Promise<EncodedWindows> {
    const t = performance.now();
    run.options.onProgress?.({ stage: 'encode', done: 0, total: windows.length });
    const mel = await this.melWindows(windows, run.timings);
    run.options.signal?.throwIfAborted();
    const encoded = await new Promise<EncodedWindows>((resolve, reject) => {
      this.encoderQueue.push({ windows, mel, resolve, reject });
      this.runEncoder();
    });
    run.timings.encode += performance.now() - t;
    run.options.onProgress?.({ stage: 'encode', done: windows.length, total: windows.length });
    return encoded;
  }

  /**
   * One encoder submission for the queued requests whose windows fit one batch (all of them when maxBatch > 1;
   * else the first), unless one is on the GPU already: requests that queue meanwhile go together next.
   */
  private runEncoder(): void {
    if (this.encoding || !this.encoderQueue.length) return;
    const limit = Math.max(this.encoderQueue[0].windows.length,
      encoderWindowBatch(this.config, this.gpu.caps.maxStorageBindingBytes));
    const jobs: EncoderJob[] = [];
    let n = 0;
    while (this.encoderQueue.length && n + this.encoderQueue[0].windows.length <= limit &&
      (this.maxBatch > 1 || !jobs.length)) {
      const job = this.encoderQueue.shift()!;
      jobs.push(job);
      n += job.windows.length;
    }
    const melSize = this.config.frontEnd.melBins * this.config.frontEnd.nFrames;
    const mel = new Float32Array(n * melSize);
    jobs.reduce((w0, j) => (mel.set(j.mel, w0 * melSize), w0 + j.windows.length), 0);
    let shared: EncodedWindows & { mel: Tensor };
    try {
      const rec = new Recorder(this.gpu, jobs.length > 1 ? `encode ×${jobs.length}` : 'encode');
      const stats = this.scheduler.stats;
      stats.widestEncoderBatch = Math.max(stats.widestEncoderBatch, jobs.length);
      shared = this.encodeWindows(rec, jobs.flatMap((j) => j.windows), mel, {});
      rec.submit();
      this.gpu.release(shared.mel);
    } catch (e) {
      for (const j of jobs) j.reject(e);
      this.runEncoder();
      return;
    }
    // The projector rows are freed when every request of the batch has released its part.
    let holders = jobs.length;
    const release = () => {
      if (--holders === 0) this.gpu.release(shared.audioEmb);
    };
    this.encoding = true;
    void this.gpu.sync().then(() => {
      this.encoding = false;
      let w0 = 0;
      for (const j of jobs) {
        j.resolve({ ...shared, window0: w0, counts: shared.counts.slice(w0, w0 + j.windows.length), release });
        w0 += j.windows.length;
      }
      this.runEncoder();
    });
  }

  /**
   * One segment: its prompt over `blocks` (lists of window indices in `encoded`, one audio block each), then
   * greedy or beam search, with the events as tokens arrive.
   */
  private async *decodeSegment(encoded: EncodedWindows, blocks: number[][], span: SegmentSpan,
    run: SegmentRun): AsyncGenerator<TranscribeEvent> {
    const index = run.index++;
    yield { type: 'segment-start', index, start: span.start, end: span.end };
    const { options, timings } = run;
    const beams = options.beams ?? 1;
    const maxNewTokens = options.maxNewTokens ?? 500;
    let t = performance.now();
    const prompt = this.prompt(encoded, blocks, maxNewTokens);
    // Rows on the shared KV cache once they fit (`maxBatch`); the prefill is this sequence's own submission.
    const decoder = await this.scheduler.acquire(beams, prompt.maxSeq, options.signal);
    try {
      const rec = new Recorder(this.gpu, 'prefill');
      const release = this.prefillPrompt(rec, encoded, blocks, prompt, decoder);
      rec.submit();
      this.gpu.release(...release);
    } catch (e) {
      this.scheduler.release(decoder);
      throw e;
    }
    const model = new GpuSearchModel(this.gpu, decoder, this.config.decoder.vocab, beams,
      { logprobs: beams === 1, scheduler: this.scheduler });
    // A consumer that stops iterating stops the search too, before its model is freed.
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    let job: Promise<SearchOutcome> | undefined;
    try {
      await this.gpu.sync();
      timings.encode += performance.now() - t;
      t = performance.now();
      const text = new TextDeltas(this.tokenizer);
      const channel = new EventChannel<TranscribeEvent>();
      let logprobSum = 0;
      const onToken = (token: number, i: number, total: number) => {
        if (beams === 1) logprobSum += model.lastLogprobs[0];
        const delta = text.push(token);
        if (delta) channel.push({ type: 'text', index, delta });
        options.onProgress?.({ stage: 'generate', done: i + 1, total });
      };
      // The search runs while its events are handed out: a consumer sees each delta as its token is decoded.
      // The sequence leaves the step barrier as soon as its search ends, not when a consumer gets to the last
      // events: a consumer that waits (or awaits another transcription) between events must not stall the others.
      const searched = this.search(model, decoder, beams, maxNewTokens, { ...options, signal }, onToken)
        .finally(() => this.scheduler.release(decoder));
      job = channel.run(searched);
      for await (const e of channel) yield e;
      const result = await job;
      if (result.eosToken !== undefined && beams === 1) logprobSum += model.lastLogprobs[0];
      const tokens = result.tokens;
      const segment: Segment = {
        start: span.start,
        end: span.end,
        text: this.tokenizer.decode(tokens, { skipSpecialTokens: true }).trim(),
        tokens,
        avgLogprob: beams === 1
          ? logprobSum / Math.max(1, tokens.length + (result.eosToken !== undefined ? 1 : 0))
          : result.sumLogprobs / Math.max(1, result.length),
      };
      if (span.noSpeechProb !== undefined) segment.noSpeechProb = span.noSpeechProb;
      timings.generate += performance.now() - t;
      yield { type: 'segment-end', index, segment };
    } finally {
      stop.abort();
      await job?.catch(() => undefined);
      model.dispose();
      this.scheduler.release(decoder);
    }
  }

  /** Greedy or beam search on a prefilled decoder; `onToken` sees each chosen token of the best sequence. */
  private async search(model: GpuSearchModel, decoder: Decoder, beams: number, maxNewTokens: number,
    options: TranscribeOptions, onToken: (token: number, index: number, total: number) => void,
  ): Promise<SearchOutcome> {
    const eosTokenIds = this.config.ids.eosTokenIds;
    // n tokens take n - 1 steps: generation stops at the last decoder position (a 'length' finish) when the prompt
    // leaves fewer than maxNewTokens - 1 free.
    const budget = Math.min(maxNewTokens, decoder.maxSeq - decoder.length + 1);
    const { signal, lengthPenalty = 1, earlyStopping } = options;
    if (beams === 1) {
      const r = await greedy(model, {
        maxNewTokens: budget, eosTokenIds, signal, onToken: (tok, i) => onToken(tok, i, budget),
      });
      if (r.finishReason === 'aborted') signal?.throwIfAborted();
      return { tokens: r.tokens, eosToken: r.eosToken, sumLogprobs: NaN, length: 0 };
    }
    let shown = 0;
    const r = await beamSearch(model, {
      beams, maxNewTokens: budget, eosTokenIds, lengthPenalty, earlyStopping, signal,
      // The best beam changes under our feet: only its settled prefix… is unknowable, so text comes at the end.
      onStep: (s) => options.onProgress?.({ stage: 'generate', done: s.step, total: budget }),
    });
    if (r.finishReason === 'aborted') signal?.throwIfAborted();
    for (; shown < r.tokens.length; shown++) onToken(r.tokens[shown], shown, budget);
    // The score is sum / length ** lengthPenalty over the generated length, the eos included (docs/generation.md).
    const length = r.tokens.length + (r.eosToken !== undefined ? 1 : 0);
    return { tokens: r.tokens, eosToken: r.eosToken, sumLogprobs: r.score * length ** lengthPenalty, length };
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

  /**
   * Encodes up to maxWindows windows and runs one prompt over all of them through the decoder: log-mel (CPU) →
   * encoder and projector for all windows in one batch → each window's first N_i projector rows copied over the
   * prompt's `<|pad|>` run → prefill. Returns the decoder holding the prompt's KV cache and last logits (row 0),
   * on a KV cache of its own (dispose it when done).
   * Exposed for the stage-by-stage golden tests (`taps`); `transcribe` is the everyday entry point.
   * `audioBlocks` as in TranscribeOptions.
   */
  async prefill(windows: WindowSamples[], o: {
    beams: number; maxNewTokens: number; taps?: PrefillTaps; timings?: Transcription['timings'];
    prefillChunk?: number; audioBlocks?: AudioBlocks;
  }): Promise<Decoder> {
    const fe = this.config.frontEnd;
    const W = windows.length;
    if (W < 1 || W > fe.maxWindows) throw new RangeError(`prefill takes 1..${fe.maxWindows} windows, got ${W}`);
    const mel = await this.melWindows(windows, o.timings);
    // Recorded and submitted with no await in between: tensors released while recording return to the pool, and
    // another transcription's upload into one of them must not land before this submission.
    const rec = new Recorder(this.gpu, 'encode+prefill');
    const encoded = this.encodeWindows(rec, windows, mel, o);
    const blocks = o.audioBlocks === 'per-window' ? windows.map((_, i) => [i]) : [windows.map((_, i) => i)];
    const prompt = this.prompt(encoded, blocks, o.maxNewTokens);
    const decoder = new Decoder(this.gpu, this.weights, this.config, o.beams, prompt.maxSeq);
    const release = this.prefillPrompt(rec, encoded, blocks, prompt, decoder, o.prefillChunk);
    rec.submit();
    this.gpu.release(encoded.mel, encoded.audioEmb, ...release);
    await this.gpu.sync();
    return decoder;
  }

  /** Log-mel per window on the CPU (about 20 ms per window; docs/audio.md), a window per event-loop turn. */
  private async melWindows(windows: WindowSamples[], timings?: Transcription['timings']): Promise<Float32Array> {
    const fe = this.config.frontEnd;
    const t = performance.now();
    const melSize = fe.melBins * fe.nFrames;
    const melHost = new Float32Array(windows.length * melSize);
    for (let i = 0; i < windows.length; i++) {
      if (i > 0) await yieldToEventLoop(); // a window per turn: a server stays responsive during a long file
      this.mel.compute(windows[i].samples, melHost.subarray(i * melSize, (i + 1) * melSize));
    }
    if (timings) timings.mel += performance.now() - t;
    return melHost;
  }

  /**
   * The encoder and projector for all windows (log-mel `melHost`) recorded into `rec`, in batches whose
   * activations fit one storage binding.
   */
  private encodeWindows(rec: Recorder, windows: WindowSamples[], melHost: Float32Array,
    o: { taps?: PrefillTaps }): EncodedWindows & { mel: Tensor } {
    const gpu = this.gpu;
    const cfg = this.config;
    const fe = cfg.frontEnd;
    const W = windows.length;
    const melGpu = gpu.upload('mel', melHost, [W, fe.melBins, fe.nFrames], 'f32');

    const perWindow = encoderFrames(cfg) / cfg.projector.mergeFactor;
    const audioEmb = gpu.tensor('audio.embeddings', [W * perWindow, cfg.decoder.hidden], 'f32');
    if (o.taps?.mel) rec.copy(melGpu, o.taps.mel);
    const batch = encoderWindowBatch(cfg, gpu.caps.maxStorageBindingBytes);
    if (o.taps && batch < W) {
      throw new RangeError(`taps need all ${W} windows in one encoder batch (at most ${batch} fit)`);
    }
    for (let w0 = 0; w0 < W; w0 += batch) {
      const n = Math.min(batch, W - w0);
      const mel = n === W ? melGpu : melGpu.rows(w0, n);
      encodeAudio(rec, this.weights, cfg, mel, n, audioEmb.rows(w0 * perWindow, n * perWindow), o.taps);
    }
    if (o.taps?.projector) rec.copy(audioEmb, o.taps.projector);
    const counts = windows.map((w) => this.audioTokens(w.validSamples));
    return { audioEmb, mel: melGpu, perWindow, window0: 0, counts, release: () => gpu.release(audioEmb) };
  }

  /**
   * The prompt over `blocks` (one `<|begin_of_audio|>…<|end_of_audio|>` block per entry, each the listed windows'
   * audio tokens in order) and the positions its sequence needs.
   */
  private prompt(encoded: EncodedWindows, blocks: number[][], maxNewTokens: number): Prompt {
    const ids = this.promptIds(blocks.map((b) => b.reduce((n, w) => n + encoded.counts[w], 0)));
    const T = ids.ids.length;
    const maxSeq = Math.min(T + maxNewTokens, this.config.decoder.maxPositions);
    if (T >= maxSeq) {
      const limit = this.config.decoder.maxPositions;
      throw new RangeError(`the prompt (${T} tokens) leaves no room to generate within ${limit} positions`);
    }
    return { ...ids, maxSeq };
  }

  /**
   * Records `prompt` into `rec` on `decoder`: embeddings, the windows' projector rows copied over the `<|pad|>`
   * runs, prefill. Returns the tensors to release after the submit.
   */
  private prefillPrompt(rec: Recorder, encoded: EncodedWindows, blocks: number[][], ids: Prompt, decoder: Decoder,
    prefillChunk?: number): Tensor[] {
    const gpu = this.gpu;
    const cfg = this.config;
    const { audioEmb, perWindow, counts, window0 } = encoded;
    const rowBytes = cfg.decoder.hidden * 4;
    const T = ids.ids.length;
    const idsGpu = gpu.upload('prompt.ids', Uint32Array.from(ids.ids), [T], 'u32');
    const promptEmb = gpu.tensor('prompt.embeddings', [T, cfg.decoder.hidden], 'f32');
    embedRows(rec, this.weights.embed, idsGpu, promptEmb, { label: 'prompt.embed' });
    blocks.forEach((windows, b) => {
      let row = ids.blockStarts[b];
      for (const w of windows) {
        const src = (window0 + w) * perWindow * rowBytes;
        if (counts[w]) rec.copy(audioEmb, promptEmb, counts[w] * rowBytes, src, row * rowBytes);
        row += counts[w];
      }
    });
    decoder.prefill(rec, promptEmb, T, prefillChunk);
    return [idsGpu, promptEmb];
  }

  /**
   * Prompt ids with one audio block per entry of `blockTokens` (that many `<|pad|>` each) and where each block's
   * pads start. One block is the chat template (transformers' processor); several blocks follow the authors'
   * script: `…<|begin_of_audio|>pads<|end_of_audio|><|begin_of_audio|>pads<|end_of_audio|>…`.
   */
  private promptIds(blockTokens: number[]): { ids: Int32Array; blockStarts: number[] } {
    const total = blockTokens.reduce((a, b) => a + b, 0);
    const audioTokenId = this.config.ids.audioTokenId;
    const prompt = buildTranscriptionPrompt(this.tokenizer, total, { audioTokenId });
    if (blockTokens.length === 1) return { ids: prompt.ids, blockStarts: [prompt.audioStart] };
    const eoa = this.tokenizer.tokenToId(END_OF_AUDIO_TOKEN)!;
    const boa = this.tokenizer.tokenToId(BEGIN_OF_AUDIO_TOKEN)!;
    const ids = new Int32Array(prompt.ids.length + 2 * (blockTokens.length - 1));
    ids.set(prompt.ids.subarray(0, prompt.audioStart));
    let at = prompt.audioStart;
    const blockStarts: number[] = [];
    blockTokens.forEach((n, b) => {
      if (b > 0) {
        ids[at++] = eoa;
        ids[at++] = boa;
      }
      blockStarts.push(at);
      ids.fill(audioTokenId, at, at + n);
      at += n;
    });
    ids.set(prompt.ids.subarray(prompt.audioStart + total), at);
    return { ids, blockStarts };
  }

  /** Frees the device when load created it, else the weights (the device's owner keeps it). */
  dispose(): void {
    this.scheduler.dispose();
    if (this.ownsGpu) this.gpu.destroy();
    else this.weights.destroy();
  }
}

/**
 * The decoder as the search sees it: GPU argmax / top-k, only ids and scores read back (also timed by bench/model).
 * With `logprobs`, each argmax also gives the chosen tokens' log-softmax values (`lastLogprobs`), read back with the
 * ids: a second top-1 pass in log-softmax form, whose value is max − max − log Σ exp(x − max) = −log Σ exp(x − max)
 * exactly, the log-probability of the raw argmax (its index is not used: rounding could tie near-equal logits).
 */
export class GpuSearchModel implements SearchModel {
  private readonly src: Tensor;
  /** u32 [2 · maxRows]: argmax ids, then (with logprobs) the f32 bits of their log-probabilities. */
  private readonly best: Tensor;
  private readonly lseIdx: Tensor | undefined;
  /** Log-probabilities of the ids the last `argmax` returned (with `logprobs`; else empty). */
  lastLogprobs = new Float32Array(0);

  constructor(private readonly gpu: Gpu, private readonly decoder: Decoder, readonly vocabSize: number,
    readonly maxRows: number, private readonly o: { logprobs?: boolean; scheduler?: DecodeScheduler } = {}) {
    this.src = gpu.tensor('search.reorder', [maxRows], 'u32');
    this.best = gpu.tensor('search.argmax', [2 * maxRows], 'u32');
    this.lseIdx = o.logprobs ? gpu.tensor('search.lse-index', [maxRows], 'u32') : undefined;
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
    const logits = this.decoder.logits.rows(0, rows);
    argmax(rec, logits, this.best.rows(0, rows));
    const values = new Tensor(this.best.buffer, [rows], 'f32', this.best.byteOffset + this.maxRows * 4);
    if (this.lseIdx) topK(rec, logits, this.lseIdx, values, { k: 1, logSoftmax: true, label: 'argmax.logprob' });
    rec.submit();
    const read = await this.gpu.readU32(this.best, this.lseIdx ? this.maxRows + rows : rows);
    if (this.lseIdx) {
      this.lastLogprobs = new Float32Array(read.buffer, read.byteOffset + this.maxRows * 4, rows).slice();
    }
    return Int32Array.from(read.subarray(0, rows));
  }

  async topK(rowScores: Float32Array, k: number): Promise<Candidate[]> {
    return topKLogSoftmax(this.gpu, this.decoder.logits.rows(0, rowScores.length), rowScores, { k });
  }

  /** With a scheduler: one batched step with the other open sequences (its barrier); else this decoder's own. */
  async step(tokens: Int32Array): Promise<void> {
    if (this.o.scheduler) await this.o.scheduler.step(this.decoder, tokens);
    else this.decoder.step(tokens);
  }

  dispose(): void {
    this.gpu.release(this.src, this.best);
    if (this.lseIdx) this.gpu.release(this.lseIdx);
  }
}

/**
 * Encoder output of a request's windows: projector rows (`perWindow` per window, the first `counts[i]` real) from
 * window `window0` of `audioEmb` (an encoder batch may hold several requests' windows).
 */
interface EncodedWindows {
  audioEmb: Tensor;
  perWindow: number;
  window0: number;
  counts: number[];
  /** This request is done with the rows (the batch's tensor is freed when all its requests are). */
  release: () => void;
}

/** A request waiting for the encoder: its windows and their log-mel. */
interface EncoderJob {
  windows: WindowSamples[];
  mel: Float32Array;
  resolve: (e: EncodedWindows) => void;
  reject: (e: unknown) => void;
}

/** Prompt ids, where each audio block's pads start, and the positions the sequence needs. */
interface Prompt {
  ids: Int32Array;
  blockStarts: number[];
  maxSeq: number;
}

/** State of one transcription shared by its segments. */
interface SegmentRun {
  options: TranscribeOptions;
  timings: Transcription['timings'];
  /** Index of the next segment. */
  index: number;
}

/** A finished search: for beams, the best hypothesis' sum of log-probabilities and length (eos included). */
interface SearchOutcome {
  tokens: number[];
  eosToken?: number;
  sumLogprobs: number;
  length: number;
}

interface SegmentSpan {
  start: number;
  end: number;
  noSpeechProb?: number;
}

/**
 * A segment's text as deltas while ids arrive: UTF-8 safe (the tokenizer's streaming decoder holds back partial
 * characters), leading whitespace dropped and trailing whitespace held back, so the deltas join to exactly the
 * segment's trimmed text.
 */
export class TextDeltas {
  private readonly decoder;
  private started = false;
  private held = '';

  constructor(tokenizer: Tokenizer) {
    this.decoder = tokenizer.createStreamingDecoder({ skipSpecialTokens: true });
  }

  /** The new text once `id` is decoded ('' when nothing can be shown yet). */
  push(id: number): string {
    let text = this.held + this.decoder.push(id);
    if (!this.started) text = text.trimStart();
    const body = text.trimEnd();
    this.held = text.slice(body.length);
    if (body) this.started = true;
    return body;
  }
}
