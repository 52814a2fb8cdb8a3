/** Audio front end: bytes → 16 kHz mono → 30 s windows → Whisper log-mel. See docs/audio.md. */
export { AudioDecodeError } from './errors';
export {
  parseWav,
  isWav,
  readWavHeader,
  readWavFrames,
  type PcmAudio,
  type WavAudio,
  type WavEncoding,
  type WavHeader,
} from './wav';
export {
  probeAudio,
  sniffContainer,
  sniffSampleRate,
  SUPPORTED_FORMATS,
  type AudioContainer,
  type AudioProbe,
} from './probe';
export {
  decodeAudio,
  decodeChunksWithAudioDecode,
  decodeWithAudioDecode,
  decodeWithWebAudio,
  downmixToMono,
  yieldToEventLoop,
  TARGET_SAMPLE_RATE,
  type DecodeBackend,
  type DecodeOptions,
  type DecodedAudio,
  type WebAudioDecodeOptions,
} from './decode';
export {
  Resampler,
  ResampleStream,
  getResampler,
  resample,
  checkSampleRate,
  MIN_SAMPLE_RATE,
  MAX_SAMPLE_RATE,
  MAX_TABLE_COEFFS,
  type ResampleOptions,
  type ResamplerDesign,
} from './resample';
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
