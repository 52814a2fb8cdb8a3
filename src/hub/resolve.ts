/**
 * Turn a `--model` argument into a local folder (Node only): an existing folder as-is, or a hub
 * repo id `org/name[@revision]` resolved through the hub cache (downloading what is missing).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { isValidRepoId } from './cache';
import { downloadModel, type DownloadOptions } from './download';
import { HubError } from './errors';

export interface RepoSpec {
  repoId: string;
  /** Present when the spec had `@revision`. */
  revision?: string;
}

/**
 * `org/name` or `org/name@revision` (a branch, tag such as `v1.0` or `refs/pr/3`, or a commit hash),
 * else `undefined`. A legacy single-segment repo id is not accepted here: it would be ambiguous
 * with a folder name.
 */
export function parseRepoSpec(spec: string): RepoSpec | undefined {
  const at = spec.indexOf('@');
  const repoId = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? undefined : spec.slice(at + 1);
  if (!repoId.includes('/') || !isValidRepoId(repoId)) return undefined;
  if (revision !== undefined && revision === '') return undefined;
  return revision === undefined ? { repoId } : { repoId, revision };
}

export type ResolveOptions = Omit<DownloadOptions, 'revision'>;

/**
 * A local folder holding the model:
 * - `spec` names an existing folder → that folder (absolute);
 * - `spec` is `org/name[@revision]` → the hub cache snapshot, downloading what it lacks (the cache
 *   alone when offline; see `downloadModel`).
 * A folder wins over a repo id of the same spelling.
 */
export async function resolveModelSource(spec: string, options: ResolveOptions = {}): Promise<string> {
  const s = spec.trim();
  if (!s) throw new HubError('invalid-argument', 'empty model source: give a folder or a Hugging Face repo id (org/name)');
  try {
    const st = await fsp.stat(s);
    if (st.isDirectory()) return path.resolve(s);
    throw new HubError('invalid-argument', `model source ${s} is a file; give the folder that holds the model files`);
  } catch (e) {
    if (e instanceof HubError) throw e;
    // not on disk: maybe a repo id
  }
  const looksLikePath = /^(\.{1,2}|~)?[\\/]/.test(s) || /^[a-zA-Z]:[\\/]/.test(s) || s.startsWith('.');
  const repo = looksLikePath ? undefined : parseRepoSpec(s);
  if (!repo) {
    throw new HubError(
      'invalid-argument',
      `model source "${s}" is neither an existing folder nor a Hugging Face repo id (org/name or org/name@revision)`,
    );
  }
  return downloadModel(repo.repoId, { ...options, revision: repo.revision });
}
