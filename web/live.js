// Live mode: microphone → AudioWorklet → PCM blocks of about 0.1 s → one of two backends, by the page's
// "Run the model" choice:
// - on the server: its realtime WebSocket (`GET v1/realtime?intent=transcription`, the OpenAI Realtime
//   protocol; 16-bit PCM at 16 kHz, base64; a short-lived client secret from `POST v1/realtime/client_secrets`
//   as the `openai-insecure-api-key.<secret>` subprotocol when the page has an API key);
// - in this browser: a live session of the engine in its Web Worker (`EngineWorker.live`, i.e. `GlmAsr.live`).
// Both give the same events (the library's LiveEvent shapes): the utterance in progress shows in grey and is
// replaced as it changes; each final is appended with its times. The finals export as .txt, .srt and .vtt
// with the library's formatters.

import { download, pageState, setLiveBusy } from './app.js';
import { MicRecorder, microphoneSupported, TARGET_RATE } from './audio.js';
import { clock } from './format.js';
import { library } from './library.js';
import { messages } from './messages.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const els = {
  start: /** @type {HTMLButtonElement} */ ($('live-start')),
  stop: /** @type {HTMLButtonElement} */ ($('live-stop')),
  time: $('live-time'),
  level: /** @type {HTMLMeterElement} */ ($('live-level')),
  status: $('live-status'),
  error: $('live-error'),
  lines: $('live-lines'),
  txt: /** @type {HTMLButtonElement} */ ($('live-txt')),
  srt: /** @type {HTMLButtonElement} */ ($('live-srt')),
  vtt: /** @type {HTMLButtonElement} */ ($('live-vtt')),
};
const { setStatus, showError, hideError } = messages(els);

/** How long Stop waits for the last utterance's text. */
const STOP_WAIT_MS = 60_000;

const state = {
  /** @type {null | { push(pcm: Float32Array, rate: number): void, stop(): Promise<void>, abort(): void }} */
  backend: null,
  /** @type {MicRecorder | null} */
  mic: null,
  timer: 0,
  starting: false,
  stopping: false,
  /** Finals, by utterance number: `{ start, end, text }` (the library's Segment shape). */
  finals: new Map(),
  /** Utterance number → its line. */
  items: new Map(),
};

// ------------------------------------------------------------------ the transcript

function line(item) {
  let li = state.items.get(item);
  if (!li) {
    li = document.createElement('li');
    li.dataset.item = String(item);
    const time = document.createElement('time');
    const text = document.createElement('span');
    text.className = 'seg-text';
    li.append(time, text);
    li.className = 'partial';
    state.items.set(item, li);
    els.lines.append(li);
  }
  return li;
}

/** One backend event (a LiveEvent shape) onto the page. */
function show(e) {
  if (e.type === 'partial') {
    const li = line(e.item);
    if (li.className === 'partial') li.lastElementChild.textContent = e.text;
  } else if (e.type === 'speech-started') {
    line(e.item);
  } else if (e.type === 'final') {
    const li = line(e.item);
    const text = String(e.segment.text || '').trim();
    state.finals.set(e.item, { start: e.segment.start, end: e.segment.end, text });
    li.className = 'final';
    li.firstElementChild.textContent = `${clock(e.segment.start)} – ${clock(e.segment.end)}`;
    li.lastElementChild.textContent = text;
    if (!text) li.hidden = true; // an utterance with no words (a cough) leaves no empty line
    updateButtons();
  }
}

function segments() {
  return [...state.finals.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s).filter((s) => s.text);
}

function clearTranscript() {
  state.finals.clear();
  state.items.clear();
  els.lines.replaceChildren();
}

// ------------------------------------------------------------------ backends

/** Float32 [-1, 1] → base64 of 16-bit little-endian PCM (the Realtime protocol's audio). */
function pcm16Base64(block) {
  const bytes = new Uint8Array(block.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < block.length; i++) {
    const v = Math.max(-1, Math.min(1, block[i]));
    view.setInt16(2 * i, v < 0 ? v * 0x8000 : v * 0x7fff, true);
  }
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function closeReason(e) {
  return `${e.code}${e.reason ? `: ${e.reason}` : ''}`;
}

/** A client secret for the WebSocket (browsers cannot send an Authorization header with one). */
async function clientSecret(key, model) {
  const res = await fetch('v1/realtime/client_secrets', {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ session: { type: 'transcription', audio: { input: { transcription: { model } } } } }),
  });
  const body = await res.json().catch(() => null);
  if (!res.ok || !body || typeof body.value !== 'string') {
    const why = body && body.error && body.error.message ? body.error.message : `HTTP ${res.status}`;
    throw new Error(`The server gave no client secret for live mode: ${why}`);
  }
  return body.value;
}

/**
 * The server's realtime WebSocket as a backend. Realtime events become LiveEvents: items (string ids) are
 * numbered in order, deltas (append-only) build the partial text, `completed` is the final with the
 * utterance's times from speech_started / speech_stopped (or the audio sent so far, for manual commits).
 */
async function serverBackend({ apiKey, model }, onEvent, onError) {
  const { getResampler } = await library();
  const protocols = ['realtime'];
  if (apiKey) protocols.push(`openai-insecure-api-key.${await clientSecret(apiKey, model)}`);
  const url = new URL('v1/realtime?intent=transcription', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, protocols);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('The server\'s live endpoint (v1/realtime) could not be reached.'));
    ws.onclose = (e) => reject(new Error(`The server closed the live connection (${closeReason(e)}).`));
  });
  ws.send(JSON.stringify({
    type: 'session.update',
    session: {
      type: 'transcription',
      audio: { input: { format: { type: 'audio/pcm', rate: TARGET_RATE }, transcription: { model },
        turn_detection: { type: 'server_vad' } } },
    },
  }));

  const numbers = new Map();
  const texts = new Map();
  const spans = new Map();
  const open = new Set(); // items committed whose text has not come yet
  const speaking = new Set(); // items whose speech started and that are not committed yet
  let sentSamples = 0;
  let ended = false;
  /** Stop's commit has not been answered yet (committed, or an error for an empty buffer). */
  let awaitingCommit = false;
  /** @type {null | (() => void)} */
  let settle = null;
  const check = () => {
    if (ended && !awaitingCommit && open.size === 0) settle?.();
  };
  const number = (id) => {
    if (!numbers.has(id)) numbers.set(id, numbers.size);
    return numbers.get(id);
  };
  ws.onmessage = (msg) => {
    let e;
    try {
      e = JSON.parse(msg.data);
    } catch {
      return;
    }
    const id = e.item_id;
    if (e.type === 'input_audio_buffer.speech_started') {
      speaking.add(id);
      spans.set(id, { start: e.audio_start_ms / 1000 });
      onEvent({ type: 'speech-started', item: number(id), audioStartMs: e.audio_start_ms });
    } else if (e.type === 'input_audio_buffer.speech_stopped') {
      spans.set(id, { ...spans.get(id), end: e.audio_end_ms / 1000 });
      onEvent({ type: 'speech-stopped', item: number(id), audioEndMs: e.audio_end_ms });
    } else if (e.type === 'input_audio_buffer.committed') {
      open.add(id);
      speaking.delete(id);
      if (ended) awaitingCommit = false;
      const span = spans.get(id) || {};
      const now = sentSamples / TARGET_RATE;
      spans.set(id, { start: span.start ?? now, end: span.end ?? now });
      onEvent({ type: 'committed', item: number(id), ...spans.get(id) });
    } else if (e.type === 'conversation.item.input_audio_transcription.delta') {
      texts.set(id, (texts.get(id) || '') + (e.delta || ''));
      onEvent({ type: 'partial', item: number(id), text: texts.get(id) });
    } else if (e.type === 'conversation.item.input_audio_transcription.completed') {
      open.delete(id);
      const span = spans.get(id) || { start: 0, end: sentSamples / TARGET_RATE };
      onEvent({ type: 'final', item: number(id), segment: { start: span.start, end: span.end ?? span.start,
        text: e.transcript || '' } });
      check();
    } else if (e.type === 'error') {
      const err = e.error || {};
      // Stop commits whatever is left; with nothing left the server says the buffer is empty, which is fine.
      if (ended && /empty/i.test(`${err.code} ${err.message}`)) {
        awaitingCommit = false;
        check();
      } else onError(new Error(err.message || 'The server reported an error.'));
    }
  };
  ws.onclose = (e) => {
    settle?.();
    if (!ended) onError(new Error(`The live connection closed (${closeReason(e)}).`));
  };

  const resampler = { rate: 0, stream: null };
  return {
    push(block, rate) {
      if (ws.readyState !== WebSocket.OPEN) return;
      let pcm = block;
      if (rate !== TARGET_RATE) {
        // The browser could not capture at 16 kHz: one resampler stream for the whole session (no seams).
        if (resampler.rate !== rate) resampler.stream = getResampler(rate, TARGET_RATE).stream();
        resampler.rate = rate;
        pcm = resampler.stream.push(block);
      }
      if (pcm.length === 0) return;
      sentSamples += pcm.length;
      ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: pcm16Base64(pcm) }));
    },
    async stop() {
      ended = true;
      if (ws.readyState === WebSocket.OPEN) {
        const done = new Promise((resolve) => (settle = resolve));
        // Commit only an utterance in progress: with server_vad, a commit over silence ends nothing and is not
        // answered; what the VAD committed already is in `open`.
        if (speaking.size > 0) {
          awaitingCommit = true;
          ws.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
        }
        check();
        const timer = setTimeout(() => settle?.(), STOP_WAIT_MS);
        await done;
        clearTimeout(timer);
      }
      ws.close(1000);
    },
    abort() {
      ended = true;
      ws.close(1000);
    },
  };
}

/** A live session of the in-browser engine (in its worker) as a backend. */
async function browserBackend(engine, onEvent, onError, rate, signal) {
  const session = await engine.live({ sampleRate: rate }, { signal });
  void (async () => {
    try {
      for await (const e of session) onEvent(e);
    } catch (err) {
      onError(err);
    }
  })();
  return {
    push: (block) => session.push(block),
    stop: () => session.close(),
    abort: () => session.abort(),
  };
}

// ------------------------------------------------------------------ start / stop

async function start() {
  if (state.backend || state.starting) return;
  hideError();
  const page = pageState();
  state.starting = true;
  updateButtons();
  setLiveBusy(true);
  clearTranscript();
  /** @type {Float32Array[]} blocks captured while the backend connects */
  const early = [];
  let rate = TARGET_RATE;
  const mic = new MicRecorder({
    blockFrames: 1600,
    onLevel: (v) => (els.level.value = v),
    onPcm: (block, r) => {
      rate = r;
      if (state.backend) state.backend.push(block, r);
      else early.push(block);
    },
  });
  const onError = (err) => {
    showError(err && err.message ? err.message : String(err));
    void stop(true);
  };
  try {
    await mic.start();
    state.mic = mic;
    rate = mic.ctx.sampleRate;
    setStatus(page.mode === 'browser' ? 'Starting the model in this browser…' : 'Connecting to the server…');
    state.backend = page.mode === 'browser'
      ? await browserBackend(page.browserEngine, show, onError, rate, undefined)
      : await serverBackend(page, show, onError);
    for (const b of early.splice(0)) state.backend.push(b, rate);
  } catch (err) {
    mic.cancel();
    state.mic = null;
    state.backend = null;
    state.starting = false;
    setLiveBusy(false);
    updateButtons();
    setStatus('');
    const denied = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
    showError(denied ? 'Microphone access was refused. Allow it in the browser for live mode.'
      : err && err.message ? err.message : String(err));
    return;
  }
  state.starting = false;
  const t0 = performance.now();
  state.timer = window.setInterval(() => {
    els.time.textContent = clock((performance.now() - t0) / 1000, 0);
  }, 250);
  setStatus(`Listening (${page.mode === 'browser' ? 'in this browser' : 'on the server'})… speak now.`);
  document.documentElement.dataset.live = 'on';
  updateButtons();
}

/** Stops the microphone, then waits for the last utterance's text (`failed`: drop it). */
async function stop(failed = false) {
  const backend = state.backend;
  if (!backend || state.stopping) return;
  state.stopping = true;
  updateButtons();
  window.clearInterval(state.timer);
  setStatus('Finishing the last sentence…');
  try {
    await state.mic?.finish();
    if (failed) backend.abort();
    else await backend.stop();
    if (!failed) setStatus(`Stopped. ${segments().length} line${segments().length === 1 ? '' : 's'}.`);
  } catch (err) {
    showError(err && err.message ? err.message : String(err));
  } finally {
    if (failed) setStatus('Stopped.');
    state.mic = null;
    state.backend = null;
    state.stopping = false;
    els.level.value = 0;
    for (const [item, li] of state.items) if (!state.finals.has(item)) li.remove(); // partials without a final
    document.documentElement.dataset.live = 'off';
    setLiveBusy(false);
    updateButtons();
  }
}

// ------------------------------------------------------------------ exports and misc

function exportAs(ext) {
  const segs = segments();
  const name = `live-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}.${ext}`;
  if (ext === 'txt') {
    download(`${segs.map((s) => s.text).join('\n')}\n`, name, 'text/plain');
    return;
  }
  library().then(
    (lib) => ext === 'srt'
      ? download(lib.toSrt(segs), name, 'application/x-subrip')
      : download(lib.toVtt(segs), name, 'text/vtt'),
    (err) => showError(err.message),
  );
}

function updateButtons() {
  const page = pageState();
  const running = !!state.backend || state.starting;
  const why = !microphoneSupported() ? 'Live mode needs a microphone on a secure page (https or localhost).'
    : page.libraryProblem ? page.libraryProblem : '';
  els.start.disabled = running || page.busy || !!why;
  els.start.title = why;
  els.stop.disabled = !state.backend || state.stopping;
  const none = segments().length === 0 || running;
  els.txt.disabled = none;
  els.srt.disabled = none || !!page.libraryProblem;
  els.vtt.disabled = none || !!page.libraryProblem;
}

els.start.addEventListener('click', () => void start());
els.stop.addEventListener('click', () => void stop());
els.txt.addEventListener('click', () => exportAs('txt'));
els.srt.addEventListener('click', () => exportAs('srt'));
els.vtt.addEventListener('click', () => exportAs('vtt'));
document.addEventListener('pagestate', () => {
  if (!state.backend && !state.starting) updateButtons();
});
updateButtons();
