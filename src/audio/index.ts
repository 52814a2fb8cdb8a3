/** Audio front end: bytes → 16 kHz mono → 30 s windows → Whisper log-mel. See docs/audio.md. */
export { AudioDecodeError } from './errors';
export { parseWav, isWav, type PcmAudio, type WavAudio, type WavEncoding } from './wav';
export {
  decodeAudio,
  decodeWithAudioDecode,
  decodeWithWebAudio,
  downmixToMono,
  sniffContainer,
  sniffSampleRate,
  toMono16k,
  SUPPORTED_FORMATS,
  TARGET_SAMPLE_RATE,
  type AudioContainer,
  type DecodeBackend,
  type DecodeOptions,
  type DecodedAudio,
  type WebAudioDecodeOptions,
} from './decode';
export { Resampler, getResampler, resample, type ResampleOptions, type ResamplerDesign } from './resample';
export {
  LogMelSpectrogram,
  logMelSpectrogram,
  melFilterBank,
  melFrameCount,
  hzToMelSlaney,
  melToHzSlaney,
  GLM_ASR_MEL,
  type MelConfig,
} from './mel';
export {
  splitWindows,
  audioTokenCount,
  totalAudioTokens,
  validFrameCount,
  WINDOW_SAMPLES,
  HOP_LENGTH,
  MAX_WINDOWS,
  type AudioWindow,
  type SplitOptions,
} from './windows';
export { ComplexFft, RealFft } from './fft';
