/** Errors raised by the hub downloader and cache (Node only). */

export type HubErrorCode =
  /** `repoId`, revision or file path is malformed. */
  | 'invalid-argument'
  /** Offline (HF_HUB_OFFLINE or `offline: true`) and the cache lacks what is needed. */
  | 'offline-not-cached'
  /** HTTP 401 / 403: private or gated repository, missing or rejected token. */
  | 'unauthorized'
  /** HTTP 404: repository, revision or file not found. */
  | 'not-found'
  /** A file the caller requires is not in the repository at that revision. */
  | 'file-not-found'
  /** The endpoint could not be reached (DNS, refused connection, reset, timeout…). */
  | 'network'
  /** Downloaded bytes do not match the size / hash announced by the hub. */
  | 'integrity'
  /** Any other unexpected HTTP status or malformed hub answer. */
  | 'http';

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly repoId?: string;
  readonly revision?: string;
  /** HTTP status, where the error came from a response. */
  readonly status?: number;
  /** Worth retrying (a dropped connection, a 5xx): the downloader retries these itself. */
  readonly retryable: boolean;

  constructor(
    code: HubErrorCode,
    message: string,
    details: { repoId?: string; revision?: string; status?: number; cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'HubError';
    this.code = code;
    this.repoId = details.repoId;
    this.revision = details.revision;
    this.status = details.status;
    this.retryable = details.retryable ?? false;
  }
}

/** True for an `AbortSignal`-triggered rejection. */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

/** A short description of a low-level network failure (`fetch failed` hides the useful part in `cause`). */
export function describeNetworkError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 4; depth++) {
    if (cur instanceof Error) {
      const code = (cur as NodeJS.ErrnoException).code;
      const msg = cur.message && cur.message !== 'fetch failed' ? cur.message : '';
      const piece = code && !msg.includes(code) ? `${msg}${msg ? ' ' : ''}(${code})` : msg;
      if (piece && !parts.includes(piece)) parts.push(piece);
      cur = (cur as { cause?: unknown }).cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.length ? parts.join(': ') : 'fetch failed';
}
