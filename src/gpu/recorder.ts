/**
 * Records a sequence of numbered compute dispatches into one command encoder and submits them together
 * (one submit per forward step; no awaits between dispatches).
 *
 * Binding convention for every kernel in shaders/: `@binding(0)` is the kernel's uniform `Params` struct
 * (when it has parameters), storage buffers follow at `@binding(1..n)` in the order they are passed.
 * Parameters of all dispatches share one uniform buffer (each at its own aligned offset), written once at submit.
 *
 * @example
 * const rec = new Recorder(gpu, 'decode step 7');
 * rec.dispatch({ shader: 'elementwise.wgsl', entryPoint: 'add' }, 'l0.residual', [x, y, out], [n], [groups]);
 * rec.submit();
 */
import type { Gpu } from './device';
import { Tensor } from './buffers';
import type { KernelSpec } from './pipelines';
import type { Profiler } from './timing';

/** A 32-bit float kernel parameter; plain numbers are u32. */
export class F32Param {
  constructor(readonly value: number) {}
}
export const f32 = (value: number): F32Param => new F32Param(value);
export type Param = number | F32Param;

export type Binding = Tensor | { buffer: GPUBuffer; offset?: number; size?: number };

export class Recorder {
  readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;
  private params = new ArrayBuffer(4096);
  private paramsUsed = 0;
  private readonly uniform: GPUBuffer;
  private readonly uniformSize: number;
  /** Dispatches recorded so far; each is labelled `#n label` in the pass. */
  count = 0;
  private submitted = false;

  constructor(readonly gpu: Gpu, readonly label: string, private readonly profiler?: Profiler) {
    this.encoder = gpu.device.createCommandEncoder({ label });
    this.uniformSize = 1 << 20; // room for 4096 dispatches at 256-byte alignment
    this.uniform = gpu.pool.acquire(`${label}.params`, this.uniformSize,
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  /**
   * Records one dispatch. Bindings are placed at @binding(1..n) (after the Params uniform at 0, if any).
   * `workgroups` beyond maxComputeWorkgroupsPerDimension must be folded by the caller (see `grid`).
   */
  dispatch(kernel: KernelSpec, label: string, bindings: Binding[], params: Param[],
    workgroups: readonly number[]): void {
    if (this.submitted) throw new Error(`recorder "${this.label}" was already submitted`);
    const pipeline = this.gpu.pipelines.get(kernel);
    const n = ++this.count;
    const entries: { binding: number; resource: GPUBufferBinding }[] = bindings.map((b, i) => {
      if (b instanceof Tensor) return { binding: i + 1, resource: { buffer: b.buffer, offset: b.byteOffset,
        size: align4(b.byteLength) } };
      return { binding: i + 1, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } };
    });
    let uniformOffset = -1;
    let uniformBytes = 0;
    if (params.length) {
      uniformBytes = Math.max(16, Math.ceil((params.length * 4) / 16) * 16);
      uniformOffset = this.reserveParams(uniformBytes);
      const u32 = new Uint32Array(this.params, uniformOffset, params.length);
      const f32v = new Float32Array(this.params, uniformOffset, params.length);
      params.forEach((p, i) => {
        if (p instanceof F32Param) f32v[i] = p.value;
        else {
          if (!Number.isInteger(p) || p < 0 || p > 0xffffffff) throw new RangeError(`#${n} ${label}: param ` +
            `${i} = ${p} is not a u32`);
          u32[i] = p;
        }
      });
    }
    const [x, y = 1, z = 1] = workgroups;
    const max = this.gpu.caps.maxWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new RangeError(`#${n} ${label}: workgroups [${x},${y},${z}] ` +
      `exceed ${max} per dimension`);
    if (x * y * z === 0) return; // nothing to do (an empty tensor)

    if (uniformOffset >= 0) entries.unshift({ binding: 0, resource: { buffer: this.uniform,
      offset: uniformOffset, size: uniformBytes } });
    // no dispatch number in the bind group's label: a cached group serves later dispatches too (the debug group
    // below names the dispatch)
    const bindGroup = this.gpu.bindGroups.get(pipeline, entries, label);
    const pass = this.passFor(`#${n} ${label}`);
    pass.pushDebugGroup(`#${n} ${label}`);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.popDebugGroup();
    if (this.profiler) {
      pass.end();
      this.pass = undefined;
    }
  }

  /** Copies bytes between tensors (ends the current compute pass). */
  copy(src: Tensor, dst: Tensor, bytes = Math.min(src.byteLength, dst.byteLength), srcOffset = 0, dstOffset = 0): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src.buffer, src.byteOffset + srcOffset, dst.buffer,
      dst.byteOffset + dstOffset, align4(bytes));
  }

  /** Finishes recording and submits: writes all parameters, then the commands. */
  submit(): void {
    this.endPass();
    this.profiler?.resolve(this.encoder);
    if (this.paramsUsed) this.gpu.device.queue.writeBuffer(this.uniform, 0, this.params, 0, this.paramsUsed);
    this.gpu.device.queue.submit([this.encoder.finish()]);
    this.gpu.pool.release(this.uniform);
    this.submitted = true;
  }

  private reserveParams(bytes: number): number {
    const align = this.gpu.caps.minUniformOffsetAlignment;
    const offset = Math.ceil(this.paramsUsed / align) * align;
    if (offset + bytes > this.uniformSize) {
      throw new RangeError(`recorder "${this.label}": more than ${this.uniformSize / align} parameterised ` +
        `dispatches in one submit`);
    }
    if (offset + bytes > this.params.byteLength) {
      const grown = new ArrayBuffer(Math.min(this.uniformSize, this.params.byteLength * 4));
      new Uint8Array(grown).set(new Uint8Array(this.params));
      this.params = grown;
    }
    this.paramsUsed = offset + bytes;
    return offset;
  }

  private passFor(label: string): GPUComputePassEncoder {
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass(
        this.profiler ? { label, timestampWrites: this.profiler.next(label) } : { label: this.label },
      );
    }
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * Folds a 1-D workgroup count into [x, y] so neither exceeds the per-dimension limit. Shaders recover the flat
 * index as `wg.x + wg.y * num_workgroups.x` and must bounds-check (x·y may exceed the count).
 */
export function grid(groups: number, maxPerDim = 65535): [number, number] {
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}
