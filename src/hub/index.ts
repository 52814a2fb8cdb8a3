/**
 * Hugging Face hub downloads into the shared hub cache (Node only: uses node:fs / node:crypto).
 * Import from Node entry points (CLI) only, never from browser code paths. See docs/hub.md.
 */
export {
  DEFAULT_MODEL_FILES,
  blobFile,
  incompleteFile,
  inspectCachedSnapshot,
  isCommitHash,
  isValidRepoId,
  linkBlobIntoSnapshot,
  parseFileSpec,
  readRef,
  refFile,
  repoCacheDir,
  repoFolderName,
  resolveCachedSnapshot,
  snapshotDir,
  writeRef,
  type CacheLookupOptions,
  type FileSpec,
  type SnapshotCheckMode,
  type SnapshotInspection,
} from './cache';
export { downloadModel, type DownloadOptions, type DownloadProgress } from './download';
export {
  DEFAULT_ENDPOINT,
  hfHomeDir,
  hubCacheDir,
  hubEndpoint,
  hubOffline,
  hubSettings,
  hubTokenPath,
  readHubToken,
  type HubSettings,
  type HubToken,
} from './env';
export { HubError, type HubErrorCode } from './errors';
export { parseRepoSpec, resolveModelSource, type RepoSpec, type ResolveOptions } from './resolve';
