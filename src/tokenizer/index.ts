export {
  Tokenizer,
  type EncodeOptions,
  type DecodeOptions,
  type FromJsonOptions,
  type StreamingDecoder,
} from './tokenizer';
export type { AddedToken } from './added-tokens';
export { TokenizerConfigError } from './errors';
export { RegexTranslationError, translateOnigurumaPattern } from './regex';
export {
  buildTranscriptionPrompt,
  renderTranscriptionPrompt,
  DEFAULT_INSTRUCTION,
  GLM_ASR_AUDIO_TOKEN_ID,
  type TranscriptionPrompt,
  type TranscriptionPromptOptions,
} from './chat-template';
