import { describe, expect, it } from 'vitest';

import {
  ConfigError,
  glmAsrTensors,
  loadGlmAsrConfig,
  parseGlmAsrConfig,
  validateAgainstTensors,
  type GlmAsrConfigFiles,
} from '../../src/models/glm-asr/config';
import { FileMapProvider } from '../../src/weights/checkpoint';

/** Shaped like the official HF config.json of zai-org/GLM-ASR-Nano-2512 (transformers v5). */
function officialConfig(): Record<string, any> {
  return {
    architectures: ['GlmAsrForConditionalGeneration'],
    audio_config: {
      attention_dropout: 0.0,
      head_dim: 64,
      hidden_act: 'gelu',
      hidden_size: 1280,
      initializer_range: 0.02,
      intermediate_size: 5120,
      max_position_embeddings: 1500,
      model_type: 'glmasr_encoder',
      num_attention_heads: 20,
      num_hidden_layers: 32,
      num_key_value_heads: 20,
      num_mel_bins: 128,
      partial_rotary_factor: 0.5,
      rope_parameters: { rope_theta: 10000.0, rope_type: 'default' },
    },
    audio_token_id: 59260,
    dtype: 'bfloat16',
    model_type: 'glmasr',
    projector_hidden_act: 'gelu',
    text_config: {
      attention_bias: false,
      attention_dropout: 0.0,
      eos_token_id: [59246, 59253, 59255],
      head_dim: 128,
      hidden_act: 'silu',
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 6144,
      max_position_embeddings: 8192,
      mlp_bias: false,
      model_type: 'llama',
      num_attention_heads: 16,
      num_hidden_layers: 28,
      num_key_value_heads: 4,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_parameters: { rope_theta: 10000.0, rope_type: 'default' },
      use_cache: true,
      vocab_size: 59264,
    },
    tie_word_embeddings: true,
    transformers_version: '5.0.0.dev0',
  };
}

function officialProcessor(): Record<string, any> {
  return {
    audio_token: '<|pad|>',
    default_transcription_prompt: 'Please transcribe this audio into text',
    feature_extractor: {
      chunk_length: 30,
      dither: 0.0,
      feature_extractor_type: 'WhisperFeatureExtractor',
      feature_size: 128,
      hop_length: 160,
      n_fft: 400,
      n_samples: 480000,
      nb_max_frames: 3000,
      padding_side: 'right',
      padding_value: 0.0,
      return_attention_mask: false,
      sampling_rate: 16000,
    },
    max_audio_len: 655,
    processor_class: 'GlmAsrProcessor',
  };
}

/** A small model: other sizes, other eos ids, eos as a single int, older rope_theta form. */
function tinyConfig(): Record<string, any> {
  return {
    model_type: 'glmasr',
    audio_token_id: 7,
    audio_config: {
      model_type: 'glmasr_encoder',
      hidden_size: 64,
      intermediate_size: 256,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_mel_bins: 16,
      max_position_embeddings: 100,
      rope_theta: 500,
    },
    text_config: {
      model_type: 'llama',
      vocab_size: 100,
      hidden_size: 48,
      intermediate_size: 96,
      num_hidden_layers: 3,
      num_attention_heads: 6,
      num_key_value_heads: 2,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-6,
      rope_theta: 20000,
      rope_scaling: null,
      eos_token_id: 99,
      tie_word_embeddings: false,
    },
  };
}

function parse(files: Partial<GlmAsrConfigFiles> & { config: unknown }) {
  return parseGlmAsrConfig(files as GlmAsrConfigFiles);
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseGlmAsrConfig', () => {
  it('parses the official-like config to the spec numbers', () => {
    const c = parse({ config: officialConfig(), processorConfig: officialProcessor() });
    expect(c.encoder).toEqual({
      hidden: 1280, heads: 20, kvHeads: 20, headDim: 64, rotaryDim: 32, partialRotaryFactor: 0.5, ropeTheta: 10000,
      layers: 32, ffn: 5120, eps: 1e-5, numMelBins: 128, maxPositions: 1500, act: 'gelu',
    });
    expect(c.projector).toEqual({ mergeFactor: 4, inDim: 5120, hidden: 4096, outDim: 2048, act: 'gelu' });
    expect(c.decoder).toEqual({
      vocab: 59264, hidden: 2048, heads: 16, kvHeads: 4, headDim: 128, ffn: 6144, layers: 28, rmsEps: 1e-5,
      ropeTheta: 10000, ropeType: 'default', maxPositions: 8192, tiedEmbeddings: true, act: 'silu',
    });
    expect(c.ids).toEqual({ audioTokenId: 59260, eosTokenIds: [59246, 59253, 59255],
      bosTokenId: null, padTokenId: null });
    expect(c.frontEnd).toEqual({
      sampleRate: 16000, nFft: 400, nFreqBins: 201, hopLength: 160, chunkLength: 30, nSamples: 480000, nFrames: 3000,
      melBins: 128, paddingValue: 0, dither: 0, maxAudioLenSeconds: 655, maxWindows: 21, encoderFrames: 1500,
      tokensPerWindow: 375, maxAudioTokens: 7875, maxChunkSeconds: 30,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.ids.eosTokenIds)).toBe(true);
  });

  it('accepts JSON text and fills HF class defaults for omitted fields', () => {
    const minimal = { model_type: 'glmasr', audio_config: { model_type: 'glmasr_encoder' },
      text_config: { model_type: 'llama' } };
    const c = parse({ config: JSON.stringify(minimal) });
    const full = parse({ config: officialConfig() });
    expect(c).toEqual(full);
  });

  it('parses a tiny config with other sizes and a single-int eos', () => {
    const c = parse({ config: tinyConfig() });
    expect(c.encoder).toMatchObject({ hidden: 64, heads: 4, kvHeads: 4, headDim: 16, rotaryDim: 8, ropeTheta: 500,
      layers: 2, ffn: 256, numMelBins: 16 });
    expect(c.projector).toEqual({ mergeFactor: 4, inDim: 256, hidden: 96, outDim: 48, act: 'gelu' });
    expect(c.decoder).toMatchObject({ vocab: 100, hidden: 48, heads: 6, kvHeads: 2, headDim: 8, ffn: 96, layers: 3,
      rmsEps: 1e-6, ropeTheta: 20000, tiedEmbeddings: false });
    expect(c.ids.eosTokenIds).toEqual([99]);
    expect(c.ids.audioTokenId).toBe(7);
    expect(c.frontEnd.melBins).toBe(16);
  });

  it('generation_config eos overrides; tie flag from text_config when absent at top level', () => {
    const cfg = tinyConfig();
    const c = parse({ config: cfg, generationConfig: { eos_token_id: [1, 2, 2], bos_token_id: 3, pad_token_id: 1 } });
    expect(c.ids).toEqual({ audioTokenId: 7, eosTokenIds: [1, 2], bosTokenId: 3, padTokenId: 1 });
    expect(c.decoder.tiedEmbeddings).toBe(false);
    const top = tinyConfig();
    delete top.text_config.eos_token_id;
    top.eos_token_id = [5, 6];
    expect(parse({ config: top }).ids.eosTokenIds).toEqual([5, 6]);
  });

  it("reads the VAD chunk limit from generation_config.json's glm_asr block, within [2 s, the window]", () => {
    const withChunk = (v: unknown) => () => parse({ config: officialConfig(),
      generationConfig: { eos_token_id: 59246, glm_asr: { max_chunk_seconds: v } } });
    expect(withChunk(10)().frontEnd.maxChunkSeconds).toBe(10);
    expect(withChunk(2.5)().frontEnd.maxChunkSeconds).toBe(2.5);
    const cases: [unknown, RegExp][] = [[1.5, /must be in \[2, 30\]/], [31, /must be in \[2, 30\]/],
      ['10', /expected a number/]];
    for (const [bad, why] of cases) {
      const e = configError(withChunk(bad));
      expect(e.file).toBe('generation_config.json');
      expect(e.field).toBe('glm_asr.max_chunk_seconds');
      expect(e.message).toMatch(why);
    }
    expect(configError(() => parse({ config: officialConfig(), generationConfig: { glm_asr: 10 } })).field)
      .toBe('glm_asr');
  });

  it('reads the older preprocessor_config.json layout and processor max_audio_len', () => {
    const c = parse({
      config: officialConfig(),
      preprocessorConfig: { feature_extractor_type: 'WhisperFeatureExtractor', feature_size: 128, chunk_length: 20,
        sampling_rate: 16000, hop_length: 160, n_fft: 400 },
      processorConfig: { max_audio_len: 100 },
    });
    expect(c.frontEnd).toMatchObject({ chunkLength: 20, nSamples: 320000, nFrames: 2000, encoderFrames: 1000,
      tokensPerWindow: 250, maxWindows: 5, maxAudioTokens: 1250 });
  });

  it('loads from a FileProvider', async () => {
    const provider = new FileMapProvider(new Map([
      ['config.json', new Blob([JSON.stringify(officialConfig())])],
      ['processor_config.json', new Blob([JSON.stringify(officialProcessor())])],
      ['generation_config.json', new Blob([JSON.stringify({ eos_token_id: 59246 })])],
    ]), 'model-dir');
    const c = await loadGlmAsrConfig(provider);
    expect(c.ids.eosTokenIds).toEqual([59246]);
    const empty = new FileMapProvider(new Map(), 'empty-dir');
    await expect(loadGlmAsrConfig(empty)).rejects.toThrow(/empty-dir\/config\.json: \(file\): file is missing/);
  });
});

describe('ConfigError for inconsistencies', () => {
  const cases: Array<[string, (c: Record<string, any>) => void, string, RegExp]> = [
    ['unknown model_type', (c) => { c.model_type = 'whisper'; }, 'model_type', /unsupported model type "whisper"/],
    ['wrong architecture', (c) => { c.architectures = ['LlamaForCausalLM']; }, 'architectures',
      /GlmAsrForConditionalGeneration/],
    ['no identity', (c) => { delete c.model_type; delete c.architectures; }, 'model_type', /required field is missing/],
    ['missing text_config', (c) => { delete c.text_config; }, 'text_config', /required section is missing/],
    ['missing audio_config', (c) => { delete c.audio_config; }, 'audio_config', /required section is missing/],
    ['original format', (c) => { c.whisper_config = {}; }, 'whisper_config', /original/],
    ['wrong type', (c) => { c.text_config.hidden_size = '2048'; }, 'text_config.hidden_size', /expected an integer/],
    ['encoder hidden % heads', (c) => {
      delete c.audio_config.head_dim; c.audio_config.num_attention_heads = 24; c.audio_config.num_key_value_heads = 24;
    }, 'audio_config.num_attention_heads', /not divisible/],
    ['decoder hidden % heads', (c) => {
      delete c.text_config.head_dim; c.text_config.num_attention_heads = 15; c.text_config.num_key_value_heads = 5;
    }, 'text_config.num_attention_heads', /not divisible/],
    ['heads % kvHeads', (c) => { c.text_config.num_key_value_heads = 3; },
      'text_config.num_key_value_heads', /not a multiple/],
    ['encoder heads % kvHeads', (c) => { c.audio_config.num_key_value_heads = 3; },
      'audio_config.num_key_value_heads', /not a multiple/],
    ['odd rotary dim', (c) => { c.audio_config.partial_rotary_factor = 0.25; c.audio_config.head_dim = 20; },
      'audio_config.partial_rotary_factor', /must be even/],
    ['odd decoder head dim', (c) => { c.text_config.head_dim = 127; }, 'text_config.head_dim', /must be even/],
    ['encoder act', (c) => { c.audio_config.hidden_act = 'relu'; }, 'audio_config.hidden_act',
      /unsupported activation "relu"/],
    ['decoder act', (c) => { c.text_config.hidden_act = 'gelu'; }, 'text_config.hidden_act',
      /unsupported activation "gelu"/],
    ['projector act', (c) => { c.projector_hidden_act = 'gelu_new'; }, 'projector_hidden_act',
      /unsupported activation/],
    ['rope type', (c) => { c.text_config.rope_parameters = { rope_theta: 10000, rope_type: 'llama3', factor: 8 }; },
      'text_config.rope_parameters.rope_type', /unsupported rope type "llama3"/],
    ['rope scaling', (c) => { c.text_config.rope_scaling = { type: 'linear', factor: 2 }; }, 'text_config.rope_scaling',
      /unsupported rope scaling/],
    ['encoder rope type', (c) => { c.audio_config.rope_parameters = { rope_type: 'yarn' }; },
      'audio_config.rope_parameters.rope_type', /unsupported rope type/],
    ['attention bias', (c) => { c.text_config.attention_bias = true; }, 'text_config.attention_bias', /not supported/],
    ['projector width', (c) => { c.audio_config.intermediate_size = 4096; }, 'audio_config.intermediate_size',
      /must equal 4 × hidden_size \(5120\)/],
    ['audio token outside vocab', (c) => { c.audio_token_id = 60000; }, 'audio_token_id', /outside the vocabulary/],
    ['eos outside vocab', (c) => { c.text_config.eos_token_id = [59246, 70000]; },
      'text_config.eos_token_id', /70000 is outside/],
    ['text model type', (c) => { c.text_config.model_type = 'glm4'; }, 'text_config.model_type',
      /unsupported text model type/],
    ['encoder model type', (c) => { c.audio_config.model_type = 'whisper'; }, 'audio_config.model_type',
      /unsupported audio encoder type/],
    ['negative layers', (c) => { c.text_config.num_hidden_layers = 0; },
      'text_config.num_hidden_layers', /must be ≥ 1/],
  ];
  for (const [label, mutate, field, msg] of cases) {
    it(label, () => {
      const cfg = officialConfig();
      mutate(cfg);
      const e = configError(() => parse({ config: cfg, processorConfig: officialProcessor() }));
      expect(e.file).toBe('config.json');
      expect(e.field).toBe(field);
      expect(e.message).toContain(`config.json: ${field}: `);
      expect(e.message).toMatch(msg);
    });
  }

  it('mel bins mismatch between feature_size and num_mel_bins names the processor file', () => {
    const p = officialProcessor();
    p.feature_extractor.feature_size = 80;
    const e = configError(() => parse({ config: officialConfig(), processorConfig: p }));
    expect(e.file).toBe('processor_config.json');
    expect(e.field).toBe('feature_extractor.feature_size');
    expect(e.message).toMatch(/80 mel bins disagree with config\.json audio_config\.num_mel_bins 128/);
  });

  it('front-end inconsistencies', () => {
    const p1 = officialProcessor();
    p1.feature_extractor.n_samples = 470000;
    expect(configError(() => parse({ config: officialConfig(),
      processorConfig: p1 })).field).toBe('feature_extractor.n_samples');
    const p2 = officialProcessor();
    p2.feature_extractor.nb_max_frames = 1500;
    expect(configError(() => parse({ config: officialConfig(),
      processorConfig: p2 })).field).toBe('feature_extractor.nb_max_frames');
    const p3 = officialProcessor();
    p3.feature_extractor.feature_extractor_type = 'SeamlessM4TFeatureExtractor';
    expect(configError(() => parse({ config: officialConfig(),
      processorConfig: p3 })).field).toBe('feature_extractor.feature_extractor_type');
    const p4 = officialProcessor();
    p4.feature_extractor.chunk_length = 1; // 100 frames → 50 encoder frames, not a multiple of 4
    delete p4.feature_extractor.n_samples;
    delete p4.feature_extractor.nb_max_frames;
    const e4 = configError(() => parse({ config: officialConfig(), processorConfig: p4 }));
    expect(e4.field).toBe('feature_extractor.chunk_length');
    expect(e4.message).toMatch(/50 encoder frames/);
    const p5 = officialProcessor();
    p5.max_audio_len = 10;
    expect(configError(() => parse({ config: officialConfig(), processorConfig: p5 })).field).toBe('max_audio_len');
  });

  it('bad JSON and eos in generation_config are attributed to their files', () => {
    expect(configError(() => parse({ config: '{nope' })).message).toMatch(/^config\.json: \(file\): not valid JSON/);
    const e = configError(() => parse({ config: officialConfig(), generationConfig: { eos_token_id: [] } }));
    expect(e.file).toBe('generation_config.json');
    expect(e.field).toBe('eos_token_id');
  });
});

describe('glmAsrTensors / validateAgainstTensors', () => {
  const config = parse({ config: officialConfig() });
  type Header = { shape: readonly number[]; dtype?: string };

  /** Every tensor of the table, plus the stored lm_head when it is tied (as the official file has it). */
  function fullMap(c = config, dtype?: string): Map<string, Header> {
    const m = new Map<string, Header>();
    const table = glmAsrTensors(c);
    for (const t of table.all) m.set(t.name, { shape: t.shape, dtype });
    const lm = table.skipped.get('language_model.lm_head.weight');
    if (lm) m.set('language_model.lm_head.weight', { shape: lm, dtype });
    return m;
  }

  it('lists the 745 tensors of spec §7 with their shapes, kinds and the stored parameter count', () => {
    const table = glmAsrTensors(config);
    const byName = new Map(table.all.map((t) => [t.name, t]));
    expect(table.all.length).toBe(744);
    expect(table.lmHead).toBeUndefined(); // tied: the stored copy is skipped
    expect(table.skipped.get('language_model.lm_head.weight')).toEqual([59264, 2048]);
    expect(byName.get('audio_tower.conv1.weight')).toEqual(
      { name: 'audio_tower.conv1.weight', shape: [1280, 128, 3], kind: 'conv' });
    expect(byName.get('audio_tower.layers.31.self_attn.k_proj.weight')!.shape).toEqual([1280, 1280]);
    expect(byName.has('audio_tower.layers.0.self_attn.k_proj.bias')).toBe(false);
    expect(byName.get('audio_tower.layers.0.input_layernorm.bias')!.kind).toBe('vector');
    expect(byName.get('multi_modal_projector.linear_1.weight')!.shape).toEqual([4096, 5120]);
    expect(byName.get('multi_modal_projector.linear_2.weight')!.shape).toEqual([2048, 4096]);
    expect(byName.get('language_model.model.layers.27.self_attn.k_proj.weight')!.shape).toEqual([512, 2048]);
    expect(byName.get('language_model.model.layers.0.mlp.down_proj.weight')).toEqual(
      { name: 'language_model.model.layers.0.mlp.down_proj.weight', shape: [2048, 6144], kind: 'matrix' });
    expect(table.decoderLayers[27].gate.w).toBe(byName.get('language_model.model.layers.27.mlp.gate_proj.weight'));
    let params = 59264 * 2048;
    for (const t of table.all) params += t.shape.reduce((a, b) => a * b, 1);
    expect(params).toBe(2_257_843_200);
  });

  it('accepts a complete map, with or without the tied lm_head, and reports the skipped tensors', () => {
    const m = fullMap(config, 'BF16');
    m.set('audio_tower.embed_positions.weight', { shape: [1500, 1280], dtype: 'F32' });
    expect(validateAgainstTensors(config, m)).toEqual({
      hasLmHead: true, ignored: ['audio_tower.embed_positions.weight', 'language_model.lm_head.weight'],
    });
    m.delete('language_model.lm_head.weight');
    expect(validateAgainstTensors(config, m).hasLmHead).toBe(false);
  });

  it('rejects tensors the configuration does not use, naming them', () => {
    const m = fullMap();
    m.set('something.else', { shape: [1] });
    const e = configError(() => validateAgainstTensors(config, m, { source: 'model.safetensors' }));
    expect(e.field).toBe('something.else');
    expect(e.message).toMatch(/1 tensor\(s\) the configuration does not use \(something\.else\)/);
  });

  it('rejects a config with one decoder layer fewer than the checkpoint, naming the extra layer', () => {
    const official = officialConfig();
    const fewer = parse({ config: { ...official, text_config: { ...official.text_config, num_hidden_layers: 27 } } });
    expect(fewer.decoder.layers).toBe(27);
    const e = configError(() => validateAgainstTensors(fewer, fullMap()));
    expect(e.field).toBe('language_model.model.layers.27.input_layernorm.weight');
    expect(e.message).toMatch(/9 tensor\(s\) the configuration does not use \(language_model\.model\.layers\.27\./);
  });

  it('checks dtypes where the map has them: float weights, or I8 matrices with F16 scales (INT8)', () => {
    const m = fullMap(config, 'BF16');
    m.set('audio_tower.layers.0.mlp.fc1.bias', { shape: [5120], dtype: 'I16' });
    expect(configError(() => validateAgainstTensors(config, m)).issues).toEqual([
      'audio_tower.layers.0.mlp.fc1.bias: dtype I16; only BF16, F16 and F32 weights are supported',
    ]);
    const scheme = { name: 'int8-sym-g64', bits: 8 as const, groupSize: 64, scaleDtype: 'F16' as const };
    const q = new Map<string, Header>();
    const table = glmAsrTensors(config);
    for (const t of table.all) {
      q.set(t.name, { shape: t.shape, dtype: t.kind === 'matrix' ? 'I8' : 'F32' });
      const scale = { shape: [t.shape[0], Math.ceil(t.shape[1] / 64)], dtype: 'F16' };
      if (t.kind === 'matrix') q.set(`${t.name}.scale`, scale);
    }
    expect(validateAgainstTensors(config, q, { scheme }).hasLmHead).toBe(false);
    q.set('language_model.model.norm.weight', { shape: [2048], dtype: 'I8' });
    q.delete('multi_modal_projector.linear_2.weight.scale');
    expect(configError(() => validateAgainstTensors(config, q, { scheme })).issues).toEqual([
      'multi_modal_projector.linear_2.weight: "multi_modal_projector.linear_2.weight.scale" must be F16 [2048,64] ' +
        'for int8-sym-g64, found nothing',
      'language_model.model.norm.weight: dtype I8; only BF16, F16 and F32 non-matrix weights are supported',
    ]);
  });

  it('reports a wrong shape and a missing tensor together', () => {
    const m = fullMap();
    m.set('audio_tower.layers.3.mlp.fc1.weight', { shape: [1280, 5120] });
    m.delete('language_model.model.norm.weight');
    const e = configError(() => validateAgainstTensors(config, m, { source: 'model.safetensors' }));
    expect(e.file).toBe('model.safetensors');
    expect(e.field).toBe('audio_tower.layers.3.mlp.fc1.weight');
    expect(e.issues).toEqual([
      'audio_tower.layers.3.mlp.fc1.weight: shape [1280, 5120], expected [5120, 1280]',
      'language_model.model.norm.weight: missing (expected shape [2048])',
    ]);
    expect(e.message).toMatch(/2 tensor problem/);
  });

  it('requires lm_head when embeddings are not tied', () => {
    const tiny = parse({ config: { ...tinyConfig(), tie_word_embeddings: true } });
    const untied = parse({ config: tinyConfig() });
    expect(untied.decoder.tiedEmbeddings).toBe(false);
    const m = fullMap(untied);
    m.delete('language_model.lm_head.weight');
    expect(validateAgainstTensors(tiny, m).hasLmHead).toBe(false);
    const e = configError(() => validateAgainstTensors(untied, m));
    expect(e.issues).toEqual(['language_model.lm_head.weight: missing (expected shape [100, 48])']);
    // tiny shapes follow the tiny config
    const names = new Map(glmAsrTensors(tiny).all.map((t) => [t.name, t.shape]));
    expect(names.get('language_model.model.layers.2.self_attn.k_proj.weight')).toEqual([16, 48]);
    expect(names.get('audio_tower.conv1.weight')).toEqual([64, 16, 3]);
  });
});
