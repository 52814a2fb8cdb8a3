/**
 * Compute pipelines, created once per (shader, defines, override constants, entry point) and cached.
 * Feature defines that every kernel may test are added here in one place: F16 (shader-f16 enabled) and
 * SUBGROUPS (subgroups enabled), unless the kernel spec sets them itself.
 */
import type { GpuCaps } from './device';
import { preprocess, type Defines } from './shaders';

export interface KernelSpec {
  /** File in shaders/, e.g. "matmul.wgsl". */
  shader: string;
  entryPoint?: string;
  defines?: Defines;
  /** Values for the shader's `override` declarations. */
  constants?: Readonly<Record<string, number>>;
}

function stableKey(spec: KernelSpec): string {
  const sorted = (o?: Readonly<Record<string, unknown>>) =>
    o ? Object.keys(o).sort().map((k) => `${k}=${String(o[k])}`).join(',') : '';
  return `${spec.shader}#${spec.entryPoint ?? 'main'}|${sorted(spec.defines)}|${sorted(spec.constants)}`;
}

export class PipelineCache {
  private readonly cache = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice, private readonly caps: GpuCaps) {}

  /** The final WGSL for a spec (after #include/#if), e.g. to inspect or to report compile errors. */
  source(spec: KernelSpec): string {
    return preprocess(spec.shader, { F16: this.caps.f16, SUBGROUPS: this.caps.subgroups, ...spec.defines });
  }

  get(spec: KernelSpec): GPUComputePipeline {
    const key = stableKey(spec);
    let p = this.cache.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ label: key, code: this.source(spec) });
      p = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint: spec.entryPoint ?? 'main', constants: spec.constants as Record<string, number> },
      });
      this.cache.set(key, p);
    }
    return p;
  }

  /**
   * Compiles a spec ahead of use and throws with the compiler's messages (file, line) if it fails.
   * `get` reports the same failures only through the device's uncaptured-error channel.
   */
  async check(spec: KernelSpec): Promise<void> {
    const code = this.source(spec);
    const module = this.device.createShaderModule({ label: stableKey(spec), code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      const lines = code.split('\n');
      throw new Error(`${spec.shader}: WGSL compile failed:\n` +
        errors.map((m) => `  line ${m.lineNum}: ${m.message}\n    ${lines[m.lineNum - 1] ?? ''}`).join('\n'));
    }
    this.device.pushErrorScope('validation');
    this.get(spec);
    const err = await this.device.popErrorScope();
    if (err) throw new Error(`${spec.shader}: pipeline creation failed: ${err.message}`);
  }

  get size(): number {
    return this.cache.size;
  }
}
