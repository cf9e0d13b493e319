// The body of a HEIC decode thread (imaging/heif-decoder.ts): libheif compiled to
// WebAssembly (the libheif-js package, LGPL-3.0; libde265 inside decodes HEVC) decodes
// one file's primary image to interleaved 8-bit RGB(A) in its heap; sharp shrinks it to
// the master's size straight from there (no copy of the whole frame is ever made),
// flattened onto white and sRGB as render-photo.ts does for every upload, and only that
// small raw image is posted back. The thread lives for one decode: its WebAssembly heap
// only ever grows (a 12-megapixel photo takes it to ~75 MB), and ending the thread is
// the one way to give that memory back. Runs only as a worker; it exports nothing.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import type { HeifJob, HeifReply } from './heif-decoder.js';

if (parentPort === null) throw new Error('heif-worker.js runs as a worker thread (imaging/heif-decoder.ts), not on its own');
const port = parentPort;

// The package ships Emscripten's glue without types we can import from ESM.
type Libheif = any;
const require = createRequire(import.meta.url);
const factory = require('libheif-js/libheif-wasm/libheif.js') as (options: object) => Libheif;

// Not in the lib this project compiles against (ES2023 without DOM); what is used of it here.
declare const WebAssembly: {
  Instance: new (module: WasmModule, imports: object) => object;
};
type WasmModule = object;

/** Instantiates the module the parent compiled once (workerData), instead of compiling 1.4 MB of wasm again. */
function instantiate(module: WasmModule): Promise<Libheif> {
  return new Promise((resolve) => {
    // The glue makes this very object the module, and may be ready before factory() returns.
    const lib: Libheif = {
      // Emscripten's glue reads the exports as soon as this returns, so it must be synchronous.
      instantiateWasm(imports: object, done: (instance: object, module: WasmModule) => object) {
        return done(new WebAssembly.Instance(module, imports), module);
      },
      onRuntimeInitialized() {
        resolve(lib);
      },
      print() {},
      printErr() {},
    };
    factory(lib);
  });
}

async function decode(lib: Libheif, job: HeifJob): Promise<HeifReply> {
  const context = lib.heif_context_alloc();
  let handle: any;
  let image: any;
  try {
    const read = lib.heif_context_read_from_memory(context, job.bytes);
    if (read.code !== lib.heif_error_code.heif_error_Ok) return { error: `libheif: ${read.message}` };
    handle = lib.heif_js_context_get_primary_image_handle(context);
    if (!handle || handle.code) return { error: `libheif: ${handle?.message ?? 'no primary image'}` };
    // What libheif will output (irot/imir applied) must be what the header was budgeted for.
    const width = lib.heif_image_handle_get_width(handle);
    const height = lib.heif_image_handle_get_height(handle);
    if (width !== job.width || height !== job.height) return { error: `libheif reads it as ${width}×${height}, not the ${job.width}×${job.height} of its header` };
    const alpha = lib.heif_image_handle_has_alpha_channel(handle) !== 0;
    const channels = alpha ? 4 : 3;
    // Transformations (irot, imir, clap) are applied by default: the pixels come out upright.
    image = lib.heif_js_decode_image2(
      handle,
      lib.heif_colorspace.heif_colorspace_RGB,
      alpha ? lib.heif_chroma.heif_chroma_interleaved_RGBA : lib.heif_chroma.heif_chroma_interleaved_RGB,
    );
    if (!image || image.code || !image.channels) return { error: `libheif: ${image?.message ?? 'the image did not decode'}` };
    const plane = (image.channels as any[]).find((c) => c.id === lib.heif_channel.heif_channel_interleaved);
    if (!plane || plane.width !== width || plane.height !== height || plane.stride < width * channels) {
      return { error: 'libheif returned no interleaved plane of the image size' };
    }
    // Rows packed in place (libheif may pad them; each moves toward the start, never over one
    // not yet moved), then read by sharp straight from the wasm heap.
    const source = plane.data as Uint8Array;
    const row = width * channels;
    if (plane.stride !== row) for (let y = 1; y < height; y++) source.copyWithin(y * row, y * plane.stride, y * plane.stride + row);
    const pixels = Buffer.from(source.buffer, source.byteOffset, row * height);
    const pipeline = sharp(pixels, { raw: { width, height, channels }, limitInputPixels: false });
    const { data, info } = await pipeline
      .resize(job.master.width, job.master.height, { fit: 'fill' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { data: out, width: info.width, height: info.height, heapBytes: lib.HEAPU8.length };
  } finally {
    if (image?.image) lib.heif_image_release(image.image);
    if (handle && !handle.code) lib.heif_image_handle_release(handle);
    lib.heif_context_free(context);
  }
}

const job = workerData as HeifJob & { readonly module: WasmModule };
instantiate(job.module)
  .then((lib) => decode(lib, job))
  .catch((error: unknown): HeifReply => ({ error: error instanceof Error ? error.message : String(error) }))
  .then((reply) => port.postMessage(reply));
