/** Voice activity detection: Silero VAD v5 on the CPU (browser-safe). */
export { SileroVad, VadStream, VadInputError } from './silero';
export {
  VadModelError,
  VAD_CONFIG_FILE,
  VAD_WEIGHTS_FILE,
  type VadConfig,
  type VadRateConfig,
  type VadSource,
} from './model';
