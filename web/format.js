// Time and subtitle formatting for the page (downloads and the segment list).
// The server has the same formats in src/formats.ts; this is the page's dependency-free copy.

/** `HH:MM:SS<sep>mmm`; rounds to whole milliseconds first so 59.9996 s → 00:01:00.000. */
export function timestamp(seconds, sep) {
  const totalMs = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;
  const ms = totalMs % 1000;
  const totalSec = (totalMs - ms) / 1000;
  const s = totalSec % 60;
  const m = Math.floor(totalSec / 60) % 60;
  const h = Math.floor(totalSec / 3600);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}${sep}${String(ms).padStart(3, '0')}`;
}

/** Short clock for display: `m:ss.s` (or `h:mm:ss.s`). */
export function clock(seconds, decimals = 1) {
  const t = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
  const h = Math.floor(t / 3600);
  const m = Math.floor(t / 60) % 60;
  const s = (t % 60).toFixed(decimals).padStart(decimals > 0 ? 3 + decimals : 2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function cueText(text) {
  return String(text)
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n');
}

/** SubRip from `[{ start, end, text }]`. */
export function toSrt(segments) {
  let out = '';
  let n = 0;
  for (const seg of segments) {
    const text = cueText(seg.text);
    if (!text) continue;
    const start = Math.max(0, seg.start || 0);
    const end = Math.max(start, seg.end || 0);
    n++;
    out += `${n}\n${timestamp(start, ',')} --> ${timestamp(end, ',')}\n${text}\n\n`;
  }
  return out;
}

/** Human-readable byte count. */
export function bytes(n) {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}
