/**
 * Browser-safe weight I/O: byte sources, safetensors reader/writer, checkpoints, dtype and half helpers.
 * Node file access is in `./node-file-source` (import it only from Node entry points).
 */
export * from './dtype';
export * from './half';
export * from './sources';
export * from './safetensors';
export * from './safetensors-writer';
export * from './checkpoint';
