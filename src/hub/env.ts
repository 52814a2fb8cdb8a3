/**
 * Settings read from the environment, following the huggingface_hub conventions (Node only).
 * Everything is read at call time (not at import), so tests and long-lived processes can change
 * `process.env` between calls.
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type Env = Record<string, string | undefined>;

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** huggingface_hub's boolean env convention: 1 / ON / YES / TRUE, any case. */
export function isTruthyEnv(value: string | undefined): boolean {
  return value !== undefined && ['1', 'on', 'yes', 'true'].includes(value.trim().toLowerCase());
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/') || p.startsWith('~\\')) return path.join(os.homedir(), p.slice(2));
  return p;
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHomeDir(env: Env = process.env): string {
  const home = nonEmpty(env.HF_HOME);
  if (home) return path.resolve(expandHome(home));
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  if (xdg) return path.resolve(expandHome(xdg), 'huggingface');
  return path.join(os.homedir(), '.cache', 'huggingface');
}

/** `$HF_HUB_CACHE` (or the legacy `$HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`. */
export function hubCacheDir(env: Env = process.env): string {
  const dir = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  if (dir) return path.resolve(expandHome(dir));
  return path.join(hfHomeDir(env), 'hub');
}

/** `$HF_ENDPOINT` without a trailing slash, else https://huggingface.co. */
export function hubEndpoint(env: Env = process.env): string {
  return (nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`, which huggingface_hub also honours) is truthy. */
export function hubOffline(env: Env = process.env): boolean {
  return isTruthyEnv(env.HF_HUB_OFFLINE) || isTruthyEnv(env.TRANSFORMERS_OFFLINE);
}

/** Where `huggingface-cli login` / `hf auth login` saves the token: `$HF_TOKEN_PATH`, else `$HF_HOME/token`. */
export function hubTokenPath(env: Env = process.env): string {
  const p = nonEmpty(env.HF_TOKEN_PATH);
  return p ? path.resolve(expandHome(p)) : path.join(hfHomeDir(env), 'token');
}

export interface HubToken {
  token: string;
  /**
   * Where it came from, for error messages: `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, the token file path, or
   * `options.token`.
   */
  source: string;
}

/**
 * The access token, in huggingface_hub's order: `$HF_TOKEN`, the legacy `$HUGGING_FACE_HUB_TOKEN`,
 * then the token file. (`HF_HUB_TOKEN` is not a huggingface_hub variable and is not read.)
 */
export function readHubToken(env: Env = process.env): HubToken | undefined {
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const v = nonEmpty(env[name]);
    if (v) return { token: v, source: name };
  }
  const file = hubTokenPath(env);
  try {
    const t = readFileSync(file, 'utf8').trim();
    if (t) return { token: t, source: file };
  } catch {
    // no token file: anonymous access
  }
  return undefined;
}

function seconds(v: string | undefined, def: number): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : def;
}

/**
 * Idle timeouts in ms: metadata requests use `$HF_HUB_ETAG_TIMEOUT`, file transfers
 * `$HF_HUB_DOWNLOAD_TIMEOUT` (seconds, default 10 each, as in huggingface_hub). For a transfer the
 * clock restarts with every chunk received, so it bounds a stall, not the whole download.
 */
export function hubTimeouts(env: Env = process.env): { metadataMs: number; downloadMs: number } {
  return { metadataMs: seconds(env.HF_HUB_ETAG_TIMEOUT, 10) * 1000,
    downloadMs: seconds(env.HF_HUB_DOWNLOAD_TIMEOUT, 10) * 1000 };
}

/** Everything the downloader needs, resolved once per call. */
export interface HubSettings {
  endpoint: string;
  cacheDir: string;
  token?: HubToken;
  offline: boolean;
  /** `'env'` when offline mode came from HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE, for error messages. */
  offlineSource?: 'env' | 'option';
  /** Idle timeouts, see `hubTimeouts`. */
  metadataTimeoutMs: number;
  downloadTimeoutMs: number;
}

export interface HubSettingsOverrides {
  endpoint?: string;
  cacheDir?: string;
  /** A token to use instead of the environment's; `false` sends none. */
  token?: string | false;
  offline?: boolean;
  /** Idle timeout for every request, overriding HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT. */
  timeoutMs?: number;
}

export function hubSettings(o: HubSettingsOverrides = {}, env: Env = process.env): HubSettings {
  const envOffline = hubOffline(env);
  const offline = o.offline ?? envOffline;
  let token: HubToken | undefined;
  if (o.token === false) token = undefined;
  else if (typeof o.token === 'string' && o.token.trim()) token = { token: o.token.trim(), source: 'options.token' };
  else token = readHubToken(env);
  return {
    endpoint: o.endpoint ? o.endpoint.replace(/\/+$/, '') : hubEndpoint(env),
    cacheDir: o.cacheDir ? path.resolve(expandHome(o.cacheDir)) : hubCacheDir(env),
    token,
    offline,
    offlineSource: offline ? (o.offline === true ? 'option' : 'env') : undefined,
    metadataTimeoutMs: o.timeoutMs ?? hubTimeouts(env).metadataMs,
    downloadTimeoutMs: o.timeoutMs ?? hubTimeouts(env).downloadMs,
  };
}
