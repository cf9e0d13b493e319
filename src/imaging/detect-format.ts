// Decide an upload's format from its first bytes only (contract §3.4 step 2): the
// Content-Type that clients send is unreliable (§5), and the decoder must never be
// handed a format we refuse. Refused formats get a human name for the error message.

export type AcceptedFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'heic';

export type DetectedFormat =
  | { readonly accepted: true; readonly format: AcceptedFormat }
  | { readonly accepted: false; readonly detected: string };

export function detectFormat(bytes: Buffer): DetectedFormat {
  if (bytes.length === 0) return refused('an empty body');

  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return accepted('jpeg');
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return accepted('png');
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return accepted('gif');
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return accepted('webp');
  if (ascii(bytes, 4, 8) === 'ftyp') return isoMediaFormat(bytes);

  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return refused('TIFF');
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return refused('TIFF'); // BigTIFF
  if (isBmp(bytes)) return refused('BMP');
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00]) && bytes.length >= 6 && bytes.readUInt16LE(4) > 0) return refused('ICO');
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a])) {
    return refused('JPEG XL');
  }
  if (startsWith(bytes, [0xff, 0x4f, 0xff, 0x51]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a])) {
    return refused('JPEG 2000');
  }

  // Text formats may open with a UTF-8 byte-order mark and whitespace.
  const text = ascii(bytes, 0, 256).replace(/^\xEF\xBB\xBF/, '').trimStart();
  if (text.startsWith('%PDF-')) return refused('PDF');
  if (/^(<\?xml|<svg[\s>]|<!doctype svg)/i.test(text)) return refused('SVG');

  return refused('an unknown format');
}

/**
 * ISO base media files (HEIF, AVIF, MP4…) name what they hold in the ftyp box: a major
 * brand and a list of compatible brands. AVIF wins when any brand says so (libvips decodes
 * it); otherwise a HEIF brand means HEVC, which imaging/heif-decoder.ts decodes. An AVIF
 * brand in front of HEVC data is caught from its header (render-photo.ts).
 */
function isoMediaFormat(bytes: Buffer): DetectedFormat {
  const boxSize = bytes.readUInt32BE(0); // 0 means "to the end of the file"
  const boxEnd = boxSize === 0 ? bytes.length : Math.min(boxSize, bytes.length);
  const brands = [ascii(bytes, 8, 12)];
  for (let at = 16; at + 4 <= boxEnd; at += 4) brands.push(ascii(bytes, at, at + 4));

  if (brands.some((b) => b === 'avif' || b === 'avis')) return accepted('avif');
  if (brands.some((b) => ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(b))) return accepted('heic');
  return refused('an unknown format');
}

/** "BM" alone is too common to trust; the DIB header that follows has one of a few known sizes. */
function isBmp(bytes: Buffer): boolean {
  return ascii(bytes, 0, 2) === 'BM' && bytes.length >= 18 && [12, 40, 52, 56, 64, 108, 124].includes(bytes.readUInt32LE(14));
}

function startsWith(bytes: Buffer, signature: readonly number[]): boolean {
  return bytes.length >= signature.length && signature.every((byte, i) => bytes[i] === byte);
}

function ascii(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('latin1', start, Math.min(end, bytes.length));
}

function accepted(format: AcceptedFormat): DetectedFormat {
  return { accepted: true, format };
}

function refused(detected: string): DetectedFormat {
  return { accepted: false, detected };
}
