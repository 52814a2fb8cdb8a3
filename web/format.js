// Display formatting for the page: short clocks and byte counts. The output formats (.srt and the
// others) are the library's, from the browser bundle (library.js).

/** Short clock for display: `m:ss.s` (or `h:mm:ss.s`). */
export function clock(seconds, decimals = 1) {
  const t = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
  const h = Math.floor(t / 3600);
  const m = Math.floor(t / 60) % 60;
  const s = (t % 60).toFixed(decimals).padStart(decimals > 0 ? 3 + decimals : 2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Human-readable byte count. */
export function bytes(n) {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}
