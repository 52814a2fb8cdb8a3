/**
 * Node's `GlmAsr` (exported by the package's Node entry, src/index.ts): `load` also takes a folder path, a Hugging
 * Face repo id (`zai-org/GLM-ASR-Nano-2512`, downloaded into the standard hub cache) or 'demo' (the small model
 * shipped in the package), and turns it into a FileProvider here. The engine itself (./transcriber.ts) only takes
 * FileProviders, so the browser bundle holds no Node code.
 *
 * @example
 * const asr = await GlmAsr.load('/models/GLM-ASR-Nano-2512');
 */
import { DEMO_NOTICE, isDemoModelFolder, resolveModelSource } from '../../hub/resolve';
import type { FileProvider } from '../../weights/checkpoint';
import { NodeFolderProvider } from '../../weights/node-file-source';
import { checkLoadOptions } from './options';
import { GlmAsr as Engine, type LoadOptions } from './transcriber';

export class GlmAsr extends Engine {
  /** As the engine's `load`, and `source` may be a folder path, a repo id or 'demo' (resolved before loading). */
  static override async load(source: string | FileProvider, options: LoadOptions = {}): Promise<Engine> {
    checkLoadOptions(source, options); // before any download
    if (typeof source !== 'string') return Engine.open(source, options);
    const dir = await resolveModelSource(source);
    return Engine.open(new NodeFolderProvider(dir), options, isDemoModelFolder(dir) ? DEMO_NOTICE : undefined);
  }
}
