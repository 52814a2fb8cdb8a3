/**
 * GLM-ASR-Nano configuration: parse and validate the Hugging Face files of
 * `GlmAsrForConditionalGeneration` (transformers v5 format) into one typed, frozen object.
 *
 * Inputs: `config.json` (required), `generation_config.json`, `processor_config.json`
 * (feature-extractor keys nested under `feature_extractor`, processor keys such as
 * `max_audio_len` at top level) and/or the older `preprocessor_config.json` (feature-extractor keys
 * at top level); all optional except `config.json`.
 *
 * Defaults: a field missing from a file takes the value the Hugging Face class would give it
 * (`save_pretrained` omits values equal to class defaults, so the official file may not spell
 * them out):
 *   - `audio_config`: `GlmAsrEncoderConfig` class defaults (1280/5120/32 layers/20 heads/1500
 *     positions/128 mels/gelu, partial_rotary_factor 0.5, rope theta 10000);
 *   - `text_config`: `GlmAsrConfig._default_text_config_kwargs` (vocab 59264, hidden 2048,
 *     ffn 6144, 28 layers, 16/4 heads, 8192 positions, rms eps 1e-5, eos [59246,59253,59255],
 *     rope default/10000) and, beyond those, `LlamaConfig` defaults (silu, no biases,
 *     head_dim = hidden/heads);
 *   - top level: `audio_token_id` 59260, `projector_hidden_act` "gelu", `tie_word_embeddings` true;
 *   - feature extractor: `WhisperFeatureExtractor` defaults (16 kHz, n_fft 400, hop 160,
 *     30 s chunks, padding 0.0, dither 0.0) with `feature_size` = the encoder's mel bins;
 *   - processor: `max_audio_len` 655 s.
 * Nothing else is tied to the 1.5B sizes: every shape below derives from the parsed values.
 */
import { preview } from '../../preview';
import type { FileProvider } from '../../weights/checkpoint';
import { quantMatrixProblem, SCALE_SUFFIX, storedShape, type QuantScheme } from '../../weights/quant';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export interface GlmAsrEncoderDims {
  /** d_model. */
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Rotated dims per head: floor(headDim × partialRotaryFactor), half-split (rotate_half) layout. */
  readonly rotaryDim: number;
  readonly partialRotaryFactor: number;
  readonly ropeTheta: number;
  readonly layers: number;
  /** MLP width (fc1 out). */
  readonly ffn: number;
  /** LayerNorm eps. The HF module uses `nn.LayerNorm` defaults (1e-5) whatever the config says. */
  readonly eps: number;
  readonly numMelBins: number;
  readonly maxPositions: number;
  readonly act: 'gelu';
}

export interface GlmAsrProjectorDims {
  /** Consecutive encoder frames concatenated into one audio token (hard-coded 4 in HF). */
  readonly mergeFactor: number;
  /** linear_1 input = audio_config.intermediate_size (= mergeFactor × encoder hidden). */
  readonly inDim: number;
  /** linear_1 output = text_config.hidden_size × 2. */
  readonly hidden: number;
  /** linear_2 output = text_config.hidden_size. */
  readonly outDim: number;
  readonly act: 'gelu';
}

export interface GlmAsrDecoderDims {
  readonly vocab: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ffn: number;
  readonly layers: number;
  readonly rmsEps: number;
  readonly ropeTheta: number;
  readonly ropeType: 'default';
  readonly maxPositions: number;
  readonly tiedEmbeddings: boolean;
  readonly act: 'silu';
}

export interface GlmAsrTokenIds {
  /** `<|pad|>` placeholder overwritten by audio embeddings. */
  readonly audioTokenId: number;
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId: number | null;
  readonly padTokenId: number | null;
}

export interface GlmAsrFrontEnd {
  readonly sampleRate: number;
  readonly nFft: number;
  /** n_fft / 2 + 1. */
  readonly nFreqBins: number;
  readonly hopLength: number;
  /** Window length in seconds. */
  readonly chunkLength: number;
  /** Samples per window (chunkLength × sampleRate). */
  readonly nSamples: number;
  /** Mel frames per window (nSamples / hopLength). */
  readonly nFrames: number;
  readonly melBins: number;
  readonly paddingValue: number;
  readonly dither: number;
  /** Processor `max_audio_len` in seconds. */
  readonly maxAudioLenSeconds: number;
  /** floor(max_audio_len / chunk_length); audio beyond maxWindows × chunkLength is dropped. */
  readonly maxWindows: number;
  /** Encoder output frames per full window: (nFrames − 1) // 2 + 1. */
  readonly encoderFrames: number;
  /** Audio tokens per full window: encoderFrames / mergeFactor. */
  readonly tokensPerWindow: number;
  /** maxWindows × tokensPerWindow. */
  readonly maxAudioTokens: number;
  /**
   * The VAD segmenter's default longest chunk in seconds: generation_config.json `glm_asr.max_chunk_seconds` (our
   * key, which transformers ignores), for a model trained on shorter clips than its window; default chunkLength.
   */
  readonly maxChunkSeconds: number;
}

export interface GlmAsrConfig {
  readonly encoder: GlmAsrEncoderDims;
  readonly projector: GlmAsrProjectorDims;
  readonly decoder: GlmAsrDecoderDims;
  readonly ids: GlmAsrTokenIds;
  readonly frontEnd: GlmAsrFrontEnd;
}

/** A configuration problem, naming the file and the (dotted) field. */
export class ConfigError extends Error {
  readonly file: string;
  readonly field: string;
  /** All problems found when several are reported at once (else one entry). */
  readonly issues: readonly string[];
  constructor(file: string, field: string, message: string, issues?: readonly string[]) {
    super(`${file}: ${field}: ${message}`);
    this.name = 'ConfigError';
    this.file = file;
    this.field = field;
    this.issues = issues ?? [message];
  }
}

// ---------------------------------------------------------------------------------------------
// Defaults (Hugging Face class defaults, see header)
// ---------------------------------------------------------------------------------------------

/** `GlmAsrEncoderConfig` class defaults. */
export const HF_AUDIO_DEFAULTS = Object.freeze({
  hidden_size: 1280,
  intermediate_size: 5120,
  num_hidden_layers: 32,
  num_attention_heads: 20,
  hidden_act: 'gelu',
  max_position_embeddings: 1500,
  num_mel_bins: 128,
  partial_rotary_factor: 0.5,
  rope_theta: 10000,
});

/** `GlmAsrConfig._default_text_config_kwargs` plus the `LlamaConfig` defaults we rely on. */
export const HF_TEXT_DEFAULTS = Object.freeze({
  vocab_size: 59264,
  hidden_size: 2048,
  intermediate_size: 6144,
  num_hidden_layers: 28,
  num_attention_heads: 16,
  num_key_value_heads: 4,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  eos_token_id: Object.freeze([59246, 59253, 59255]),
  rope_theta: 10000,
  hidden_act: 'silu',
});

/** `GlmAsrConfig` top-level defaults. */
export const HF_TOP_DEFAULTS = Object.freeze({
  audio_token_id: 59260,
  projector_hidden_act: 'gelu',
  tie_word_embeddings: true,
});

/** `WhisperFeatureExtractor` defaults and `GlmAsrProcessor.max_audio_len`. */
export const HF_FRONTEND_DEFAULTS = Object.freeze({
  sampling_rate: 16000,
  n_fft: 400,
  hop_length: 160,
  chunk_length: 30,
  padding_value: 0.0,
  dither: 0.0,
  max_audio_len: 655,
});

/** Frames merged per audio token; `GlmAsrModel.get_audio_features` hard-codes 4. */
export const MERGE_FACTOR = 4;
/** Most layers a config may declare: far above any released model, and it bounds the per-layer tensor tables. */
export const MAX_LAYERS = 1024;

/** HF LayerNorm eps for the encoder (`nn.LayerNorm` default; not read from the config). */
export const ENCODER_LAYER_NORM_EPS = 1e-5;

export const CONFIG_FILE = 'config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';
export const PROCESSOR_CONFIG_FILE = 'processor_config.json';
export const PREPROCESSOR_CONFIG_FILE = 'preprocessor_config.json';
/** Shortest VAD chunk limit (`maxChunkSeconds`): room for the padding and two shortest speech regions. */
export const MIN_CHUNK_SECONDS = 2;

// ---------------------------------------------------------------------------------------------
// Field reading
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Typed access to one JSON object, with errors naming file and dotted field path. */
class Fields {
  constructor(
    readonly file: string,
    readonly obj: Json,
    readonly prefix: string,
  ) {}

  path(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  fail(key: string, msg: string): never {
    throw new ConfigError(this.file, this.path(key), msg);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  int(key: string, def?: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(key, 'required field is missing');
      return def;
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(key, `expected an integer, got ${preview(v)}`);
    const min = opts.min ?? 1;
    if (v < min) this.fail(key, `must be ≥ ${min}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) this.fail(key, `must be ≤ ${opts.max}, got ${v}`);
    return v;
  }

  num(key: string, def: number, opts: { positive?: boolean; nonNegative?: boolean } = {}): number {
    const v = this.obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `expected a number, got ${preview(v)}`);
    if (opts.positive && !(v > 0)) this.fail(key, `must be > 0, got ${v}`);
    if (opts.nonNegative && v < 0) this.fail(key, `must be ≥ 0, got ${v}`);
    return v;
  }

  str(key: string, def?: string): string {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(key, 'required field is missing');
      return def;
    }
    if (typeof v !== 'string') this.fail(key, `expected a string, got ${preview(v)}`);
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(key, `expected a boolean, got ${preview(v)}`);
    return v;
  }

  sub(key: string, required: boolean): Fields | null {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (required) this.fail(key, 'required section is missing');
      return null;
    }
    if (!isObject(v)) this.fail(key, `expected an object, got ${preview(v)}`);
    return new Fields(this.file, v, this.path(key));
  }

  /** An id or list of ids (`eos_token_id` style); undefined when absent. */
  ids(key: string): number[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) this.fail(key, 'must not be an empty list');
    for (const x of list) {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
        this.fail(key, `expected a token id or list of ids, got ${preview(v)}`);
      }
    }
    return list as number[];
  }
}

function parseJsonInput(file: string, input: unknown): Json | null {
  if (input === undefined || input === null) return null;
  let v = input;
  if (typeof input === 'string') {
    try {
      v = JSON.parse(input);
    } catch (e) {
      throw new ConfigError(file, '(file)', `not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!isObject(v)) throw new ConfigError(file, '(file)', 'top level is not a JSON object');
  return v;
}

/** Reads rope type and theta from `rope_parameters` (v5) or `rope_theta` + `rope_scaling` (older). */
function readRope(
  f: Fields, defTheta: number,
): { theta: number; type: 'default'; partialRotaryFactor: number | undefined } {
  const rp = f.sub('rope_parameters', false);
  let theta = f.num('rope_theta', defTheta, { positive: true });
  let type = 'default';
  let prf: number | undefined;
  if (rp) {
    theta = rp.num('rope_theta', theta, { positive: true });
    type = rp.str('rope_type', rp.has('type') ? rp.str('type') : 'default');
    if (rp.has('partial_rotary_factor')) prf = rp.num('partial_rotary_factor', 1, { positive: true });
    if (type !== 'default') {
      rp.fail(
        rp.has('rope_type') ? 'rope_type' : 'type',
        `unsupported rope type ${JSON.stringify(type)} (only "default" is implemented)`,
      );
    }
  }
  const rs = f.sub('rope_scaling', false);
  if (rs) {
    const t = rs.has('rope_type') ? rs.str('rope_type') : rs.has('type') ? rs.str('type') : undefined;
    if (t !== 'default') {
      f.fail('rope_scaling', `unsupported rope scaling ${preview(rs.obj)} (only plain/default RoPE is implemented)`);
    }
  }
  return { theta, type: 'default', partialRotaryFactor: prf };
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/** Contents of the configuration files: parsed JSON objects or raw JSON text. */
export interface GlmAsrConfigFiles {
  config: unknown;
  generationConfig?: unknown;
  processorConfig?: unknown;
  preprocessorConfig?: unknown;
  /** File names used in errors (defaults: the standard HF file names). */
  names?: Partial<Record<'config' | 'generationConfig' | 'processorConfig' | 'preprocessorConfig', string>>;
}

/** Parse and validate GLM-ASR configuration files. Throws `ConfigError`. */
export function parseGlmAsrConfig(files: GlmAsrConfigFiles): GlmAsrConfig {
  const names = {
    config: files.names?.config ?? CONFIG_FILE,
    generationConfig: files.names?.generationConfig ?? GENERATION_CONFIG_FILE,
    processorConfig: files.names?.processorConfig ?? PROCESSOR_CONFIG_FILE,
    preprocessorConfig: files.names?.preprocessorConfig ?? PREPROCESSOR_CONFIG_FILE,
  };
  const cfgJson = parseJsonInput(names.config, files.config);
  if (!cfgJson) throw new ConfigError(names.config, '(file)', 'config.json is required');
  const top = new Fields(names.config, cfgJson, '');

  // ---- identity -------------------------------------------------------------------------------
  if ('whisper_config' in cfgJson || 'lm_config' in cfgJson) {
    top.fail(
      'whisper_config' in cfgJson ? 'whisper_config' : 'lm_config',
      'this is the original (pre-2025-12-27, trust_remote_code) GLM-ASR config format; ' +
        'use the current Hugging Face-format revision of the checkpoint',
    );
  }
  const modelType = top.has('model_type') ? top.str('model_type') : undefined;
  let architectures: string[] | undefined;
  if (top.has('architectures')) {
    const a = cfgJson.architectures;
    if (!Array.isArray(a) || !a.every((x) => typeof x === 'string')) {
      top.fail('architectures', `expected a list of strings, got ${preview(a)}`);
    }
    architectures = a as string[];
  }
  if (modelType === undefined && architectures === undefined) {
    top.fail('model_type', 'required field is missing (and no "architectures" either)');
  }
  if (modelType !== undefined && modelType !== 'glmasr') {
    top.fail('model_type', `unsupported model type ${JSON.stringify(modelType)} (expected "glmasr")`);
  }
  if (architectures !== undefined && !architectures.includes('GlmAsrForConditionalGeneration')) {
    top.fail('architectures', `${preview(architectures)} does not include "GlmAsrForConditionalGeneration"`);
  }

  const audio = top.sub('audio_config', true)!;
  const text = top.sub('text_config', true)!;

  // ---- encoder -------------------------------------------------------------------------------
  const audioType = audio.str('model_type', 'glmasr_encoder');
  if (audioType !== 'glmasr_encoder') {
    audio.fail('model_type', `unsupported audio encoder type ${JSON.stringify(audioType)} (expected "glmasr_encoder")`);
  }
  const eHidden = audio.int('hidden_size', HF_AUDIO_DEFAULTS.hidden_size);
  const eFfn = audio.int('intermediate_size', HF_AUDIO_DEFAULTS.intermediate_size);
  const eLayers = audio.int('num_hidden_layers', HF_AUDIO_DEFAULTS.num_hidden_layers, { max: MAX_LAYERS });
  const eHeads = audio.int('num_attention_heads', HF_AUDIO_DEFAULTS.num_attention_heads);
  const eKv = audio.int('num_key_value_heads', eHeads);
  if (eHeads % eKv !== 0) {
    audio.fail('num_key_value_heads', `num_attention_heads ${eHeads} is not a multiple of num_key_value_heads ${eKv}`);
  }
  let eHeadDim: number;
  if (audio.has('head_dim')) {
    eHeadDim = audio.int('head_dim');
  } else {
    if (eHidden % eHeads !== 0) {
      audio.fail(
        'num_attention_heads',
        `hidden_size ${eHidden} is not divisible by num_attention_heads ${eHeads} (and no head_dim is given)`,
      );
    }
    eHeadDim = eHidden / eHeads;
  }
  const eAct = audio.str('hidden_act', HF_AUDIO_DEFAULTS.hidden_act);
  if (eAct !== 'gelu') {
    audio.fail('hidden_act', `unsupported activation ${JSON.stringify(eAct)} (the encoder implements exact "gelu")`);
  }
  const eRope = readRope(audio, HF_AUDIO_DEFAULTS.rope_theta);
  const prf = audio.num(
    'partial_rotary_factor',
    eRope.partialRotaryFactor ?? HF_AUDIO_DEFAULTS.partial_rotary_factor,
    { positive: true },
  );
  if (
    eRope.partialRotaryFactor !== undefined && audio.has('partial_rotary_factor') &&
    eRope.partialRotaryFactor !== prf
  ) {
    audio.fail(
      'partial_rotary_factor',
      `${prf} disagrees with rope_parameters.partial_rotary_factor ${eRope.partialRotaryFactor}`,
    );
  }
  if (prf > 1) audio.fail('partial_rotary_factor', `must be ≤ 1, got ${prf}`);
  const eRotary = Math.floor(eHeadDim * prf);
  if (eRotary < 2 || eRotary % 2 !== 0) {
    audio.fail(
      'partial_rotary_factor',
      `rotary dim floor(head_dim ${eHeadDim} × ${prf}) = ${eRotary} must be even and ≥ 2`,
    );
  }
  const eMel = audio.int('num_mel_bins', HF_AUDIO_DEFAULTS.num_mel_bins);
  const eMaxPos = audio.int('max_position_embeddings', HF_AUDIO_DEFAULTS.max_position_embeddings);

  // ---- decoder -------------------------------------------------------------------------------
  const textType = text.str('model_type', 'llama');
  if (textType !== 'llama') {
    text.fail('model_type', `unsupported text model type ${JSON.stringify(textType)} (expected "llama")`);
  }
  const dVocab = text.int('vocab_size', HF_TEXT_DEFAULTS.vocab_size);
  const dHidden = text.int('hidden_size', HF_TEXT_DEFAULTS.hidden_size);
  const dFfn = text.int('intermediate_size', HF_TEXT_DEFAULTS.intermediate_size);
  const dLayers = text.int('num_hidden_layers', HF_TEXT_DEFAULTS.num_hidden_layers, { max: MAX_LAYERS });
  const dHeads = text.int('num_attention_heads', HF_TEXT_DEFAULTS.num_attention_heads);
  // HF merges the GLM-ASR default kwargs under the file's text_config, so a missing
  // num_key_value_heads stays 4 even when num_attention_heads is given.
  const dKv = text.int('num_key_value_heads', HF_TEXT_DEFAULTS.num_key_value_heads);
  if (dHeads % dKv !== 0) {
    text.fail('num_key_value_heads', `num_attention_heads ${dHeads} is not a multiple of num_key_value_heads ${dKv}`);
  }
  let dHeadDim: number;
  if (text.has('head_dim')) {
    dHeadDim = text.int('head_dim');
  } else {
    if (dHidden % dHeads !== 0) {
      text.fail(
        'num_attention_heads',
        `hidden_size ${dHidden} is not divisible by num_attention_heads ${dHeads} (and no head_dim is given)`,
      );
    }
    dHeadDim = dHidden / dHeads;
  }
  if (dHeadDim % 2 !== 0) text.fail('head_dim', `head_dim ${dHeadDim} must be even for rotary embeddings`);
  const dAct = text.str('hidden_act', HF_TEXT_DEFAULTS.hidden_act);
  if (dAct !== 'silu') {
    text.fail(
      'hidden_act',
      `unsupported activation ${JSON.stringify(dAct)} (the decoder implements SwiGLU with "silu")`,
    );
  }
  const dEps = text.num('rms_norm_eps', HF_TEXT_DEFAULTS.rms_norm_eps, { positive: true });
  const dRope = readRope(text, HF_TEXT_DEFAULTS.rope_theta);
  if (dRope.partialRotaryFactor !== undefined && dRope.partialRotaryFactor !== 1) {
    text.fail(
      'rope_parameters.partial_rotary_factor',
      `partial rotary (${dRope.partialRotaryFactor}) is not supported in the decoder`,
    );
  }
  if (text.has('partial_rotary_factor') && text.num('partial_rotary_factor', 1) !== 1) {
    text.fail('partial_rotary_factor', 'partial rotary is not supported in the decoder');
  }
  const dMaxPos = text.int('max_position_embeddings', HF_TEXT_DEFAULTS.max_position_embeddings);
  if (text.bool('attention_bias')) text.fail('attention_bias', 'attention biases are not supported (expected false)');
  if (text.bool('mlp_bias')) text.fail('mlp_bias', 'MLP biases are not supported (expected false)');
  const tied = top.bool('tie_word_embeddings') ?? text.bool('tie_word_embeddings') ??
    HF_TOP_DEFAULTS.tie_word_embeddings;

  // ---- projector -----------------------------------------------------------------------------
  // HF GlmAsrMultiModalProjector: linear_1 = Linear(audio_config.intermediate_size,
  // text_config.hidden_size * 2), linear_2 = Linear(text_config.hidden_size * 2,
  // text_config.hidden_size); for the official model 5120 → 4096 → 2048 (spec §3).
  // get_audio_features reshapes the encoder output (frames × hidden) to rows of
  // audio_config.intermediate_size, i.e. it merges intermediate_size / hidden_size frames per
  // token, while the token count uses a hard-coded merge factor of 4: the two only agree when
  // intermediate_size == 4 × hidden_size, so anything else is rejected.
  const pAct = top.str('projector_hidden_act', HF_TOP_DEFAULTS.projector_hidden_act);
  if (pAct !== 'gelu') {
    top.fail(
      'projector_hidden_act',
      `unsupported activation ${JSON.stringify(pAct)} (the projector implements exact "gelu")`,
    );
  }
  if (eFfn !== MERGE_FACTOR * eHidden) {
    audio.fail(
      'intermediate_size',
      `${eFfn} must equal ${MERGE_FACTOR} × hidden_size (${MERGE_FACTOR * eHidden}): ` +
        `the projector input concatenates ${MERGE_FACTOR} encoder frames`,
    );
  }

  // ---- ids -----------------------------------------------------------------------------------
  const audioTokenId = top.int('audio_token_id', HF_TOP_DEFAULTS.audio_token_id, { min: 0 });
  if (audioTokenId >= dVocab) {
    top.fail('audio_token_id', `${audioTokenId} is outside the vocabulary (vocab_size ${dVocab})`);
  }

  const genJson = parseJsonInput(names.generationConfig, files.generationConfig);
  const gen = genJson ? new Fields(names.generationConfig, genJson, '') : null;
  const ours = gen?.sub('glm_asr', false) ?? null;
  // Precedence: generation_config.json > text_config > top level > HF default.
  let eosSource: Fields = text;
  let eos = text.ids('eos_token_id');
  if (eos === undefined) {
    eos = top.ids('eos_token_id');
    eosSource = top;
  }
  const genEos = gen?.ids('eos_token_id');
  if (genEos !== undefined) {
    eos = genEos;
    eosSource = gen!;
  }
  eos = [...new Set(eos ?? HF_TEXT_DEFAULTS.eos_token_id)];
  for (const id of eos) {
    if (id >= dVocab) eosSource.fail('eos_token_id', `${id} is outside the vocabulary (vocab_size ${dVocab})`);
  }
  const pickId = (key: string): number | null => {
    for (const f of [gen, text, top]) {
      if (!f) continue;
      const v = f.ids(key);
      if (v !== undefined) {
        if (v.length !== 1) f.fail(key, `expected one token id, got ${preview(v)}`);
        if (v[0] >= dVocab) f.fail(key, `${v[0]} is outside the vocabulary (vocab_size ${dVocab})`);
        return v[0];
      }
    }
    return null;
  };
  const bosTokenId = pickId('bos_token_id');
  const padTokenId = pickId('pad_token_id');

  // ---- front end -----------------------------------------------------------------------------
  const procJson = parseJsonInput(names.processorConfig, files.processorConfig);
  const preJson = parseJsonInput(names.preprocessorConfig, files.preprocessorConfig);
  // Feature-extractor keys: processor_config.json's nested "feature_extractor" wins over its
  // top-level keys, which win over preprocessor_config.json.
  const feLayers: Fields[] = [];
  if (procJson) {
    const proc = new Fields(names.processorConfig, procJson, '');
    const nested = proc.sub('feature_extractor', false);
    if (nested) feLayers.push(nested);
    feLayers.push(proc);
  }
  if (preJson) feLayers.push(new Fields(names.preprocessorConfig, preJson, ''));
  const feOwner = (key: string): Fields | null => feLayers.find((f) => f.has(key)) ?? null;
  const feInt = (key: string, def: number, min = 1): [number, Fields | null] => {
    const f = feOwner(key);
    return [f ? f.int(key, def, { min }) : def, f];
  };
  const feNum = (
    key: string, def: number, opts: { positive?: boolean; nonNegative?: boolean } = {},
  ): [number, Fields | null] => {
    const f = feOwner(key);
    return [f ? f.num(key, def, opts) : def, f];
  };

  const typeOwner = feOwner('feature_extractor_type');
  if (typeOwner) {
    const t = typeOwner.str('feature_extractor_type');
    if (t !== 'WhisperFeatureExtractor') {
      typeOwner.fail(
        'feature_extractor_type',
        `unsupported feature extractor ${JSON.stringify(t)} (expected "WhisperFeatureExtractor")`,
      );
    }
  }
  const [melBins, melOwner] = feInt('feature_size', eMel);
  if (melBins !== eMel) {
    melOwner!.fail(
      'feature_size',
      `${melBins} mel bins disagree with ${names.config} audio_config.num_mel_bins ${eMel}`,
    );
  }
  const [sampleRate] = feInt('sampling_rate', HF_FRONTEND_DEFAULTS.sampling_rate);
  const [nFft] = feInt('n_fft', HF_FRONTEND_DEFAULTS.n_fft, 2);
  const [hopLength] = feInt('hop_length', HF_FRONTEND_DEFAULTS.hop_length);
  const [chunkLength, chunkOwner] = feInt('chunk_length', HF_FRONTEND_DEFAULTS.chunk_length);
  const [paddingValue] = feNum('padding_value', HF_FRONTEND_DEFAULTS.padding_value);
  const [dither] = feNum('dither', HF_FRONTEND_DEFAULTS.dither, { nonNegative: true });
  const nSamplesDerived = chunkLength * sampleRate;
  const [nSamples, nsOwner] = feInt('n_samples', nSamplesDerived);
  if (nSamples !== nSamplesDerived) {
    nsOwner!.fail(
      'n_samples',
      `${nSamples} != chunk_length ${chunkLength} × sampling_rate ${sampleRate} = ${nSamplesDerived}`,
    );
  }
  if (nSamples % hopLength !== 0) {
    (nsOwner ?? chunkOwner ?? new Fields(names.processorConfig, {}, '')).fail(
      nsOwner ? 'n_samples' : 'chunk_length',
      `window of ${nSamples} samples is not a multiple of hop_length ${hopLength}`,
    );
  }
  const nFramesDerived = nSamples / hopLength;
  const [nFrames, nfOwner] = feInt('nb_max_frames', nFramesDerived);
  if (nFrames !== nFramesDerived) {
    nfOwner!.fail('nb_max_frames', `${nFrames} != n_samples ${nSamples} / hop_length ${hopLength} = ${nFramesDerived}`);
  }
  const encoderFrames = Math.floor((nFrames - 1) / 2) + 1;
  if (encoderFrames % MERGE_FACTOR !== 0) {
    (chunkOwner ?? new Fields(names.processorConfig, {}, '')).fail(
      'chunk_length',
      `a full window gives ${encoderFrames} encoder frames, not a multiple of the merge factor ${MERGE_FACTOR}`,
    );
  }
  const tokensPerWindow = encoderFrames / MERGE_FACTOR;

  let maxAudioLen: number = HF_FRONTEND_DEFAULTS.max_audio_len;
  for (const f of [
    procJson ? new Fields(names.processorConfig, procJson, '') : null,
    preJson ? new Fields(names.preprocessorConfig, preJson, '') : null,
  ]) {
    if (f?.has('max_audio_len')) {
      maxAudioLen = f.num('max_audio_len', maxAudioLen, { positive: true });
      break;
    }
  }
  const maxWindows = Math.floor(maxAudioLen / chunkLength);
  if (maxWindows < 1) {
    throw new ConfigError(
      names.processorConfig, 'max_audio_len', `${maxAudioLen} s is shorter than one ${chunkLength} s window`,
    );
  }

  const maxChunkSeconds = ours ? ours.num('max_chunk_seconds', chunkLength) : chunkLength;
  if (maxChunkSeconds < MIN_CHUNK_SECONDS || maxChunkSeconds > chunkLength) {
    ours!.fail('max_chunk_seconds', `must be in [${MIN_CHUNK_SECONDS}, ${chunkLength}] (the window), ` +
      `got ${maxChunkSeconds}`);
  }

  const config: GlmAsrConfig = {
    encoder: {
      hidden: eHidden,
      heads: eHeads,
      kvHeads: eKv,
      headDim: eHeadDim,
      rotaryDim: eRotary,
      partialRotaryFactor: prf,
      ropeTheta: eRope.theta,
      layers: eLayers,
      ffn: eFfn,
      eps: ENCODER_LAYER_NORM_EPS,
      numMelBins: eMel,
      maxPositions: eMaxPos,
      act: 'gelu',
    },
    projector: {
      mergeFactor: MERGE_FACTOR,
      inDim: eFfn,
      hidden: dHidden * 2,
      outDim: dHidden,
      act: 'gelu',
    },
    decoder: {
      vocab: dVocab,
      hidden: dHidden,
      heads: dHeads,
      kvHeads: dKv,
      headDim: dHeadDim,
      ffn: dFfn,
      layers: dLayers,
      rmsEps: dEps,
      ropeTheta: dRope.theta,
      ropeType: 'default',
      maxPositions: dMaxPos,
      tiedEmbeddings: tied,
      act: 'silu',
    },
    ids: { audioTokenId, eosTokenIds: eos, bosTokenId, padTokenId },
    frontEnd: {
      sampleRate,
      nFft,
      nFreqBins: Math.floor(nFft / 2) + 1,
      hopLength,
      chunkLength,
      nSamples,
      nFrames,
      melBins,
      paddingValue,
      dither,
      maxAudioLenSeconds: maxAudioLen,
      maxWindows,
      encoderFrames,
      tokensPerWindow,
      maxAudioTokens: maxWindows * tokensPerWindow,
      maxChunkSeconds,
    },
  };
  return deepFreeze(config);
}

/** Read the configuration files present in a checkpoint folder and parse them. */
export async function loadGlmAsrConfig(provider: FileProvider): Promise<GlmAsrConfig> {
  const read = async (name: string, required: boolean): Promise<string | undefined> => {
    if (!(await provider.exists(name))) {
      if (required) throw new ConfigError(`${provider.name}/${name}`, '(file)', 'file is missing');
      return undefined;
    }
    return provider.readText(name);
  };
  const [config, generationConfig, processorConfig, preprocessorConfig] = await Promise.all([
    read(CONFIG_FILE, true),
    read(GENERATION_CONFIG_FILE, false),
    read(PROCESSOR_CONFIG_FILE, false),
    read(PREPROCESSOR_CONFIG_FILE, false),
  ]);
  return parseGlmAsrConfig({
    config,
    generationConfig,
    processorConfig,
    preprocessorConfig,
    names: {
      config: `${provider.name}/${CONFIG_FILE}`,
      generationConfig: `${provider.name}/${GENERATION_CONFIG_FILE}`,
      processorConfig: `${provider.name}/${PROCESSOR_CONFIG_FILE}`,
      preprocessorConfig: `${provider.name}/${PREPROCESSOR_CONFIG_FILE}`,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// The checkpoint's tensors
// ---------------------------------------------------------------------------------------------

/**
 * How a tensor is stored on the GPU: 'matrix' (2-D Linear or embedding weight: row-blocked, f32/f16, or INT8 in
 * an INT8 checkpoint), 'vector' (norm weights and biases: f32), 'conv' (3-D Conv1d weight: the float storage type).
 */
export type TensorKind = 'matrix' | 'vector' | 'conv';

/** One tensor of the checkpoint, with its PyTorch-layout shape (Linear [out, in], Conv1d [out, in, k]). */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: TensorKind;
}

export interface LinearSpec {
  readonly w: TensorSpec;
  readonly b?: TensorSpec;
}

export interface EncoderLayerSpec {
  readonly ln1: LinearSpec;
  readonly q: LinearSpec;
  /** No bias (k_proj has none). */
  readonly k: LinearSpec;
  readonly v: LinearSpec;
  readonly o: LinearSpec;
  readonly ln2: LinearSpec;
  readonly fc1: LinearSpec;
  readonly fc2: LinearSpec;
}

export interface DecoderLayerSpec {
  readonly ln1: LinearSpec;
  readonly q: LinearSpec;
  readonly k: LinearSpec;
  readonly v: LinearSpec;
  readonly o: LinearSpec;
  readonly ln2: LinearSpec;
  readonly gate: LinearSpec;
  readonly up: LinearSpec;
  readonly down: LinearSpec;
}

/**
 * THE table of the checkpoint's tensors (spec §7), in file-key namespace (`audio_tower.*`,
 * `multi_modal_projector.*`, `language_model.*`): validation (`validateAgainstTensors`) and the loader
 * (`loadWeights`) both walk it, so each name is spelled here only.
 */
export interface GlmAsrTensors {
  readonly conv1: LinearSpec;
  readonly conv2: LinearSpec;
  readonly encoderLayers: readonly EncoderLayerSpec[];
  readonly encoderNorm: LinearSpec;
  readonly projector1: LinearSpec;
  readonly projector2: LinearSpec;
  readonly embed: TensorSpec;
  readonly decoderLayers: readonly DecoderLayerSpec[];
  readonly decoderNorm: LinearSpec;
  /** The stored lm_head; absent when the config ties it to `embed` (as HF does). */
  readonly lmHead?: TensorSpec;
  /** Every tensor above, in load order. */
  readonly all: readonly TensorSpec[];
  /**
   * Tensors a checkpoint may hold that the model does not read: the encoder's positional table of older
   * conversions (shape unchecked), and the lm_head when tied (the official file stores a bitwise-equal copy).
   */
  readonly skipped: ReadonlyMap<string, readonly number[] | undefined>;
}

/** Builds the tensor table of `config`. */
export function glmAsrTensors(config: GlmAsrConfig): GlmAsrTensors {
  const all: TensorSpec[] = [];
  const spec = (name: string, shape: number[], kind: TensorKind): TensorSpec => {
    const t = Object.freeze({ name, shape: Object.freeze(shape), kind });
    all.push(t);
    return t;
  };
  /** `${p}.weight` [rows, cols] (+ `${p}.bias` [rows]). */
  const linear = (p: string, rows: number, cols: number, bias: boolean): LinearSpec => ({
    w: spec(`${p}.weight`, [rows, cols], 'matrix'),
    b: bias ? spec(`${p}.bias`, [rows], 'vector') : undefined,
  });
  const norm = (p: string, d: number, bias: boolean): LinearSpec => ({
    w: spec(`${p}.weight`, [d], 'vector'),
    b: bias ? spec(`${p}.bias`, [d], 'vector') : undefined,
  });
  const conv = (p: string, cout: number, cin: number): LinearSpec => ({
    w: spec(`${p}.weight`, [cout, cin, 3], 'conv'),
    b: spec(`${p}.bias`, [cout], 'vector'),
  });

  const e = config.encoder;
  const qDim = e.heads * e.headDim;
  const kvDim = e.kvHeads * e.headDim;
  const conv1 = conv('audio_tower.conv1', e.hidden, e.numMelBins);
  const conv2 = conv('audio_tower.conv2', e.hidden, e.hidden);
  const encoderLayers = Array.from({ length: e.layers }, (_, i): EncoderLayerSpec => {
    const p = `audio_tower.layers.${i}`;
    return {
      ln1: norm(`${p}.input_layernorm`, e.hidden, true),
      q: linear(`${p}.self_attn.q_proj`, qDim, e.hidden, true),
      k: linear(`${p}.self_attn.k_proj`, kvDim, e.hidden, false),
      v: linear(`${p}.self_attn.v_proj`, kvDim, e.hidden, true),
      o: linear(`${p}.self_attn.o_proj`, e.hidden, qDim, true),
      ln2: norm(`${p}.post_attention_layernorm`, e.hidden, true),
      fc1: linear(`${p}.mlp.fc1`, e.ffn, e.hidden, true),
      fc2: linear(`${p}.mlp.fc2`, e.hidden, e.ffn, true),
    };
  });
  const encoderNorm = norm('audio_tower.norm', e.hidden, true);
  const pr = config.projector;
  const projector1 = linear('multi_modal_projector.linear_1', pr.hidden, pr.inDim, true);
  const projector2 = linear('multi_modal_projector.linear_2', pr.outDim, pr.hidden, true);

  const d = config.decoder;
  const dq = d.heads * d.headDim;
  const dkv = d.kvHeads * d.headDim;
  const embed = spec('language_model.model.embed_tokens.weight', [d.vocab, d.hidden], 'matrix');
  const decoderLayers = Array.from({ length: d.layers }, (_, j): DecoderLayerSpec => {
    const p = `language_model.model.layers.${j}`;
    return {
      ln1: norm(`${p}.input_layernorm`, d.hidden, false),
      q: linear(`${p}.self_attn.q_proj`, dq, d.hidden, false),
      k: linear(`${p}.self_attn.k_proj`, dkv, d.hidden, false),
      v: linear(`${p}.self_attn.v_proj`, dkv, d.hidden, false),
      o: linear(`${p}.self_attn.o_proj`, d.hidden, dq, false),
      ln2: norm(`${p}.post_attention_layernorm`, d.hidden, false),
      gate: linear(`${p}.mlp.gate_proj`, d.ffn, d.hidden, false),
      up: linear(`${p}.mlp.up_proj`, d.ffn, d.hidden, false),
      down: linear(`${p}.mlp.down_proj`, d.hidden, d.ffn, false),
    };
  });
  const decoderNorm = norm('language_model.model.norm', d.hidden, false);
  const lmHeadName = 'language_model.lm_head.weight';
  const lmHeadShape = [d.vocab, d.hidden];
  const lmHead = d.tiedEmbeddings ? undefined : spec(lmHeadName, lmHeadShape, 'matrix');
  const skipped = new Map<string, readonly number[] | undefined>([['audio_tower.embed_positions.weight', undefined]]);
  if (d.tiedEmbeddings) skipped.set(lmHeadName, Object.freeze(lmHeadShape));
  return Object.freeze({
    conv1, conv2, encoderLayers, encoderNorm, projector1, projector2, embed, decoderLayers, decoderNorm, lmHead,
    all: Object.freeze(all), skipped,
  });
}

/** A checkpoint tensor as validation sees it (the dtype is checked when given). */
export interface TensorHeader {
  readonly shape: readonly number[];
  readonly dtype?: string;
}

export interface TensorValidation {
  /** Whether `language_model.lm_head.weight` is present (when tied, it is skipped). */
  readonly hasLmHead: boolean;
  /** Present tensors deliberately skipped (`GlmAsrTensors.skipped`). */
  readonly ignored: readonly string[];
}

export interface ValidateTensorsOptions {
  /** Names the checkpoint in the error (default 'checkpoint'). */
  source?: string;
  /**
   * The checkpoint's quantization scheme (weights/quant `checkpointScheme`): matrices are then I8 (or packed 4-bit
   * U8) with F16 scales.
   */
  scheme?: QuantScheme | null;
}

const FLOAT_DTYPES: readonly string[] = ['BF16', 'F16', 'F32'];

/**
 * Checks a checkpoint's tensor map against the table of `config`: every tensor present with its shape (and,
 * where the map has dtypes, a float dtype, or for an INT8 checkpoint's matrices I8 with their F16 scales), and no
 * tensor the model would not read (a config with fewer layers than its checkpoint would transcribe wrongly). All
 * problems are reported in one `ConfigError` (field = first offending tensor; `issues` lists them all).
 */
export function validateAgainstTensors(
  config: GlmAsrConfig,
  tensors: ReadonlyMap<string, TensorHeader>,
  options: ValidateTensorsOptions = {},
): TensorValidation {
  const { source = 'checkpoint', scheme = null } = options;
  const table = glmAsrTensors(config);
  const issues: string[] = [];
  let firstField: string | null = null;
  const note = (name: string, msg: string) => {
    firstField ??= name;
    issues.push(`${name}: ${msg}`);
  };
  const sameShape = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  const badShape = (name: string, got: readonly number[], want: readonly number[]) =>
    note(name, `shape [${got.join(', ')}], expected [${want.join(', ')}]`);
  const used = new Set<string>();
  const check = (exp: TensorSpec | { name: string; shape: readonly number[]; kind: TensorKind }) => {
    const t = tensors.get(exp.name);
    if (!t) return note(exp.name, `missing (expected shape [${exp.shape.join(', ')}])`);
    used.add(exp.name);
    const quantized = scheme && exp.kind === 'matrix' && t.dtype !== undefined;
    if (!quantized && !sameShape(t.shape, exp.shape)) badShape(exp.name, t.shape, exp.shape);
    if (t.dtype === undefined) return;
    if (quantized) {
      used.add(exp.name + SCALE_SUFFIX);
      const problem = quantMatrixProblem(tensors, exp.name, exp.shape, scheme);
      if (problem) note(exp.name, problem);
    } else if (!FLOAT_DTYPES.includes(t.dtype)) {
      note(exp.name, `dtype ${t.dtype}; only BF16, F16 and F32 ${scheme ? 'non-matrix ' : ''}weights are supported`);
    }
  };
  for (const exp of table.all) check(exp);
  const ignored: string[] = [];
  for (const [name, shape] of table.skipped) {
    if (!tensors.has(name)) continue;
    ignored.push(name);
    used.add(name);
    const scaled = scheme && tensors.has(name + SCALE_SUFFIX);
    if (scaled) used.add(name + SCALE_SUFFIX);
    const t = tensors.get(name)!;
    const want = shape && (scaled ? storedShape(shape, scheme.bits) : shape);
    if (want && !sameShape(t.shape, want)) badShape(name, t.shape, want);
  }
  const unused = [...tensors.keys()].filter((n) => !used.has(n));
  if (unused.length > 0) {
    const listed = unused.slice(0, 10).join(', ') + (unused.length > 10 ? ` and ${unused.length - 10} more` : '');
    note(unused[0], `${unused.length} tensor(s) the configuration does not use (${listed}); ` +
      'does config.json match this checkpoint?');
  }
  if (issues.length > 0) {
    const shown = issues.length > 40 ? [...issues.slice(0, 40), `... and ${issues.length - 40} more`] : issues;
    throw new ConfigError(
      source,
      firstField!,
      `${issues.length} tensor problem(s) against the configuration:\n  ${shown.join('\n  ')}`,
      issues,
    );
  }
  return Object.freeze({ hasLmHead: tensors.has('language_model.lm_head.weight'), ignored: Object.freeze(ignored) });
}
