// The sharp pipeline behind uploads and resizes (contract §3.3, §3.4, §4).
//
// An upload is decoded exactly once, shrunk while loading, into an upright, flattened,
// sRGB raw buffer at master size; the master JPEG and every Graph size are cut from
// that buffer (the smaller squares from the largest square), so no JPEG is ever decoded
// again. Output JPEGs carry no metadata at all: sharp drops EXIF, GPS, XMP and IPTC
// unless asked to keep them, and pixels that come from a raw buffer have none to keep.
// No ICC profile is embedded either: the pixels are sRGB and an untagged JPEG is read
// as sRGB by browsers and OSes, so a profile would only add bytes to every 48×48.
//
// What the render will hold is estimated from the header first (decode-memory.ts) and
// reserved from the memory all uploads share, so that small files which decode huge
// (issue 9 §3) wait for each other, or are refused, instead of decoding all at once.

import sharp from 'sharp';
import type { Metadata, Sharp } from 'sharp';
import { errors } from '../errors.js';
import type { Dimensions, RenderedSize } from '../storage/store.js';
import { estimateDecodeMemory, estimateHeifDecodeMemory, type DecodeMemory } from './decode-memory.js';
import { detectFormat, type AcceptedFormat } from './detect-format.js';
import { GRAPH_SIZES, sizesForResize, sizesForUpload } from './graph-sizes.js';
import { decodeHeif, HeifDecodeError } from './heif-decoder.js';
import { MalformedHeifError, readHeifHeader, UnsupportedHeifError, type HeifHeader } from './heif-header.js';

export interface RenderOptions {
  /** Largest width × height (of one frame) accepted, checked from the header before decoding. */
  readonly pixelLimit: number;
  /** Memory shared by all renders (photos/decode-budget.ts); absent: renders take what they need. */
  readonly memory?: MemoryReservations | undefined;
}

/** Memory the renders of uploads share: each reserves its estimate before decoding. */
export interface MemoryReservations {
  /** Bytes all renders may hold at once; a render that needs more is refused. */
  readonly limit: number;
  /** Resolves with a release function once `bytes` (at most `limit`) are reserved. */
  reserve(bytes: number): Promise<() => void>;
}

export interface RenderedPhoto {
  /** The largest square after an upload; W×H after a resize. */
  readonly primary: Dimensions;
  /** The sanitized photo that later resizes are cut from. */
  readonly master: RenderedSize;
  /** Every size, ordered by width then height. */
  readonly sizes: readonly RenderedSize[];
}

/** Upright, alpha-free sRGB pixels, 3 bytes each. */
interface RawImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

// The master aims at a 1296 px long side (§3.4.6) but keeps 648 px on its short side when
// the upload has them, so every Graph size can later be cut from it: images wider than 2:1
// get a longer side (4608×1976 → 1511×648). 4096 bounds extreme panoramas.
const MASTER_LONG_SIDE = 1296;
const MASTER_SHORT_SIDE = 648; // Graph's largest size
export const MASTER_MAX_LONG_SIDE = 4096;

// No side of an upload may be longer (WebP's own limit is 16383). Within the pixel limit, a
// strip of 1,000,000×50 pixels is one small file, and shrinking it to a 4096×1 master held
// 722 MiB where its decode estimate was 167 MiB (imaging/decode-memory.ts measures shapes
// up to this side); no profile photo is that long.
export const MAX_SIDE = 16_384;

const MASTER_QUALITY = 90; // re-encoded again on every resize, so keep it close to the source
const SIZE_QUALITY = 85;

// 'warning' (sharp's default, advised for untrusted input) also refuses JPEGs whose
// entropy-coded data is corrupt, which 'error' and 'truncated' decode into garbage
// pixels; truncation is refused at every level. Malformed metadata is not a pixel
// warning, so such a file (fixture invalid-image00971.jpg) still decodes.
const FAIL_ON = 'warning';

const FORMAT_NAMES: Record<AcceptedFormat, string> = { jpeg: 'JPEG', png: 'PNG', webp: 'WebP', gif: 'GIF', avif: 'AVIF', heic: 'HEIC' };

export async function renderUpload(bytes: Buffer, options: RenderOptions): Promise<RenderedPhoto> {
  if (bytes.length === 0) throw errors.invalidImage('the request body is empty');
  const detected = detectFormat(bytes);
  if (!detected.accepted) throw errors.unsupportedImageFormat(detected.detected);

  const source = detected.format === 'heic' ? heifSource(bytes, options.pixelLimit) : await sharpSource(bytes, detected.format, options.pixelLimit);
  const size = masterDimensions(source.oriented);
  // Budgeted from the header, before any pixel is decoded; held until the encodes are done.
  const need = source.estimate(size);
  const memory = options.memory;
  if (memory && need.bytes > memory.limit) throw errors.imageTooLargeToDecode(need.image, need.bytes, memory.limit);
  const release = await memory?.reserve(need.bytes);
  try {
    const raw = await source.decode(size);
    const [master, sizes] = await Promise.all([
      encodeJpeg(raw, MASTER_QUALITY),
      renderSquares(raw, sizesForUpload(Math.min(raw.width, raw.height))),
    ]);
    const largest = sizes[sizes.length - 1]!;
    return { primary: { width: largest.width, height: largest.height }, master, sizes };
  } finally {
    release?.();
  }
}

/** An upload whose header has been read and checked against the limits: what it is, before decoding. */
interface Source {
  /** The first frame turned upright. */
  readonly oriented: Dimensions;
  /** The memory rendering it to a master of `size` takes (decode-memory.ts). */
  estimate(size: Dimensions): DecodeMemory;
  /** The one decode: upright, flattened, sRGB, at `size`. */
  decode(size: Dimensions): Promise<RawImage>;
}

async function sharpSource(bytes: Buffer, format: AcceptedFormat, pixelLimit: number): Promise<Source> {
  // HEVC behind an AVIF brand (libvips goes by the brand): libvips' libheif has no HEVC
  // decoder, the wasm one does. The boxes of a real AVIF name AV1 images, so it stays here.
  const hevc = format === 'avif' ? hevcHeader(bytes) : undefined;
  if (hevc !== undefined) return heifSource(bytes, pixelLimit, hevc);
  const header = await readHeader(bytes, format, pixelLimit);
  return {
    oriented: header.oriented,
    estimate: (size) => estimateDecodeMemory(bytes, format, header.meta, header.frame, size),
    decode: (size) => decode(bytes, format, size, pixelLimit),
  };
}

/** The boxes of an HEVC image, or undefined for anything else (only HEVC images read without an error). */
function hevcHeader(bytes: Buffer): HeifHeader | undefined {
  try {
    return readHeifHeader(bytes);
  } catch {
    return undefined;
  }
}

/**
 * HEIC/HEIF (HEVC): its boxes give the sizes before decoding (heif-header.ts); libheif in
 * WebAssembly decodes it upright and sharp shrinks, flattens and converts its raw pixels
 * as decode() below does for every other upload, in the decode's own thread
 * (heif-decoder.ts). The container's irot/imir is the orientation; the EXIF Orientation
 * an iPhone also writes states the same turn and is never applied again (the raw pixels
 * carry no EXIF).
 */
function heifSource(bytes: Buffer, pixelLimit: number, parsed?: HeifHeader): Source {
  let header;
  try {
    header = parsed ?? readHeifHeader(bytes);
  } catch (cause) {
    if (cause instanceof UnsupportedHeifError) throw errors.unsupportedImageFormat(cause.what);
    if (cause instanceof MalformedHeifError) throw errors.invalidImage(`the HEIC ${cause.reason}`);
    throw cause;
  }
  // The decoder allocates every coded picture (tile, alpha plane) as its parameter set says, whatever the ispe claims.
  for (const dimensions of [header.oriented, ...header.coded]) checkLimits(dimensions, pixelLimit);
  const { oriented } = header;
  return {
    oriented,
    estimate: (size) => estimateHeifDecodeMemory(header, size),
    decode: async (size) => {
      try {
        const { data, width, height } = await decodeHeif({ bytes, width: oriented.width, height: oriented.height, master: size });
        return { data, width, height };
      } catch (cause) {
        if (!(cause instanceof HeifDecodeError)) throw cause;
        const error = errors.invalidImage(/longer than/.test(cause.message) ? `the HEIC ${cause.message}` : 'the HEIC data is corrupt or truncated');
        error.cause = cause; // kept for logs, never sent
        throw error;
      }
    },
  };
}

/** Re-renders from a master this module wrote: W×H by cover, plus the standard squares that fit. */
export async function renderResize(master: Buffer, width: number, height: number): Promise<RenderedPhoto> {
  const { data, info } = await sharp(master).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const source: RawImage = { data, width: info.width, height: info.height };

  const squares = GRAPH_SIZES.filter((s) => s <= Math.min(width, height));
  const primaryIsSquare = width === height && squares.at(-1) === width; // then it is one of the squares
  const [squareSizes, primary] = await Promise.all([
    renderSquares(source, squares),
    primaryIsSquare ? undefined : coverJpeg(source, width, height),
  ]);

  const rendered = new Map([...squareSizes, ...(primary ? [primary] : [])].map((r) => [`${r.width}x${r.height}`, r]));
  const sizes = sizesForResize(width, height).map((d) => rendered.get(`${d.width}x${d.height}`)!);
  return { primary: { width, height }, master: { width: info.width, height: info.height, bytes: master }, sizes };
}

interface Header {
  readonly meta: Metadata;
  /** The first frame as stored. */
  readonly frame: Dimensions;
  /** The first frame turned upright. */
  readonly oriented: Dimensions;
}

/** The header alone: the first frame's dimensions, as stored and upright; refuses oversize images before any decode. */
async function readHeader(bytes: Buffer, format: AcceptedFormat, pixelLimit: number): Promise<Header> {
  let meta: Metadata;
  try {
    // No pixel limit here: sharp would throw its own message, and reading a header is cheap.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw decodeError(cause, format);
  }
  const frameHeight = meta.pageHeight ?? meta.height; // GIF and animated WebP stack their frames
  const rotated = (meta.orientation ?? 1) >= 5;
  const width = rotated ? frameHeight : meta.width;
  const height = rotated ? meta.width : frameHeight;
  checkLimits({ width, height }, pixelLimit);
  return { meta, frame: { width: meta.width, height: frameHeight }, oriented: { width, height } };
}

function checkLimits({ width, height }: Dimensions, pixelLimit: number): void {
  if (width * height > pixelLimit) throw errors.pixelLimitExceeded(width, height, pixelLimit);
  if (Math.max(width, height) > MAX_SIDE) throw errors.sideLimitExceeded(width, height, MAX_SIDE);
}

function masterDimensions({ width, height }: Dimensions): Dimensions {
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  const f = Math.min(1, Math.max(MASTER_LONG_SIDE / long, MASTER_SHORT_SIDE / short), MASTER_MAX_LONG_SIDE / long);
  return { width: Math.max(1, Math.round(width * f)), height: Math.max(1, Math.round(height * f)) };
}

/** The one decode of an upload: first frame, upright, shrunk on load, flattened onto white, sRGB. */
async function decode(bytes: Buffer, format: AcceptedFormat, size: Dimensions, pixelLimit: number): Promise<RawImage> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: pixelLimit, failOn: FAIL_ON, pages: 1 })
      .autoOrient()
      // Exact master dimensions (aspect kept to within rounding); lets JPEG and WebP shrink while decoding.
      .resize(size.width, size.height, { fit: 'fill' })
      .flatten({ background: '#ffffff' })
      // An embedded ICC profile is applied on input (CMYK, Display P3…), then everything becomes sRGB.
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (cause) {
    throw decodeError(cause, format);
  }
}

/** Squares of the given sizes (ascending), centre-cropped; the smaller ones are resized from the largest. */
async function renderSquares(source: RawImage, sizes: readonly number[]): Promise<RenderedSize[]> {
  const largest = sizes[sizes.length - 1];
  if (largest === undefined) return [];
  const { data, info } = await fromRaw(source)
    .resize(largest, largest, { fit: 'cover', position: 'centre' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const square: RawImage = { data, width: info.width, height: info.height };
  return Promise.all(sizes.map((s) => (s === largest ? encodeJpeg(square, SIZE_QUALITY) : coverJpeg(square, s, s))));
}

async function coverJpeg(source: RawImage, width: number, height: number): Promise<RenderedSize> {
  const bytes = await jpeg(fromRaw(source).resize(width, height, { fit: 'cover', position: 'centre' }), SIZE_QUALITY);
  return { width, height, bytes };
}

async function encodeJpeg(source: RawImage, quality: number): Promise<RenderedSize> {
  return { width: source.width, height: source.height, bytes: await jpeg(fromRaw(source), quality) };
}

function fromRaw(source: RawImage): Sharp {
  return sharp(source.data, { raw: { width: source.width, height: source.height, channels: 3 } });
}

/** Baseline (not progressive) JPEG: every Graph client and mail client can show it. */
function jpeg(image: Sharp, quality: number): Promise<Buffer> {
  return image.jpeg({ quality, progressive: false, chromaSubsampling: '4:2:0' }).toBuffer();
}

/** A client error with a short reason; libvips messages are multi-line and name internals. */
function decodeError(cause: unknown, format: AcceptedFormat): Error {
  const message = cause instanceof Error ? cause.message : String(cause);
  const name = FORMAT_NAMES[format];
  let reason = `the ${name} data is corrupt`;
  if (/premature end|unexpected end|truncated|bad seek|read error/i.test(message)) reason = `the ${name} file is truncated or damaged`;
  else if (/not been built in|no decoder|unsupported|not supported/i.test(message)) reason = `this ${name} uses an encoding this server cannot decode`;
  const error = errors.invalidImage(reason);
  error.cause = cause; // kept for logs, never sent
  return error;
}
