/**
 * One WebGPU device for Node (Dawn, npm `webgpu`) and browsers (`navigator.gpu`), opened with the adapter's real
 * limits and the optional features it has. Everything else in the engine talks to WebGPU through a `Gpu`.
 *
 * @example
 * const gpu = await Gpu.create();                 // Node: Dawn; browser: navigator.gpu
 * console.log(gpu.describe());                    // "mesa software llvmpipe … [f16 subgroups timestamps]"
 * gpu.destroy();
 */
import { BufferPool, RowBlockedMatrix, Tensor, type DType, DTYPE_BYTES, type TypedData } from './buffers';
import { BindGroupCache } from './bind-groups';
import { useRecordedDriver } from './node-driver';
import { PipelineCache } from './pipelines';
import { f16BitsToF32 } from '../weights/half';

export type OptionalFeature = 'shader-f16' | 'subgroups' | 'timestamp-query';

export interface GpuOptions {
  /**
   * Node only: pick the adapter whose name contains this text (Dawn's `adapter=` toggle), e.g. `llvmpipe`.
   * Defaults to the `GLM_ASR_ADAPTER` environment variable; otherwise Dawn's own choice.
   */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** Leave these optional features off even when the adapter has them (to exercise fallbacks). */
  disableFeatures?: OptionalFeature[];
}

/** What kernels may rely on: the features that were enabled and the limits the device was opened with. */
export interface GpuCaps {
  /**
   * A software adapter (lavapipe, SwiftShader, llvmpipe): workgroups run as fibers on CPU threads, so barriers
   * and workgroup memory are expensive and kernels pick variants without them.
   */
  cpuAdapter: boolean;
  f16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  /** WGSL `dot4I8Packed` (language feature packed_4x8_integer_dot_product). */
  packedDot4: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  maxStorageBindingBytes: number;
  maxBufferBytes: number;
  maxInvocationsPerWorkgroup: number;
  maxWorkgroupSizeX: number;
  maxWorkgroupStorageBytes: number;
  maxStorageBuffersPerStage: number;
  maxWorkgroupsPerDimension: number;
  minUniformOffsetAlignment: number;
  /** minStorageBufferOffsetAlignment: storage bindings start at multiples of this (see gpu/bindings.ts). */
  storageOffsetAlignment: number;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  isFallback: boolean;
}

const NO_ADAPTER_HELP =
  'No WebGPU adapter is available. ' +
  'In Node, `npx glm-asr doctor` shows what is missing; on Linux without a GPU driver, `npx glm-asr setup` ' +
  'installs a CPU driver (Mesa lavapipe) into the user cache folder, which later runs use by themselves ' +
  '(or set VK_ICD_FILENAMES to a Vulkan ICD json). ' +
  'With a GPU, install its Vulkan driver (e.g. mesa-vulkan-drivers or the NVIDIA driver). ' +
  'In a browser, use one with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).';

/**
 * dawn.node tears its instance down when the JS object is collected, even while a device of it is alive or a
 * read-back is pending, and a later callback then kills the process (`std::system_error`, futex errors). So the
 * process keeps one instance per adapter choice for its whole life; every `Gpu` opens its device on it.
 */
const nodeInstances = new Map<string, GPU>();

async function nodeGpu(adapterName: string | undefined): Promise<GPU> {
  const known = nodeInstances.get(adapterName ?? '');
  if (known) return known;
  // A computed specifier keeps browser bundlers from trying to resolve the Node-only package.
  const specifier = 'webgpu';
  useRecordedDriver(); // the driver `glm-asr setup` installed; the Vulkan loader reads its variable when Dawn starts
  let mod: { create(options: string[]): GPU; globals: Record<string, unknown> };
  try {
    mod = await import(/* @vite-ignore */ specifier);
  } catch (e) {
    throw new Error(`WebGPU for Node needs the npm package "webgpu" (Dawn): ` +
      `${(e as Error).message}. ${NO_ADAPTER_HELP}`);
  }
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  let gpu: GPU;
  try {
    gpu = mod.create(adapterName ? [`adapter=${adapterName}`] : []);
  } catch (e) {
    throw new Error(`WebGPU adapter "${adapterName}" was not found: ${(e as Error).message}`);
  }
  nodeInstances.set(adapterName ?? '', gpu);
  return gpu;
}

export class Gpu {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  /** Reuses bind groups across steps (`enabled = false` to measure without). */
  readonly bindGroups: BindGroupCache;
  /** Validation and out-of-memory errors that reached the device without an error scope, newest last. */
  readonly errors: string[] = [];
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    readonly caps: GpuCaps,
  ) {
    this.pipelines = new PipelineCache(device, caps);
    this.pool = new BufferPool(device);
    this.bindGroups = new BindGroupCache(device);
    device.addEventListener('uncapturederror', (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message;
      this.errors.push(msg);
      console.error(`[glm-asr-webgpu] GPU error: ${msg}`);
    });
  }

  static async create(options: GpuOptions = {}): Promise<Gpu> {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    const gpu = nav?.gpu ?? (await nodeGpu(options.adapter ?? env?.GLM_ASR_ADAPTER));
    const adapter = await gpu.requestAdapter(options.powerPreference ?
      { powerPreference: options.powerPreference } : undefined);
    if (!adapter) throw new Error(NO_ADAPTER_HELP);

    const off = new Set(options.disableFeatures ?? []);
    const wanted: OptionalFeature[] = ['shader-f16', 'subgroups', 'timestamp-query'];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f) && !off.has(f)) as GPUFeatureName[];
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      label: 'glm-asr-webgpu',
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      },
    });
    const info = adapter.info;
    const has = (f: string) => device.features.has(f);
    const wgsl = (gpu as GPU & { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures;
    const infoSg = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    const dl = device.limits;
    const isFallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
    const caps: GpuCaps = {
      cpuAdapter: isFallback || /swiftshader|llvmpipe|lavapipe|software|\bcpu\b/i.test(`${info.architecture} ` +
        `${info.description} ${info.device}`),
      f16: has('shader-f16'),
      subgroups: has('subgroups'),
      timestampQuery: has('timestamp-query'),
      packedDot4: wgsl?.has('packed_4x8_integer_dot_product') ?? false,
      subgroupMinSize: infoSg.subgroupMinSize ?? 4,
      subgroupMaxSize: infoSg.subgroupMaxSize ?? 128,
      maxStorageBindingBytes: dl.maxStorageBufferBindingSize,
      maxBufferBytes: dl.maxBufferSize,
      maxInvocationsPerWorkgroup: dl.maxComputeInvocationsPerWorkgroup,
      maxWorkgroupSizeX: dl.maxComputeWorkgroupSizeX,
      maxWorkgroupStorageBytes: dl.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerStage: dl.maxStorageBuffersPerShaderStage,
      maxWorkgroupsPerDimension: dl.maxComputeWorkgroupsPerDimension,
      minUniformOffsetAlignment: dl.minUniformBufferOffsetAlignment,
      storageOffsetAlignment: dl.minStorageBufferOffsetAlignment,
    };
    const summary: AdapterSummary = {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description || info.device,
      isFallback,
    };
    return new Gpu(device, summary, caps);
  }

  /** One line naming the adapter and the optional features in use, for logs and benchmark tables. */
  describe(): string {
    const a = this.adapter;
    const feats = [this.caps.f16 && 'f16', this.caps.subgroups && 'subgroups', this.caps.timestampQuery && 'timestamps']
      .filter(Boolean).join(' ');
    return `${[a.vendor, a.architecture, a.description].filter(Boolean).join(' ')} [${feats}]`;
  }

  /** A pooled storage tensor (uninitialised). Give it back with `release` when done. */
  tensor(label: string, shape: readonly number[], dtype: DType): Tensor {
    const bytes = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    return new Tensor(this.pool.acquire(label, bytes, usage), shape, dtype);
  }

  /** A permanent (non-pooled) tensor, e.g. a weight (uninitialised). Free it with `pool.destroy(t.buffer)`. */
  permanentTensor(label: string, shape: readonly number[], dtype: DType): Tensor {
    const bytes = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    return new Tensor(this.pool.create(label, bytes, usage), shape, dtype);
  }

  /**
   * A permanent (non-pooled) [rows, cols] matrix split into row blocks that each fit one storage binding
   * (see RowBlockedMatrix). Used for weights; fill it with `writeRows`.
   */
  matrix(label: string, rows: number, cols: number, dtype: DType,
    maxBlockBytes = this.caps.maxStorageBindingBytes): RowBlockedMatrix {
    const perBlock = RowBlockedMatrix.rowsPerBlock(cols, dtype, maxBlockBytes);
    const blocks = [];
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    for (let row0 = 0; row0 < rows; row0 += perBlock) {
      const n = Math.min(perBlock, rows - row0);
      const name = rows > perBlock ? `${label}[${row0}:${row0 + n}]` : label;
      const buf = this.pool.create(name, n * cols * DTYPE_BYTES[dtype], usage);
      blocks.push({ tensor: new Tensor(buf, [n, cols], dtype), row0, rows: n });
    }
    return new RowBlockedMatrix(blocks, rows, cols, dtype);
  }

  /** Writes host rows [row0, row0 + data.length/cols) into a row-blocked matrix, across block boundaries. */
  writeRows(m: RowBlockedMatrix, row0: number, data: TypedData): void {
    const elemBytes = DTYPE_BYTES[m.dtype];
    const rowBytes = m.cols * elemBytes;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % rowBytes) throw new RangeError(`writeRows "${m.blocks[0]?.tensor.label}": ` +
      `${bytes.byteLength} bytes is not a whole number of ${rowBytes}-byte rows`);
    const rows = bytes.byteLength / rowBytes;
    if (row0 + rows > m.rows) throw new RangeError(`writeRows "${m.blocks[0]?.tensor.label}": rows ` +
      `${row0}..${row0 + rows} exceed ${m.rows}`);
    for (const b of m.blocks) {
      const lo = Math.max(row0, b.row0);
      const hi = Math.min(row0 + rows, b.row0 + b.rows);
      if (lo >= hi) continue;
      this.write(b.tensor, bytes.subarray((lo - row0) * rowBytes, (hi - row0) * rowBytes), (lo - b.row0) * m.cols);
    }
  }

  /** A pooled tensor filled from host data (element type must match `dtype`; f16 takes raw bits as Uint16Array). */
  upload(label: string, data: TypedData, shape: readonly number[], dtype: DType): Tensor {
    const t = this.tensor(label, shape, dtype);
    this.write(t, data);
    return t;
  }

  write(t: Tensor, data: TypedData, elementOffset = 0): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const start = t.byteOffset + elementOffset * DTYPE_BYTES[t.dtype];
    if (start + bytes.byteLength > t.byteOffset + t.byteLength) {
      throw new RangeError(`write of ${bytes.byteLength} bytes at element ${elementOffset} overflows tensor ` +
        `"${t.label}" (${t.byteLength} bytes)`);
    }
    if (bytes.byteLength % 4 === 0) {
      this.device.queue.writeBuffer(t.buffer, start, bytes as Uint8Array<ArrayBuffer>);
    } else {
      // writeBuffer needs a multiple of 4 bytes: pad the tail (the padding lands inside the pooled buffer's slack).
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(t.buffer, start, padded);
    }
  }

  release(...tensors: Tensor[]): void {
    for (const t of tensors) this.pool.release(t.buffer);
  }

  /** Copies a tensor (or its first `count` elements) back to the host. For tests and small outputs only. */
  async read(t: Tensor, count = t.numel): Promise<Uint8Array> {
    const bytes = count * DTYPE_BYTES[t.dtype];
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(`readback:${t.label}`, size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const enc = this.device.createCommandEncoder({ label: `read ${t.label}` });
    enc.copyBufferToBuffer(t.buffer, t.byteOffset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ, 0, size);
    const out = new Uint8Array(staging.getMappedRange(0, size).slice(0, bytes));
    staging.unmap();
    this.pool.release(staging);
    return out;
  }

  /** Reads an f32/f16 tensor as Float32Array (f16 is widened on the host). */
  async readF32(t: Tensor, count = t.numel): Promise<Float32Array> {
    const raw = await this.read(t, count);
    if (t.dtype === 'f32') return new Float32Array(raw.buffer, raw.byteOffset, count);
    if (t.dtype === 'f16') return f16BitsToF32(new Uint16Array(raw.buffer, raw.byteOffset, count));
    throw new TypeError(`readF32: tensor "${t.label}" is ${t.dtype}`);
  }

  async readU32(t: Tensor, count = t.numel): Promise<Uint32Array> {
    const raw = await this.read(t, count);
    return new Uint32Array(raw.buffer, raw.byteOffset, count);
  }

  /** Resolves when all submitted GPU work has finished. */
  sync(): Promise<void> {
    return this.device.queue.onSubmittedWorkDone();
  }

  /**
   * Frees every buffer and the device. Work may still be on the queue (a read-back another task awaits): Dawn can
   * crash when a device goes with work in flight, so the release waits for the queue; calling it again is a no-op.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const release = () => {
      this.pool.destroyAll();
      this.device.destroy();
    };
    this.device.queue.onSubmittedWorkDone().then(release, release);
  }
}
