// Prints one line "hardware|cpu <vendor> <architecture> <description>" for the adapter Dawn picks, or nothing.
// Used by scripts/setup.sh to decide whether the CPU fallback (lavapipe) is needed.
import { create } from 'webgpu';
const adapter = await create([]).requestAdapter();
if (adapter) {
  const i = adapter.info;
  const cpu = i.isFallbackAdapter || /cpu|software|swiftshader|llvmpipe|lavapipe/i.test(`${i.architecture} ` +
    `${i.description} ${i.device}`);
  console.log(`${cpu ? 'cpu' : 'hardware'} ${i.vendor} ${i.architecture} ${i.description}`.trim());
}
process.exit(0);
