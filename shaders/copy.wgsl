// Plain buffer copy with vec4 loads and stores: dst[i] = src[i] for i < n (in vec4 units). Used as the memory
// bandwidth yardstick of the kernel benchmark (bench/cases/copy.ts) and usable as a generic copy kernel.
// Dispatch: grid(ceil(n / WG)) (folded 2-D), see src/gpu/recorder.ts.
#include "common.wgsl"

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wg, nwg) * WG + lid;
  if (i < P.n) { dst[i] = src[i]; }
}
