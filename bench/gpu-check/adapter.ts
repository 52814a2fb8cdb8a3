/** What gpu-check records about the adapter: the doctor's diagnosis plus the full adapter info and device caps. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diagnose, type Diagnosis } from '../../src/cli/doctor';
import { Gpu, type AdapterSummary, type GpuCaps } from '../../src/gpu';
import { ROOT } from '../model/child';

export interface AdapterFacts {
  diagnosis: Diagnosis;
  summary: AdapterSummary;
  caps: GpuCaps;
  /** Dawn's version and the native API it drives on this platform. */
  backend: string;
  /** The GPU and driver as nvidia-smi names them, where it exists. */
  system: string | undefined;
}

const NATIVE_API: Record<string, string> = { linux: 'Vulkan', darwin: 'Metal', win32: 'D3D12' };

/** The adapter Dawn picks here (throws the engine's own "no adapter" help when there is none). */
export async function adapterFacts(): Promise<AdapterFacts> {
  const diagnosis = await diagnose();
  const gpu = await Gpu.create();
  const { adapter: summary, caps } = gpu;
  await gpu.sync();
  gpu.destroy();
  const dawn = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'webgpu', 'package.json'), 'utf8')) as
    { version: string }).version;
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
    { encoding: 'utf8' });
  return {
    diagnosis, summary, caps,
    backend: `Dawn (npm webgpu ${dawn}) on ${NATIVE_API[process.platform] ?? process.platform}`,
    system: smi.status === 0 ? `nvidia-smi: ${smi.stdout.trim().split('\n').join('; ')}` : undefined,
  };
}
