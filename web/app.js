// The GLM-ASR web page: pick or record audio, send it to the server's OpenAI-compatible endpoint
// (or to the in-browser WebGPU engine), show and export the transcript. Live mode is live.js.
//
// In-browser mode: another module (browser-mode.js) calls `registerBrowserEngine(engine)` with
//   { label?: string, transcribe(file: Blob, { name, signal, onProgress, beams }) → Promise<result>,
//     live(LiveOptions, { signal, onProgress }) → Promise<LiveSession> (live mode, live.js) }
// where result has the verbose_json shape ({ text, duration, segments: [{ start, end, text }] },
// optionally `tokens` and `model`) and onProgress receives { stage, done, total, file? } with stage one
// of download, load, decode-audio, encode, generate. Until then the option stays disabled; the module
// calls `browserEngineUnavailable(reason)` to say why when it cannot offer the mode.

import { MicRecorder, microphoneSupported } from './audio.js';
import { bytes, clock } from './format.js';
import { library } from './library.js';
import { messages } from './messages.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const els = {
  serverStatus: $('server-status'),
  modeNote: $('mode-note'),
  browserModel: $('browser-model'),
  modeServer: /** @type {HTMLInputElement} */ (document.querySelector('input[name="mode"][value="server"]')),
  modeBrowser: /** @type {HTMLInputElement} */ (document.querySelector('input[name="mode"][value="browser"]')),
  drop: $('drop-zone'),
  fileInput: /** @type {HTMLInputElement} */ ($('file-input')),
  recordButton: $('record-button'),
  recordLabel: $('record-label'),
  recordTime: $('record-time'),
  recordLevel: /** @type {HTMLMeterElement} */ ($('record-level')),
  selected: $('selected'),
  selectedName: $('selected-name'),
  selectedInfo: $('selected-info'),
  preview: /** @type {HTMLAudioElement} */ ($('preview')),
  settings: /** @type {HTMLDetailsElement} */ ($('settings')),
  apiKey: /** @type {HTMLInputElement} */ ($('api-key')),
  apiKeyRequired: $('api-key-required'),
  rememberKey: /** @type {HTMLInputElement} */ ($('remember-key')),
  beams: /** @type {HTMLInputElement} */ ($('beams')),
  transcribe: /** @type {HTMLButtonElement} */ ($('transcribe-button')),
  cancel: $('cancel-button'),
  progress: $('progress'),
  uploadBar: /** @type {HTMLProgressElement} */ ($('upload-bar')),
  spinner: $('spinner'),
  status: $('status'),
  error: $('error'),
  result: $('result'),
  resultText: $('result-text'),
  resultMeta: $('result-meta'),
  segmentsBox: /** @type {HTMLDetailsElement} */ ($('segments-box')),
  segmentsSummary: $('segments-summary'),
  segments: $('segments'),
  copy: $('copy-button'),
  dlTxt: $('download-txt'),
  dlSrt: $('download-srt'),
  dlJson: $('download-json'),
};
const { setStatus, showError, hideError } = messages(els);

const KEY_STORAGE = 'glm-asr.apiKey';

const state = {
  /** @type {{ blob: Blob, name: string, seconds?: number } | null} */
  audio: null,
  previewUrl: '',
  /** From /health. */
  model: 'glm-asr-nano-2512',
  limits: { maxUploadBytes: 25 * 1024 * 1024, maxAudioSeconds: 630, authRequired: false },
  /** @type {MicRecorder | null} */
  recorder: null,
  recordTimer: 0,
  /** @type {{ abort(): void } | null} */
  job: null,
  /** Last result (verbose_json shape) and the base name for downloads. */
  result: null,
  resultBase: 'transcript',
  /** @type {null | { label?: string, transcribe: Function }} */
  browserEngine: null,
  /** Why the in-browser mode is off, when the engine module said so. */
  browserNote: '',
  /** Why the library bundle (recording, .srt) is missing; '' while it loads or once it is there. */
  libraryProblem: '',
  /** Live mode is running (live.js). */
  live: false,
};

// ------------------------------------------------------------------ server status

async function loadHealth() {
  try {
    const res = await fetch('health', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const h = await res.json();
    state.model = h.model || state.model;
    if (h.limits) state.limits = { ...state.limits, ...h.limits };
    const q = h.queue || { running: 0, waiting: 0 };
    const busy = q.running + q.waiting;
    const jobs = busy === 0 ? 'idle' : `${busy} job${busy === 1 ? '' : 's'} in progress`;
    els.serverStatus.textContent = `${state.model} · ${jobs}`;
    els.serverStatus.className = 'pill ok';
    if (state.limits.authRequired) {
      els.apiKeyRequired.textContent = '(required by this server)';
      if (!els.apiKey.value) els.settings.open = true;
    }
  } catch {
    els.serverStatus.textContent = 'Server unreachable';
    els.serverStatus.className = 'pill bad';
  }
}

// ------------------------------------------------------------------ mode switch

function describeModes() {
  if (state.browserEngine) {
    els.modeBrowser.disabled = false;
    els.modeNote.textContent = '';
    onModeChange();
    return;
  }
  els.modeBrowser.disabled = true;
  els.modeBrowser.checked = false;
  els.modeServer.checked = true;
  els.modeNote.textContent = !('gpu' in navigator)
    ? 'In-browser transcription needs WebGPU, which this browser does not offer (navigator.gpu is missing). '
      + 'Try a recent Chrome or Edge, or use the server.'
    : state.browserNote || 'Checking whether this browser can run the model…';
  onModeChange();
}

/** Shows the model panel in the in-browser mode; `byUser`: the user switched modes (old errors go). */
function onModeChange(byUser = false) {
  els.browserModel.hidden = mode() !== 'browser';
  if (byUser) hideError();
  updateButtons();
}
els.modeServer.addEventListener('change', () => onModeChange(true));
els.modeBrowser.addEventListener('change', () => onModeChange(true));

/** Lets a WebGPU engine module switch the in-browser mode on. */
export function registerBrowserEngine(engine) {
  if (!engine || typeof engine.transcribe !== 'function') throw new TypeError('engine.transcribe must be a function');
  state.browserEngine = engine;
  state.browserNote = '';
  describeModes();
}

/** The engine module could not offer the in-browser mode: show why. */
export function browserEngineUnavailable(reason) {
  state.browserEngine = null;
  state.browserNote = String(reason || 'In-browser transcription is not available here; the server does the work.');
  describeModes();
}

function mode() {
  return els.modeBrowser.checked && state.browserEngine ? 'browser' : 'server';
}

/** For live mode (live.js): where the model runs now, the engine, the server's model and limits, the key. */
export function pageState() {
  return {
    mode: mode(), browserEngine: state.browserEngine, model: state.model, limits: state.limits, apiKey: apiKey(),
    /** A file transcription or a recording is in progress. */
    busy: !!state.job || !!state.recorder, libraryProblem: state.libraryProblem,
  };
}

/** Live mode holds the microphone and the mode while it runs (`busy`), so recording and mode switches wait. */
export function setLiveBusy(busy) {
  state.live = busy;
  updateButtons();
}

// ------------------------------------------------------------------ choosing audio

function tooBig(blob) {
  return `This file is ${bytes(blob.size)}; the server accepts up to ${bytes(state.limits.maxUploadBytes)}.`;
}

function setAudio(blob, name, seconds) {
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.audio = { blob, name, seconds };
  state.previewUrl = URL.createObjectURL(blob);
  els.preview.src = state.previewUrl;
  els.selectedName.textContent = name;
  els.selectedInfo.textContent = `(${bytes(blob.size)}${seconds ? `, ${clock(seconds)}` : ''})`;
  els.selected.hidden = false;
  hideError();
  if (blob.size > state.limits.maxUploadBytes && mode() === 'server') {
    showError(tooBig(blob));
  }
  updateButtons();
}

els.fileInput.addEventListener('change', () => {
  const f = els.fileInput.files && els.fileInput.files[0];
  if (f) setAudio(f, f.name);
});

els.preview.addEventListener('loadedmetadata', () => {
  const d = els.preview.duration;
  if (state.audio && Number.isFinite(d) && !state.audio.seconds) {
    state.audio.seconds = d;
    els.selectedInfo.textContent = `(${bytes(state.audio.blob.size)}, ${clock(d)})`;
    if (d > state.limits.maxAudioSeconds && mode() === 'server') {
      const max = clock(state.limits.maxAudioSeconds, 0);
      showError(`This audio is ${clock(d, 0)} long; the server accepts up to ${max}.`);
    }
  }
});

for (const type of ['dragenter', 'dragover']) {
  els.drop.addEventListener(type, (e) => {
    e.preventDefault();
    els.drop.classList.add('dragging');
  });
}
for (const type of ['dragleave', 'drop']) {
  els.drop.addEventListener(type, () => els.drop.classList.remove('dragging'));
}
els.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  const f = e.dataTransfer && e.dataTransfer.files[0];
  if (f) setAudio(f, f.name);
});
// Dropping a file anywhere else must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

// ------------------------------------------------------------------ recording

async function startRecording() {
  hideError();
  const rec = new MicRecorder({
    maxSeconds: state.limits.maxAudioSeconds,
    onLevel: (v) => (els.recordLevel.value = v),
    onLimit: () => {
      setStatus(`Stopped at the ${clock(state.limits.maxAudioSeconds, 0)} limit.`);
      void stopRecording();
    },
  });
  try {
    await rec.start();
  } catch (err) {
    rec.cancel();
    const denied = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
    showError(denied
      ? 'Microphone access was refused. Allow it in the browser to record.'
      : `Cannot record: ${err && err.message ? err.message : err}`);
    return;
  }
  state.recorder = rec;
  els.recordButton.setAttribute('aria-pressed', 'true');
  els.recordLabel.textContent = 'Stop recording';
  const t0 = performance.now();
  state.recordTimer = window.setInterval(() => {
    els.recordTime.textContent = clock((performance.now() - t0) / 1000, 0);
  }, 250);
  setStatus('Recording…');
  updateButtons();
}

async function stopRecording() {
  const rec = state.recorder;
  if (!rec) return;
  state.recorder = null;
  window.clearInterval(state.recordTimer);
  els.recordButton.setAttribute('aria-pressed', 'false');
  els.recordLabel.textContent = 'Record from microphone';
  els.recordLevel.value = 0;
  setStatus('Preparing the recording…');
  let blob, seconds;
  try {
    ({ blob, seconds } = await rec.stop());
  } catch (err) {
    setStatus('');
    showError(err && err.message ? err.message : String(err));
    return;
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  setAudio(blob, `recording-${stamp}.wav`, seconds);
  setStatus(`Recorded ${clock(seconds)}.`);
  els.transcribe.focus();
}

els.recordButton.addEventListener('click', () => {
  if (state.recorder) void stopRecording();
  else void startRecording();
});

// ------------------------------------------------------------------ transcribing

function apiKey() {
  return els.apiKey.value.trim();
}

function saveKey() {
  try {
    if (els.rememberKey.checked && apiKey()) localStorage.setItem(KEY_STORAGE, apiKey());
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: keep the key for this page only
  }
}

/** POST the audio with XHR (fetch has no upload progress). Resolves with the verbose_json body. */
function transcribeOnServer(audio, onPhase) {
  const xhr = new XMLHttpRequest();
  const form = new FormData();
  form.append('file', audio.blob, audio.name);
  form.append('model', state.model);
  form.append('response_format', 'verbose_json');
  const beams = Number(els.beams.value);
  if (Number.isInteger(beams) && beams > 1) form.append('beams', String(beams));

  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', 'v1/audio/transcriptions');
    xhr.responseType = 'text';
    const key = apiKey();
    if (key) xhr.setRequestHeader('Authorization', `Bearer ${key}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onPhase('upload', e.loaded / e.total);
    };
    xhr.upload.onload = () => onPhase('transcribe', 1);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status === 200 && body) return resolve(body);
      const message = body && body.error && body.error.message
        ? body.error.message
        : `The server answered HTTP ${xhr.status}.`;
      const err = new Error(message);
      err.status = xhr.status;
      err.retryAfter = xhr.getResponseHeader('Retry-After');
      reject(err);
    };
    xhr.onerror = () => reject(new Error('Network error: the server could not be reached.'));
    xhr.onabort = () => reject(Object.assign(new Error('Cancelled.'), { name: 'AbortError' }));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

/** Status line and bar fraction (null: spinner) for one progress report of the in-browser engine. */
function describeProgress(p) {
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : null;
  switch (p.stage) {
    case 'download': {
      const of = p.total ? ` of ${bytes(p.total)}` : '';
      return [`Downloading the model${p.file ? ` (${p.file})` : ''}… ${bytes(p.done)}${of}`, frac];
    }
    case 'load':
      return [`Loading the weights onto the GPU… ${frac === null ? '' : `${Math.round(frac * 100)}%`}`, frac];
    case 'decode-audio':
      return ['Decoding the audio…', null];
    case 'encode':
      return ['Encoding the audio on the GPU…', null];
    case 'generate':
      return [`Generating text… ${p.done} token${p.done === 1 ? '' : 's'}`, null];
    default:
      return [`${p.stage}…`, frac];
  }
}

function transcribeInBrowser(audio, onPhase) {
  const ctrl = new AbortController();
  onPhase('transcribe', 1);
  const beams = Number(els.beams.value);
  const promise = Promise.resolve().then(() =>
    state.browserEngine.transcribe(audio.blob, {
      name: audio.name,
      signal: ctrl.signal,
      beams: Number.isInteger(beams) && beams > 1 ? beams : 1,
      onProgress: (p) => {
        if (!p || !p.stage) return;
        const [text, frac] = describeProgress(p);
        onPhase('progress', frac, text);
      },
    }),
  );
  return { promise, abort: () => ctrl.abort(new DOMException('Cancelled.', 'AbortError')) };
}

async function transcribe() {
  const audio = state.audio;
  if (!audio || state.job) return;
  hideError();
  saveKey();
  const useBrowser = mode() === 'browser';
  if (!useBrowser && audio.blob.size > state.limits.maxUploadBytes) {
    showError(tooBig(audio.blob));
    return;
  }
  const started = performance.now();
  let waitTimer = 0;
  /** In-browser mode: the latest progress line from the engine. */
  let detail = '';
  const tick = () => {
    const s = Math.round((performance.now() - started) / 1000);
    if (detail) setStatus(`${detail} · ${s} s`);
    else {
      const where = useBrowser ? ' in this browser' : ' (waiting in the queue if the server is busy)';
      setStatus(`Transcribing${where}… ${s} s`);
    }
  };
  const onPhase = (phase, fraction, text) => {
    els.progress.hidden = false;
    if (phase === 'upload') {
      els.uploadBar.hidden = false;
      els.spinner.hidden = true;
      els.uploadBar.value = fraction;
      setStatus(`Uploading… ${Math.round(fraction * 100)}%`);
      return;
    }
    if (phase === 'progress') {
      detail = text || detail;
      const determinate = typeof fraction === 'number';
      els.uploadBar.hidden = !determinate;
      els.spinner.hidden = determinate;
      if (determinate) els.uploadBar.value = fraction;
      tick();
    } else if (!waitTimer) {
      els.uploadBar.hidden = true;
      els.spinner.hidden = false;
      tick();
    }
    if (!waitTimer) waitTimer = window.setInterval(tick, 1000);
  };
  if (!useBrowser) onPhase('upload', 0);
  const job = useBrowser ? transcribeInBrowser(audio, onPhase) : transcribeOnServer(audio, onPhase);
  state.job = job;
  updateButtons();
  try {
    const result = await job.promise;
    const secs = (performance.now() - started) / 1000;
    showResult(result, audio.name, secs, useBrowser ? 'browser' : 'server');
    setStatus(`Done in ${secs.toFixed(1)} s.`);
  } catch (err) {
    if (err && err.name === 'AbortError') {
      setStatus('Cancelled.');
    } else {
      setStatus('');
      let message = err && err.message ? err.message : String(err);
      if (err && err.status === 503 && err.retryAfter) message += ` (retry in about ${err.retryAfter} s)`;
      showError(message);
      if (err && err.status === 401) {
        els.settings.open = true;
        els.apiKey.focus();
      }
    }
  } finally {
    window.clearInterval(waitTimer);
    els.progress.hidden = true;
    state.job = null;
    updateButtons();
    void loadHealth();
  }
}

els.transcribe.addEventListener('click', () => void transcribe());
// Enter in a settings field starts the transcription instead of submitting a form.
$('settings-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void transcribe();
});
els.cancel.addEventListener('click', () => state.job && state.job.abort());

// ------------------------------------------------------------------ result

function showResult(result, name, secs, where) {
  const segments = Array.isArray(result.segments) ? result.segments : [];
  state.result = { task: 'transcribe', ...result, segments };
  state.resultBase = name.replace(/\.[^.]+$/, '') || 'transcript';
  els.resultText.textContent = result.text || '';
  const dur = typeof result.duration === 'number' ? `${clock(result.duration)} of audio · ` : '';
  const model = where === 'browser'
    ? `in this browser · ${result.model || 'local model'}` +
      (result.segmenter === 'fixed' ? ' · fixed 30 s windows (the VAD weights could not be fetched)' : '')
    : `on the server · ${state.model}`;
  els.resultMeta.textContent = `${dur}${secs.toFixed(1)} s · ${model}`;
  // The generated token ids, when known (in-browser mode; one-segment server results), for tools and tests.
  const tokens = Array.isArray(result.tokens) ? result.tokens
    : segments.length === 1 && Array.isArray(segments[0].tokens) && segments[0].tokens.length ? segments[0].tokens
      : null;
  if (tokens) els.result.dataset.tokens = JSON.stringify(tokens);
  else delete els.result.dataset.tokens;
  els.result.dataset.mode = where;
  els.segments.replaceChildren(
    ...segments.map((s) => {
      const li = document.createElement('li');
      const time = document.createElement('time');
      time.textContent = `${clock(s.start)} – ${clock(s.end)}`;
      const text = document.createElement('span');
      text.className = 'seg-text';
      text.textContent = String(s.text || '').trim();
      li.append(time, text);
      return li;
    }),
  );
  els.segmentsSummary.textContent = `Segments (${segments.length})`;
  els.segmentsBox.hidden = segments.length === 0;
  els.result.hidden = false;
  els.resultText.focus();
}

/** Saves `content` as a file the browser downloads (also live.js's exports). */
export function download(content, filename, type) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

els.copy.addEventListener('click', async () => {
  const text = state.result ? state.result.text : '';
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Older browsers / insecure origins: copy through a temporary selection.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  setStatus('Text copied.');
});
els.dlTxt.addEventListener('click', () => {
  if (state.result) download(`${state.result.text}\n`, `${state.resultBase}.txt`, 'text/plain');
});
// Both modes give verbose_json made by the library, whose segments already cover text without timestamps.
els.dlSrt.addEventListener('click', () => {
  const result = state.result;
  if (!result) return;
  library().then(
    (lib) => download(lib.toSrt(result.segments), `${state.resultBase}.srt`, 'application/x-subrip'),
    (err) => showError(err.message),
  );
});
els.dlJson.addEventListener('click', () => {
  if (!state.result) return;
  download(`${JSON.stringify(state.result, null, 2)}\n`, `${state.resultBase}.json`, 'application/json');
});

// ------------------------------------------------------------------ misc

function updateButtons() {
  const job = !!state.job;
  const busy = job || state.live;
  els.transcribe.disabled = busy || !state.audio || !!state.recorder;
  els.transcribe.textContent = job ? 'Transcribing…' : 'Transcribe';
  els.cancel.hidden = !job;
  els.recordButton.disabled = busy || !microphoneSupported() || !!state.libraryProblem;
  els.dlSrt.disabled = !!state.libraryProblem;
  els.fileInput.disabled = busy || !!state.recorder;
  els.modeServer.disabled = busy;
  els.modeBrowser.disabled = busy || !state.browserEngine;
  document.documentElement.dataset.busy = String(busy);
  document.dispatchEvent(new Event('pagestate')); // live.js follows the mode and whether the page is busy
}

function init() {
  try {
    const saved = localStorage.getItem(KEY_STORAGE);
    if (saved) els.apiKey.value = saved;
  } catch {
    // storage disabled
  }
  if (!microphoneSupported()) {
    els.recordLabel.textContent = 'Recording needs a secure page (https or localhost)';
  }
  library().catch((err) => {
    state.libraryProblem = err.message;
    if (microphoneSupported()) els.recordLabel.textContent = 'Recording needs the page\'s library (npm run build)';
    els.recordButton.title = err.message;
    els.dlSrt.title = err.message;
    updateButtons();
  });
  describeModes();
  updateButtons();
  void loadHealth();
  document.documentElement.dataset.ready = 'true';
}

init();
