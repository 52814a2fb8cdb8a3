/**
 * The huggingface_hub cache layout (Node only), shared with Python's `huggingface_hub`, so a cache
 * filled by either side is used by the other as-is:
 *
 * ```
 * $HF_HUB_CACHE/                         (default $HF_HOME/hub, default ~/.cache/huggingface/hub)
 *   models--{org}--{name}/
 *     blobs/{sha256 | git-oid}           file contents, named by the hub's ETag (sha256 for LFS files)
 *     blobs/{id}.incomplete              a download in progress (resumable)
 *     snapshots/{commit}/{path}          relative symlinks to ../../blobs/{id} (copies where symlinks fail)
 *     refs/{revision}                    the commit hash a branch / tag name pointed to when last resolved
 *     .no_exist/{commit}/{path}          empty marker: this file is known to be absent at that commit
 *   .locks/models--{org}--{name}/{id}.glm-asr.lock   this library's per-blob download lock
 * ```
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { hubCacheDir } from './env';
import { HubError } from './errors';

// ---------------------------------------------------------------------------------------------
// Names and validation
// ---------------------------------------------------------------------------------------------

/** A full 40-hex-digit git commit hash. */
export function isCommitHash(s: string): boolean {
  return /^[0-9a-f]{40}$/.test(s);
}

const REPO_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;

/** `org/name` (or a legacy single-segment `name`) with the characters the hub allows. */
export function isValidRepoId(repoId: string): boolean {
  const parts = repoId.split('/');
  if (parts.length < 1 || parts.length > 2) return false;
  return parts.every((p) => p.length <= 96 && REPO_PART.test(p) && !p.includes('--') && !p.includes('..'));
}

export function assertRepoId(repoId: string): void {
  if (!isValidRepoId(repoId)) {
    throw new HubError('invalid-argument', `invalid Hugging Face repo id "${repoId}" (expected ` +
      `"org/name")`, { repoId });
  }
}

/** Relative, `/`-separated, inside the folder: no absolute paths, `..`, `.`, empty segments or backslashes. */
export function isSafeRelPath(p: string): boolean {
  if (p === '' || p.includes('\0') || p.includes('\\') || p.startsWith('/') || /^[a-zA-Z]:/.test(p)) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Branch, tag (`v1.0`, `refs/pr/1`) or commit: used as a path under `refs/`, so it must stay inside it. */
export function assertRevision(revision: string, repoId?: string): void {
  if (!isSafeRelPath(revision) || /[\s~^:?*[]/.test(revision)) {
    throw new HubError('invalid-argument', `invalid revision "${revision}"`, { repoId, revision });
  }
}

/** `models--{org}--{name}`, the per-repo folder name huggingface_hub uses. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

export function repoCacheDir(repoId: string, cacheDir: string = hubCacheDir()): string {
  return path.join(cacheDir, repoFolderName(repoId));
}

const nativeRel = (rel: string): string => rel.split('/').join(path.sep);

export function snapshotDir(repoDir: string, commit: string): string {
  return path.join(repoDir, 'snapshots', commit);
}
export function blobFile(repoDir: string, blobId: string): string {
  return path.join(repoDir, 'blobs', blobId);
}
export function incompleteFile(repoDir: string, blobId: string): string {
  return path.join(repoDir, 'blobs', `${blobId}.incomplete`);
}
export function refFile(repoDir: string, revision: string): string {
  return path.join(repoDir, 'refs', nativeRel(revision));
}
export function noExistFile(repoDir: string, commit: string, relPath: string): string {
  return path.join(repoDir, '.no_exist', commit, nativeRel(relPath));
}
/** This library's lock for one blob; deliberately not the name Python's filelock uses (see docs/hub.md). */
export function blobLockFile(repoDir: string, blobId: string): string {
  return path.join(path.dirname(repoDir), '.locks', path.basename(repoDir), `${blobId}.glm-asr.lock`);
}

/** A blob name must be a plain file name (it comes from the hub's ETag / metadata). */
export function isSafeBlobId(id: string): boolean {
  return /^[A-Za-z0-9._-]{1,128}$/.test(id) && id !== '.' && id !== '..' && !id.endsWith('.incomplete');
}

// ---------------------------------------------------------------------------------------------
// File selections
// ---------------------------------------------------------------------------------------------

/**
 * One entry of a file selection: `"a.json"` (required), `"a.json?"` (optional: skipped when the
 * repo does not have it), `"x|y"` (the first of these the repo has). An entry naming a
 * `*.safetensors.index.json` also brings every shard its `weight_map` lists.
 */
export interface FileSpec {
  alternatives: string[];
  optional: boolean;
  text: string;
}

export function parseFileSpec(entry: string): FileSpec {
  let s = entry.trim();
  const optional = s.endsWith('?');
  if (optional) s = s.slice(0, -1);
  const alternatives = s.split('|').map((a) => a.trim().replace(/^\.\//, ''));
  for (const a of alternatives) {
    if (!isSafeRelPath(a)) throw new HubError('invalid-argument',
      `invalid file path "${a}" in file selection "${entry}"`);
  }
  return { alternatives, optional, text: entry };
}

/**
 * What the engine reads from a GLM-ASR checkpoint folder: `config.json`, `tokenizer.json` and the
 * weights (a sharded index + shards, or one `model.safetensors`) are required; the rest is used
 * when the repo has it.
 */
export const DEFAULT_MODEL_FILES: readonly string[] = Object.freeze([
  'config.json',
  'generation_config.json?',
  'processor_config.json?',
  'preprocessor_config.json?',
  'tokenizer.json',
  'tokenizer_config.json?',
  'chat_template.jinja?',
  'model.safetensors.index.json|model.safetensors',
]);

export function isSafetensorsIndex(relPath: string): boolean {
  return relPath.endsWith('.safetensors.index.json');
}

/** Shard paths (relative to the repo root, deduplicated, in first-seen order) of a safetensors index. */
export function shardsOfIndex(indexRelPath: string, jsonText: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch (e) {
    throw new HubError('http', `${indexRelPath}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new HubError('http', `${indexRelPath}: no "weight_map" object`);
  }
  const dir = path.posix.dirname(indexRelPath);
  const out = new Set<string>();
  for (const v of Object.values(map)) {
    if (typeof v !== 'string') throw new HubError('http', `${indexRelPath}: weight_map values must be file names`);
    const rel = dir === '.' ? v : `${dir}/${v}`;
    if (!isSafeRelPath(rel)) throw new HubError('http', `${indexRelPath}: unsafe shard path "${v}"`);
    out.add(rel);
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// Refs, markers, links
// ---------------------------------------------------------------------------------------------

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

/** A regular file (following symlinks: a dangling snapshot link does not count). */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

const tmpSuffix = (): string => `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

/** Write a file atomically (temp file + rename). */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = file + tmpSuffix();
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

/** The commit `refs/{revision}` points to, if the ref exists and holds a commit hash. */
export async function readRef(repoDir: string, revision: string): Promise<string | undefined> {
  try {
    const s = (await fsp.readFile(refFile(repoDir, revision), 'utf8')).trim();
    return isCommitHash(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Record that `revision` resolved to `commit` (not written when the revision is the commit itself). */
export async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  if ((await readRef(repoDir, revision)) === commit) return;
  await writeFileAtomic(refFile(repoDir, revision), commit);
}

/** The commit a revision maps to in the cache: the commit itself if its snapshot exists, else `refs/{revision}`. */
export async function resolveCachedCommit(repoDir: string, revision: string): Promise<string | undefined> {
  if (isCommitHash(revision)) return (await exists(snapshotDir(repoDir, revision))) ? revision : undefined;
  return readRef(repoDir, revision);
}

/** Mark `relPath` as absent from the repo at `commit` (huggingface_hub's `.no_exist` convention). */
export async function markNoExist(repoDir: string, commit: string, relPath: string): Promise<void> {
  const f = noExistFile(repoDir, commit, relPath);
  if (await exists(f)) return;
  await fsp.mkdir(path.dirname(f), { recursive: true });
  await fsp.writeFile(f, '');
}

export interface LinkOptions {
  /** Try a relative symlink first (default true); copies are the fallback either way. */
  symlinks?: boolean;
}

/**
 * Expose `blobs/{blobId}` as `snapshots/{commit}/{relPath}`: a relative symlink like Python's
 * (`../../blobs/{id}`, one more `../` per sub-folder), or a copy where symlinks are not allowed.
 * Replaces whatever was there, atomically.
 */
export async function linkBlobIntoSnapshot(
  repoDir: string,
  commit: string,
  relPath: string,
  blobId: string,
  opts: LinkOptions = {},
): Promise<'symlink' | 'copy'> {
  const dst = path.join(snapshotDir(repoDir, commit), nativeRel(relPath));
  const blob = blobFile(repoDir, blobId);
  await fsp.mkdir(path.dirname(dst), { recursive: true });
  if (opts.symlinks !== false) {
    const tmp = dst + tmpSuffix();
    try {
      await fsp.symlink(path.relative(path.dirname(dst), blob), tmp);
      await fsp.rename(tmp, dst);
      return 'symlink';
    } catch {
      await fsp.rm(tmp, { force: true }).catch(() => {});
    }
  }
  const tmp = dst + tmpSuffix();
  try {
    await fsp.copyFile(blob, tmp);
    await fsp.rename(tmp, dst);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  return 'copy';
}

// ---------------------------------------------------------------------------------------------
// Snapshot inspection
// ---------------------------------------------------------------------------------------------

/**
 * `strict`: every entry is settled — required files present, optional ones present or marked
 * absent under `.no_exist` (what a downloader that already talked to the hub leaves behind).
 * `lenient`: required files present; optional ones may simply be missing (offline use, and caches
 * filled by tools that never mark absent files).
 */
export type SnapshotCheckMode = 'strict' | 'lenient';

export interface SnapshotInspection {
  repoDir: string;
  /** The commit the revision maps to in the cache, if any. */
  commit?: string;
  /** `snapshots/{commit}`, when `commit` is known. */
  dir?: string;
  complete: boolean;
  /** What is missing, for messages (`refs/main`, `tokenizer.json`, `model-00002-of-00002.safetensors`…). */
  missing: string[];
  /** Files of the selection present in the snapshot (shards included). */
  present: string[];
}

export interface CacheLookupOptions {
  /** The hub cache folder (default: `$HF_HUB_CACHE` etc.). */
  cacheDir?: string;
  /** File selection (default `DEFAULT_MODEL_FILES`). */
  files?: readonly string[];
  mode?: SnapshotCheckMode;
}

type FileState = 'present' | 'no-exist' | 'absent';

async function fileState(repoDir: string, commit: string, rel: string): Promise<FileState> {
  if (await isFile(path.join(snapshotDir(repoDir, commit), nativeRel(rel)))) return 'present';
  if (await exists(noExistFile(repoDir, commit, rel))) return 'no-exist';
  return 'absent';
}

/** Check the cached snapshot of (repo, revision) against a file selection; reads only the disk. */
export async function inspectCachedSnapshot(
  repoId: string,
  revision: string = 'main',
  opts: CacheLookupOptions = {},
): Promise<SnapshotInspection> {
  assertRepoId(repoId);
  assertRevision(revision, repoId);
  const repoDir = repoCacheDir(repoId, opts.cacheDir ?? hubCacheDir());
  const mode = opts.mode ?? 'lenient';
  const specs = (opts.files ?? DEFAULT_MODEL_FILES).map(parseFileSpec);
  const commit = await resolveCachedCommit(repoDir, revision);
  if (!commit) {
    const what = isCommitHash(revision) ? `snapshots/${revision}` : `refs/${revision}`;
    return { repoDir, complete: false, missing: [what], present: [] };
  }
  const dir = snapshotDir(repoDir, commit);
  const missing: string[] = [];
  const present: string[] = [];
  for (const spec of specs) {
    const states: FileState[] = [];
    for (const alt of spec.alternatives) states.push(await fileState(repoDir, commit, alt));
    const hit = states.indexOf('present');
    if (hit >= 0) {
      const rel = spec.alternatives[hit];
      present.push(rel);
      if (isSafetensorsIndex(rel)) {
        let shards: string[];
        try {
          shards = shardsOfIndex(rel, await fsp.readFile(path.join(dir, nativeRel(rel)), 'utf8'));
        } catch {
          missing.push(`${rel} (unreadable)`);
          continue;
        }
        for (const s of shards) {
          if ((await fileState(repoDir, commit, s)) === 'present') present.push(s);
          else missing.push(s);
        }
      }
      continue;
    }
    const settled = spec.optional && (mode === 'lenient' || states.every((s) => s === 'no-exist'));
    if (!settled) missing.push(spec.alternatives.join(' or '));
  }
  return { repoDir, commit, dir, complete: missing.length === 0, missing, present };
}

/**
 * The snapshot folder of (repo, revision) if the cache holds the selected files (see
 * `SnapshotCheckMode`; default `lenient`), else `undefined`. Never touches the network.
 */
export async function resolveCachedSnapshot(
  repoId: string,
  revision: string = 'main',
  opts: CacheLookupOptions = {},
): Promise<string | undefined> {
  const r = await inspectCachedSnapshot(repoId, revision, opts);
  return r.complete ? r.dir : undefined;
}
