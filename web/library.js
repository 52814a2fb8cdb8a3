// The page's only source of the library's code: the browser bundle (glm-asr.browser.js, built by
// `npm run build` into dist/web/ and served under the name /health gives). The in-browser engine, the
// output formats (.srt), the resampler and the WAV encoder of a recording all come from it, so the page
// keeps no copies of them. Without the bundle the server mode still uploads files and shows the text.

/** @type {Promise<any> | null} */
let health = null;
/** @type {Promise<any> | null} */
let lib = null;

/** The server's /health answer, read once; null when it cannot be read (the page opened without its server). */
export function serverHealth() {
  health ??= fetch('health', { cache: 'no-store' })
    .then((res) => (res.ok ? res.json() : null))
    .catch(() => null);
  return health;
}

/** The bundle's exports, loaded once; rejects with a message that says what to do when there is no bundle. */
export function library() {
  lib ??= serverHealth().then(async (h) => {
    const info = h && h.browser;
    if (info && !info.engine) {
      throw new Error('The page\'s library (glm-asr.browser.js) is not built on this server: run `npm run build`, '
        + 'which writes dist/web/. Until then the server transcribes uploaded files; recording, the .srt download '
        + 'and the in-browser mode need it.');
    }
    const url = new URL((info && info.engine) || 'glm-asr.browser.js', location.href).href;
    try {
      return await import(url);
    } catch (err) {
      throw new Error(`The page's library (${url}) could not be loaded: ${err && err.message ? err.message : err}`);
    }
  });
  return lib;
}
