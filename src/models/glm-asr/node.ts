/**
 * Node's `GlmAsr` (exported by the package's Node entry, src/index.ts): `load` also takes a folder path, a Hugging
 * Face repo id (`zai-org/GLM-ASR-Nano-2512`, downloaded into the standard hub cache) or 'demo' (the small model
 * shipped in the package), and turns it into a FileProvider here. The engine itself (./transcriber.ts) only takes
 * FileProviders, so the browser bundle holds no Node code. The VAD of `segmenter: 'vad'` defaults to the weights
 * shipped in the package (models/silero-vad-v5).
 *
 * @example
 * const asr = await GlmAsr.load('/models/GLM-ASR-Nano-2512');
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_NOTICE, isDemoModelFolder, resolveModelSource } from '../../hub/resolve';
import { VAD_CONFIG_FILE } from '../../vad';
import type { FileProvider } from '../../weights/checkpoint';
import { NodeFolderProvider } from '../../weights/node-file-source';
import { checkLoadOptions } from './options';
import { GlmAsr as Engine, type LoadOptions } from './transcriber';

/** The package's models/silero-vad-v5, found upwards from this module (src/models/glm-asr, or dist/ when built). */
export function shippedVadFolder(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'models', 'silero-vad-v5');
    if (existsSync(path.join(candidate, VAD_CONFIG_FILE))) return candidate;
  }
  throw new Error('the VAD weights (models/silero-vad-v5) are not part of this installation; pass { vad } to load');
}

export class GlmAsr extends Engine {
  /** As the engine's `load`, and `source` may be a folder path, a repo id or 'demo' (resolved before loading). */
  static override async load(source: string | FileProvider, options: LoadOptions = {}): Promise<Engine> {
    checkLoadOptions(source, options); // before any download
    const withVad = { ...options, vad: options.vad ?? new NodeFolderProvider(shippedVadFolder()) };
    if (typeof source !== 'string') return Engine.open(source, withVad);
    const dir = await resolveModelSource(source);
    return Engine.open(new NodeFolderProvider(dir), withVad, isDemoModelFolder(dir) ? DEMO_NOTICE : undefined);
  }
}
