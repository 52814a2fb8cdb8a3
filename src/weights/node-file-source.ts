/**
 * Node-only file access for weights: a ranged-read `ByteSource`, a `ByteSink` for streaming
 * writers, and a folder `FileProvider`. Never import this from browser code paths; import it
 * from Node entry points (CLI, tests) or load it with a dynamic `import()` behind a Node check.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

import { ByteSourceError, checkRange, type ByteSource } from './sources';
import { SafetensorsStreamWriter, writeSafetensors, type ByteSink, type TensorSpec,
  type TensorToWrite } from './safetensors-writer';
import { SafetensorsFile, type SafetensorsOpenOptions } from './safetensors';
import { Checkpoint, type CheckpointOpenOptions, type FileProvider } from './checkpoint';

/** Largest single `FileHandle.read` we issue (Node caps one read at 2 GiB − 1). */
const MAX_IO = 1 << 30;

/** Ranged reads from a local file; keeps the handle open until `close()`. */
export class NodeFileSource implements ByteSource {
  readonly name: string;
  private handle: FileHandle | null;
  private readonly fileSize: number;

  private constructor(name: string, handle: FileHandle, size: number) {
    this.name = name;
    this.handle = handle;
    this.fileSize = size;
  }

  /** Open `filePath` for reading. */
  static async open(filePath: string, name: string = filePath): Promise<NodeFileSource> {
    let handle: FileHandle;
    try {
      handle = await fsp.open(filePath, 'r');
    } catch (e) {
      throw new ByteSourceError(name, `cannot open: ${(e as Error).message}`, { cause: e });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new ByteSourceError(name, 'not a regular file');
      return new NodeFileSource(name, handle, st.size);
    } catch (e) {
      await handle.close().catch(() => {});
      throw e instanceof ByteSourceError ? e : new ByteSourceError(name,
        `stat failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async size(): Promise<number> {
    return this.fileSize;
  }

  async read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
    const handle = this.handle;
    if (!handle) throw new ByteSourceError(this.name, 'read after close');
    checkRange(this.name, offset, length, this.fileSize);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const want = Math.min(length - done, MAX_IO);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(out, done, want, offset + done));
      } catch (e) {
        throw new ByteSourceError(this.name, `read of ${want} bytes at offset ${offset + done} failed: ` +
          `${(e as Error).message}`, { cause: e });
      }
      if (bytesRead === 0) {
        throw new ByteSourceError(
          this.name,
          `unexpected end of file at offset ${offset + done} (wanted ${length} bytes at ${offset}; the file shrank?)`,
        );
      }
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await h.close();
  }
}

/** Convenience: `NodeFileSource.open`. */
export function openNodeFileSource(filePath: string): Promise<NodeFileSource> {
  return NodeFileSource.open(filePath);
}

/** A `ByteSink` appending to a new local file (truncates an existing one). */
export class NodeFileSink implements ByteSink {
  readonly name: string;
  private handle: FileHandle | null;
  private readonly filePath: string;
  bytesWritten = 0;

  private constructor(filePath: string, handle: FileHandle) {
    this.filePath = filePath;
    this.name = filePath;
    this.handle = handle;
  }

  static async create(filePath: string): Promise<NodeFileSink> {
    const handle = await fsp.open(filePath, 'w');
    return new NodeFileSink(filePath, handle);
  }

  async write(bytes: Uint8Array): Promise<void> {
    const handle = this.handle;
    if (!handle) throw new ByteSourceError(this.name, 'write after close');
    let done = 0;
    while (done < bytes.byteLength) {
      const want = Math.min(bytes.byteLength - done, MAX_IO);
      const { bytesWritten } = await handle.write(bytes, done, want, null);
      if (bytesWritten <= 0) throw new ByteSourceError(this.name,
        `write made no progress at byte ${this.bytesWritten}`);
      done += bytesWritten;
      this.bytesWritten += bytesWritten;
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await h.close();
  }

  /** Close and delete the partial file. */
  async abort(): Promise<void> {
    await this.close().catch(() => {});
    await fsp.rm(this.filePath, { force: true });
  }
}

/**
 * A folder on the local disk as a `FileProvider`. Relative paths must stay inside the folder
 * (no absolute paths, no `..` escaping it). Opened sources are owned by the caller.
 */
export class NodeFolderProvider implements FileProvider {
  readonly name: string;
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
    this.name = this.root;
  }

  private resolve(relPath: string): string {
    if (relPath === '' || path.isAbsolute(relPath) || relPath.includes('\0')) {
      throw new ByteSourceError(this.name, `invalid relative path ${JSON.stringify(relPath)}`);
    }
    const full = path.resolve(this.root, relPath);
    const rel = path.relative(this.root, full);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new ByteSourceError(this.name, `path ${JSON.stringify(relPath)} escapes the folder`);
    }
    return full;
  }

  async exists(relPath: string): Promise<boolean> {
    try {
      const st = await fsp.stat(this.resolve(relPath));
      return st.isFile();
    } catch (e) {
      if (e instanceof ByteSourceError) throw e;
      return false;
    }
  }

  async open(relPath: string): Promise<ByteSource> {
    const full = this.resolve(relPath);
    return NodeFileSource.open(full);
  }

  async readText(relPath: string): Promise<string> {
    const full = this.resolve(relPath);
    try {
      return await fsp.readFile(full, 'utf8');
    } catch (e) {
      throw new ByteSourceError(full, `cannot read: ${(e as Error).message}`, { cause: e });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Conveniences
// ---------------------------------------------------------------------------------------------

/** Open one local safetensors file. */
export async function openSafetensorsFile(filePath: string,
  options?: SafetensorsOpenOptions): Promise<SafetensorsFile> {
  const src = await NodeFileSource.open(filePath);
  try {
    return await SafetensorsFile.open(src, options);
  } catch (e) {
    await src.close();
    throw e;
  }
}

/** Open a local checkpoint folder (single file or sharded). */
export function openCheckpointFolder(dir: string, options?: CheckpointOpenOptions): Promise<Checkpoint> {
  return Checkpoint.open(new NodeFolderProvider(dir), options);
}

/** Start streaming a safetensors file to disk; see `SafetensorsStreamWriter`. */
export async function createSafetensorsFileWriter(
  filePath: string,
  tensors: readonly TensorSpec[],
  metadata?: Record<string, string> | null,
): Promise<SafetensorsStreamWriter> {
  const sink = await NodeFileSink.create(filePath);
  try {
    return await SafetensorsStreamWriter.create(sink, tensors, metadata);
  } catch (e) {
    await sink.abort();
    throw e;
  }
}

/** Write small tensors to a file in one go. */
export async function writeSafetensorsFile(
  filePath: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string> | null,
): Promise<void> {
  await fsp.writeFile(filePath, writeSafetensors(tensors, metadata));
}
