// Decodes HEIC/HEIF (HEVC) uploads, which the prebuilt libvips inside sharp cannot: its
// libheif has no HEVC decoder (patents). libheif-js, libheif and libde265 compiled to
// WebAssembly, installs from the registry with no native download; it is LGPL-3.0
// (README.md, "Licences").
//
// Each decode runs in a thread of its own (heif-worker.ts): a 12-megapixel iPhone photo
// takes over a second of CPU, which must not stop the event loop, and the thread's
// WebAssembly heap, which only ever grows, is freed when the thread ends after that one
// decode. So the decoders alive are the HEIC renders in flight, bounded like every render
// by the upload slots and the decode memory budget, and an idle server holds none. The
// wasm is compiled once per process and shared with each thread.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Dimensions } from '../storage/store.js';

/** What a decode thread is given (besides the compiled module). */
export interface HeifJob {
  readonly bytes: Uint8Array;
  /** The upright size the header promised; the thread refuses to decode anything else. */
  readonly width: number;
  readonly height: number;
  /** What to shrink it to (render-photo.ts's master). */
  readonly master: Dimensions;
}

export type HeifReply = { readonly data: Uint8Array; readonly width: number; readonly height: number; readonly heapBytes: number } | { readonly error: string };

/** Upright, flattened sRGB pixels at the master's size, 3 bytes each. */
export interface HeifPixels {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  /** The size the decoder's WebAssembly heap reached (measured; docs/performance.md). */
  readonly heapBytes: number;
}

/** libheif could not decode the file; `reason` is its message, fit for logs. */
export class HeifDecodeError extends Error {}

const SCRIPT = new URL('./heif-worker.js', import.meta.url);
// A 12-megapixel iPhone photo decodes in about 1.3 s on one core of the reference machine; a
// file within the limits that takes many times that is hostile or broken.
const DEFAULT_TIMEOUT_MS = 30_000;

// Not in the lib this project compiles against (ES2023 without DOM); what is used of it here.
declare const WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> };
type WasmModule = object;

let compiled: Promise<WasmModule> | undefined;

function wasmModule(): Promise<WasmModule> {
  compiled ??= (async () => {
    const require = createRequire(import.meta.url);
    const path = require.resolve('libheif-js/libheif-wasm/libheif.wasm');
    return WebAssembly.compile(readFileSync(path));
  })();
  return compiled;
}

/** The primary image of a HEIF, upright (irot/imir applied by libheif) and shrunk to `master`, in a thread that ends with the decode. */
export async function decodeHeif(job: HeifJob, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<HeifPixels> {
  const module = await wasmModule();
  const worker = new Worker(SCRIPT, { workerData: { ...job, module } });
  try {
    const reply = await new Promise<HeifReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new HeifDecodeError(`decoding took longer than ${timeoutMs / 1000} s`)), timeoutMs);
      worker.once('message', (message: HeifReply) => {
        clearTimeout(timer);
        resolve(message);
      });
      worker.once('error', (error) => {
        clearTimeout(timer);
        reject(new HeifDecodeError(error.message));
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        reject(new HeifDecodeError(`the decode thread stopped (exit code ${code})`));
      });
    });
    if ('error' in reply) throw new HeifDecodeError(reply.error);
    const { data, width, height, heapBytes } = reply;
    return { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), width, height, heapBytes };
  } finally {
    await worker.terminate();
  }
}
