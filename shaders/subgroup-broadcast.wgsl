// Subgroup broadcasts of f32 lanes, for kernels in which each lane loads a few values that every lane needs
// (matmul.wgsl, matmul-int8.wgsl). Only for shaders that put `enable subgroups;` first.
#if SUBGROUPS
// Lanes 0..3 / 4..7 of v as a vec4.
fn bc_lo(v: f32) -> vec4f {
  return vec4f(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
}
fn bc_hi(v: f32) -> vec4f {
  return vec4f(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}
#endif
