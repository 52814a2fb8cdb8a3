// The page's "In this browser (WebGPU)" mode: starts the library's browser bundle (glm-asr.browser.js,
// served by the server from dist/web/) as the engine's Web Worker (EngineWorker), lets the user pick the
// model (a folder URL, by default the server's own model at models/<id>/, or a local folder), which the
// worker keeps in Cache Storage, and registers the engine with app.js so that the Transcribe button, live
// mode, the progress line and the transcript view work as in server mode. The page's thread only posts
// messages: loading, decoding and the model's work all happen in the worker.

import { browserEngineUnavailable, registerBrowserEngine } from './app.js';
import { bytes } from './format.js';
import { library, serverHealth } from './library.js';

const URL_STORAGE = 'glm-asr.modelUrl';
const KEY_STORAGE = 'glm-asr.apiKey';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const els = {
  sourceUrl: /** @type {HTMLInputElement} */ (document.querySelector('input[name="model-source"][value="url"]')),
  sourceFolder: /** @type {HTMLInputElement} */ (document.querySelector('input[name="model-source"][value="folder"]')),
  urlField: $('model-url-field'),
  url: /** @type {HTMLInputElement} */ ($('model-url')),
  folderField: $('model-folder-field'),
  folder: /** @type {HTMLInputElement} */ ($('model-folder')),
  folderInfo: $('model-folder-info'),
  load: /** @type {HTMLButtonElement} */ ($('load-model-button')),
  clear: /** @type {HTMLButtonElement} */ ($('clear-cache-button')),
  bar: /** @type {HTMLProgressElement} */ ($('model-bar')),
  status: $('model-status'),
  cache: $('cache-status'),
  apiKey: /** @type {HTMLInputElement} */ ($('api-key')),
};

/** @type {any} the bundle's exports */
let lib = null;
/** @type {any} EngineWorker: the engine in its Web Worker */
let engine = null;
/** What the loaded model was loaded from, to reload when the user picks another source. */
let loadedKey = '';
/** @type {Promise<unknown> | null} */
let loading = null;

function currentSource() {
  if (els.sourceFolder.checked) {
    const files = els.folder.files ? [...els.folder.files] : [];
    const first = files[0] && files[0].webkitRelativePath ? files[0].webkitRelativePath.split('/')[0] : '';
    const size = files.reduce((a, f) => a + f.size, 0);
    const key = `folder:${first}:${files.length}:${size}`;
    return { key, source: { kind: 'files', files }, label: first || 'the selected folder' };
  }
  const raw = els.url.value.trim();
  if (!raw) throw new Error('Enter the URL of a model folder, or choose a folder on this computer.');
  let url;
  try {
    url = lib.normalizeBaseUrl(raw);
  } catch {
    throw new Error(`"${raw}" is not a valid http(s) URL.`);
  }
  // The API key goes only to this server (its own model route), never to another host.
  const headers = {};
  const key = apiKey();
  if (key && new URL(url).origin === location.origin) headers.Authorization = `Bearer ${key}`;
  return { key: `url:${url}`, source: { kind: 'url', url, headers }, label: url };
}

/** The server's VAD weights folder (same origin, so the key may go with it); the engine checks it is there. */
function vadSource() {
  const key = apiKey();
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  return { url: new URL('vad/silero-vad-v5/', location.href).href, headers };
}

function apiKey() {
  const typed = els.apiKey && els.apiKey.value.trim();
  if (typed) return typed;
  try {
    return localStorage.getItem(KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

function setStatus(text) {
  els.status.textContent = text;
}

function showBar(fraction) {
  if (fraction === null) {
    els.bar.hidden = true;
    return;
  }
  els.bar.hidden = false;
  els.bar.value = fraction;
}

function describeLoaded(m) {
  const how = {
    network: `downloaded ${bytes(m.downloadedBytes)} and cached`,
    cache: 'from the browser cache, no download',
    'url-ranged': 'read from the URL (not cached)',
    files: 'from the chosen folder',
    provider: 'from the given files',
  }[m.from];
  const took = `${(m.loadMs / 1000).toFixed(1)} s`;
  const cut = m.segmenter === 'vad' ? 'VAD segmentation' : 'fixed 30 s windows (no VAD weights)';
  const weights = `${m.precision} weights, ${bytes(m.gpuBytes)} on ${m.adapter}`;
  return `Loaded ${m.name} (${how}) in ${took} · ${weights} · ${cut}.`;
}

async function refreshCacheInfo() {
  if (!lib.modelCacheAvailable()) {
    els.cache.textContent = 'Downloaded models cannot be cached on this page (Cache Storage needs https or localhost).';
    els.clear.disabled = true;
    return;
  }
  try {
    const models = await lib.listCachedModels();
    const total = models.reduce((a, m) => a + m.bytes, 0);
    els.cache.textContent = models.length
      ? `Cached in this browser: ${bytes(total)} (${models.map((m) => m.baseUrl).join(', ')}).`
      : 'Nothing cached in this browser yet.';
    els.cache.dataset.bytes = String(total);
    els.clear.disabled = models.length === 0 || !!loading;
  } catch (err) {
    els.cache.textContent = `Cannot read the cache: ${err && err.message ? err.message : err}`;
  }
}

/** Loads the selected model (again only if the selection changed). Progress goes to the panel and to `onProgress`. */
async function ensureLoaded({ signal, onProgress } = {}) {
  if (loading) return loading;
  const sel = currentSource();
  if (engine.model && sel.key === loadedKey) return engine.model;
  if (sel.source.kind === 'url') {
    try {
      localStorage.setItem(URL_STORAGE, els.url.value.trim());
    } catch {
      // storage disabled
    }
  }
  els.load.disabled = true;
  els.clear.disabled = true;
  setStatus(`Loading ${sel.label}…`);
  showBar(0);
  const started = performance.now();
  loading = engine
    .load(sel.source, {
      vad: vadSource(),
      signal,
      onProgress: (p) => {
        const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
        setStatus(p.stage === 'download'
          ? `Downloading ${p.file || 'the model'}… ${bytes(p.done)}${p.total ? ` of ${bytes(p.total)}` : ''}`
          : `Loading the weights onto the GPU… ${Math.round(frac * 100)}%`);
        showBar(frac);
        if (onProgress) onProgress(p);
      },
    })
    .then(
      (m) => {
        loadedKey = sel.key;
        setStatus(describeLoaded(m));
        document.documentElement.dataset.modelLoaded = m.from;
        return m;
      },
      (err) => {
        loadedKey = '';
        delete document.documentElement.dataset.modelLoaded;
        const aborted = err && err.name === 'AbortError';
        setStatus(aborted
          ? 'Loading cancelled.'
          : `Could not load the model: ${err && err.message ? err.message : err}`);
        throw err;
      },
    )
    .finally(() => {
      loading = null;
      showBar(null);
      els.load.disabled = false;
      void refreshCacheInfo();
      console.debug(`model load: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    });
  return loading;
}

function onSourceChange() {
  const folder = els.sourceFolder.checked;
  els.urlField.hidden = folder;
  els.folderField.hidden = !folder;
}

async function init() {
  if (!('gpu' in navigator)) return; // app.js explains what is missing
  try {
    lib = await library();
  } catch (err) {
    browserEngineUnavailable(err.message);
    return;
  }
  const health = await serverHealth();
  const info = health && health.browser;
  let problem;
  try {
    engine = new lib.EngineWorker();
    problem = await engine.problem(); // WebGPU as the worker sees it
  } catch (err) {
    problem = err && err.message ? err.message : String(err);
  }
  if (problem) {
    engine?.terminate();
    browserEngineUnavailable(problem);
    return;
  }

  let saved = '';
  try {
    saved = localStorage.getItem(URL_STORAGE) || '';
  } catch {
    // storage disabled
  }
  const serverModel = info && info.modelUrl ? new URL(info.modelUrl, location.href).href : '';
  els.url.value = saved || serverModel;
  if (!els.url.value) els.url.placeholder = 'https://huggingface.co/zai-org/GLM-ASR-Nano-2512/resolve/main/';

  els.sourceUrl.addEventListener('change', onSourceChange);
  els.sourceFolder.addEventListener('change', onSourceChange);
  els.folder.addEventListener('change', () => {
    const files = els.folder.files ? [...els.folder.files] : [];
    const total = files.reduce((a, f) => a + f.size, 0);
    els.folderInfo.textContent = files.length ? `${files.length} files, ${bytes(total)}` : '';
  });
  els.load.addEventListener('click', () => {
    ensureLoaded().catch(() => {}); // the status line shows the error
  });
  els.clear.addEventListener('click', async () => {
    els.clear.disabled = true;
    try {
      await lib.clearModelCache();
      setStatus(engine.model
        ? 'Cached files deleted. The loaded model stays in memory until this page is closed.'
        : 'Cached files deleted.');
    } catch (err) {
      setStatus(`Could not clear the cache: ${err && err.message ? err.message : err}`);
    }
    await refreshCacheInfo();
  });
  onSourceChange();
  await refreshCacheInfo();

  registerBrowserEngine({
    label: 'WebGPU',
    async transcribe(blob, { name, signal, onProgress, beams } = {}) {
      await ensureLoaded({ signal, onProgress });
      signal?.throwIfAborted();
      return engine.transcribe(blob, { name, signal, beams, onProgress });
    },
    /** A live session in the worker (`GlmAsr.live`); loads the selected model first. */
    async live(options, { signal, onProgress } = {}) {
      await ensureLoaded({ signal, onProgress });
      signal?.throwIfAborted();
      return engine.live(options);
    },
  });
  document.documentElement.dataset.browserEngine = 'ready';
}

void init();
