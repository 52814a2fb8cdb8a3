// Shared declarations for every kernel. Included with #include "common.wgsl".

// Flat workgroup index for 1-D work folded into a 2-D grid (see grid() in src/gpu/recorder.ts).
fn flat_workgroup(wg: vec3u, nwg: vec3u) -> u32 {
  return wg.x + wg.y * nwg.x;
}

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26); WGSL has no built-in erf.
fn erf_approx(x: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t +
    0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}

// Exact (erf) GELU, as torch.nn.functional.gelu(approximate='none').
fn gelu_erf(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
}

fn silu(x: f32) -> f32 {
  return x / (1.0 + exp(-x));
}
