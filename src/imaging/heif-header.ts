// What a HEIC/HEIF file will decode to, read from its boxes before any pixel is decoded
// (issue 10 §4), so that the pixel limit and the decode memory budget apply first.
//
// HEIF (ISO/IEC 23008-12) is an ISO base media file: boxes of a 32-bit size (1: a 64-bit
// size follows; 0: to the end) and a four-character type. The image lives in `meta`:
// `pitm` names the primary item, `iinf` gives each item's type (`hvc1` coded image,
// `grid` of tiles, `Exif`…), `iprp` holds properties (`ispe` size, `irot`/`imir`
// transform, `pixi` bit depth, `hvcC` decoder configuration) and `ipma` assigns them to
// items, `iref` links a grid to its tiles (`dimg`) and an alpha plane to its image
// (`auxl`), `iloc` says where an item's data is (a grid's descriptor usually in `idat`).
//
// Every size a decoder will allocate is read and bounded: the primary image's `ispe`, a
// grid's own descriptor (which libheif trusts over `ispe`), and the coded picture size in
// each HEVC sequence parameter set (what libde265 allocates, whatever `ispe` claims).
// The walk is linear over the bytes: only the few containers above are entered, at fixed
// depths, every length is checked against its parent, and counts are bounded, so a
// hostile file is refused as malformed, never a crash or a hang.

import type { Dimensions } from '../storage/store.js';

export interface HeifHeader {
  /** The primary image as stored, before irot/imir. */
  readonly frame: Dimensions;
  /** Turned upright by the container's irot: what the decoder outputs. */
  readonly oriented: Dimensions;
  /** Counter-clockwise quarter turns (irot), and whether imir mirrors. */
  readonly rotation: 0 | 90 | 180 | 270;
  readonly mirrored: boolean;
  /** Bits per sample, the largest of the coded images (8 or 10 for iPhones). */
  readonly bitDepth: number;
  /** Whether an alpha plane comes with it (decoded as RGBA). */
  readonly alpha: boolean;
  /** Tiles of the primary image (1 when it is not a grid). */
  readonly tiles: number;
  /** Every coded picture the decoder will decode for the primary image (tiles, alpha), as its parameter sets state them. */
  readonly coded: readonly Dimensions[];
}

/** A file that is not well-formed HEIF; `reason` reads after "the HEIC ". */
export class MalformedHeifError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** A HEIF whose primary image is not HEVC (e.g. JPEG or uncompressed in HEIF); `what` names it. */
export class UnsupportedHeifError extends Error {
  constructor(readonly what: string) {
    super(what);
  }
}

// libheif's own security limits are of this order (max_items 1000, tiles 4096 × 4096).
const MAX_ITEMS = 1000;
const MAX_PROPERTIES = 1000;
const MAX_TILES = 4096;
const ALPHA_TYPES = ['urn:mpeg:hevc:2015:auxid:1', 'urn:mpeg:mpegB:cicp:systems:auxiliary:alpha'];

interface Box {
  readonly type: string;
  /** Payload start (after size, type and a 64-bit size if any) and end. */
  readonly start: number;
  readonly end: number;
}

interface ItemLocation {
  readonly method: number;
  readonly extents: readonly { readonly offset: number; readonly length: number }[];
}

export function readHeifHeader(bytes: Buffer): HeifHeader {
  const meta = only(children(bytes, 0, bytes.length, true), 'meta', 'file');
  const metaBoxes = children(bytes, meta.start + 4, meta.end); // a full box: version and flags first

  const pitm = only(metaBoxes, 'pitm', 'meta');
  const primary = fullVersion(bytes, pitm) === 0 ? u16(bytes, pitm.start + 4, pitm) : u32(bytes, pitm.start + 4, pitm);

  const types = itemTypes(bytes, only(metaBoxes, 'iinf', 'meta'));
  const iprp = only(metaBoxes, 'iprp', 'meta');
  const iprpBoxes = children(bytes, iprp.start, iprp.end);
  const properties = children(bytes, only(iprpBoxes, 'ipco', 'iprp').start, only(iprpBoxes, 'ipco', 'iprp').end);
  if (properties.length > MAX_PROPERTIES) throw new MalformedHeifError(`has more than ${MAX_PROPERTIES} properties`);
  const associations = propertyAssociations(bytes, iprpBoxes.filter((b) => b.type === 'ipma'), properties.length);
  const iref = metaBoxes.find((b) => b.type === 'iref');
  const references = iref ? itemReferences(bytes, iref) : [];
  const iloc = metaBoxes.find((b) => b.type === 'iloc');
  const idat = metaBoxes.find((b) => b.type === 'idat');

  const propertyOf = (item: number, type: string): Box | undefined =>
    (associations.get(item) ?? []).map((index) => properties[index - 1]).find((p) => p?.type === type);
  const ispe = (item: number): Dimensions => {
    const box = propertyOf(item, 'ispe');
    if (!box) throw new MalformedHeifError(`item ${item} has no size (ispe)`);
    return { width: u32(bytes, box.start + 4, box), height: u32(bytes, box.start + 8, box) };
  };
  const typeOf = (item: number): string => {
    const type = types.get(item);
    if (type === undefined) throw new MalformedHeifError(`names item ${item}, which it does not describe`);
    return type;
  };
  const referenced = (type: string, from: number) => references.filter((r) => r.type === type && r.from === from).flatMap((r) => r.to);

  const primaryType = typeOf(primary);
  const frame = ispe(primary);
  let tiles = 1;
  const codedItems: number[] = [];
  let alpha = false;
  if (primaryType === 'grid') {
    const grid = gridDescriptor(bytes, locate(bytes, iloc, primary), idat);
    if (grid.width !== frame.width || grid.height !== frame.height) {
      throw new MalformedHeifError(`grid is ${grid.width}×${grid.height} but its ispe says ${frame.width}×${frame.height}`);
    }
    const tileIds = referenced('dimg', primary);
    tiles = grid.rows * grid.columns;
    if (tiles > MAX_TILES) throw new MalformedHeifError(`grid has ${tiles} tiles; at most ${MAX_TILES} are read`);
    if (tileIds.length !== tiles) throw new MalformedHeifError(`grid has ${grid.rows}×${grid.columns} cells but ${tileIds.length} tiles`);
    const tile = ispe(tileIds[0]!);
    // The tiles must cover the canvas with no whole row or column past it (ISO/IEC 23008-12 §6.6.2.3).
    const covers = (cells: number, side: number, total: number) => cells * side >= total && (cells - 1) * side < total;
    if (!covers(grid.columns, tile.width, frame.width) || !covers(grid.rows, tile.height, frame.height)) {
      throw new MalformedHeifError(`grid's ${grid.rows}×${grid.columns} tiles of ${tile.width}×${tile.height} do not fit its ${frame.width}×${frame.height} canvas`);
    }
    codedItems.push(...tileIds);
  } else {
    codedItems.push(primary);
  }
  // An alpha plane (auxl to the primary) is decoded with it; so are its tiles. Other
  // auxiliary images (an iPhone's HDR gain map, depth) are not decoded.
  for (const [from, to] of references.filter((r) => r.type === 'auxl').map((r) => [r.from, r.to] as const)) {
    if (!to.includes(primary)) continue;
    const auxC = propertyOf(from, 'auxC');
    const auxType = auxC ? bytes.toString('latin1', auxC.start + 4, auxC.end).split('\0')[0] : '';
    if (!ALPHA_TYPES.includes(auxType ?? '')) continue;
    alpha = true;
    codedItems.push(...(typeOf(from) === 'grid' ? referenced('dimg', from) : [from]));
  }

  let bitDepth = 8;
  const coded = codedItems.map((item) => {
    const type = typeOf(item);
    if (type !== 'hvc1') throw new UnsupportedHeifError(`HEIF with ${printable(type)} images`);
    const hvcC = propertyOf(item, 'hvcC');
    if (!hvcC) throw new MalformedHeifError(`item ${item} has no HEVC configuration (hvcC)`);
    const config = hevcConfiguration(bytes, hvcC);
    bitDepth = Math.max(bitDepth, config.bitDepth);
    return config.coded;
  });

  let rotation: HeifHeader['rotation'] = 0;
  const irot = propertyOf(primary, 'irot');
  if (irot) rotation = (([0, 90, 180, 270] as const)[u8(bytes, irot.start, irot) & 3])!;
  const mirrored = propertyOf(primary, 'imir') !== undefined;
  const turned = rotation === 90 || rotation === 270;
  return {
    frame,
    oriented: turned ? { width: frame.height, height: frame.width } : frame,
    rotation,
    mirrored,
    bitDepth,
    alpha,
    tiles,
    coded,
  };
}

/** The boxes between start and end, each checked to lie within them. */
function children(bytes: Buffer, start: number, end: number, file = false): Box[] {
  const boxes: Box[] = [];
  for (let at = start; at < end; ) {
    if (at + 8 > end) throw new MalformedHeifError('ends inside a box header');
    let size = bytes.readUInt32BE(at);
    let header = 8;
    const type = printable(bytes.toString('latin1', at + 4, at + 8));
    const pastEnd = () => new MalformedHeifError(file ? `file is truncated: its ${type} box runs past its end` : `has a ${type} box that runs past the end of what holds it`);
    if (size === 1) {
      if (at + 16 > end) throw new MalformedHeifError('ends inside a box header');
      const large = bytes.readBigUInt64BE(at + 8);
      if (large > BigInt(end - at)) throw pastEnd();
      size = Number(large);
      header = 16;
    } else if (size === 0) {
      size = end - at; // to the end of what holds it
    }
    if (size < header) throw new MalformedHeifError(`has a box of ${size} bytes`);
    if (at + size > end) throw pastEnd();
    boxes.push({ type: bytes.toString('latin1', at + 4, at + 8), start: at + header, end: at + size });
    at += size;
  }
  return boxes;
}

function only(boxes: readonly Box[], type: string, parent: string): Box {
  const found = boxes.filter((b) => b.type === type);
  if (found.length !== 1) throw new MalformedHeifError(found.length === 0 ? `has no '${type}' box in its ${parent}` : `has ${found.length} '${type}' boxes in its ${parent}`);
  return found[0]!;
}

function fullVersion(bytes: Buffer, box: Box): number {
  return u8(bytes, box.start, box);
}

/** Item id → item type, from the infe entries of iinf (versions 2 and 3; older ones carry no type). */
function itemTypes(bytes: Buffer, iinf: Box): Map<number, string> {
  const version = fullVersion(bytes, iinf);
  const count = version === 0 ? u16(bytes, iinf.start + 4, iinf) : u32(bytes, iinf.start + 4, iinf);
  if (count > MAX_ITEMS) throw new MalformedHeifError(`has ${count} items; at most ${MAX_ITEMS} are read`);
  const types = new Map<number, string>();
  for (const infe of children(bytes, iinf.start + (version === 0 ? 6 : 8), iinf.end)) {
    if (infe.type !== 'infe') continue;
    const v = fullVersion(bytes, infe);
    if (v < 2) continue;
    const id = v === 2 ? u16(bytes, infe.start + 4, infe) : u32(bytes, infe.start + 4, infe);
    const typeAt = infe.start + (v === 2 ? 8 : 10); // after the id and a 16-bit protection index
    need(typeAt + 4, infe);
    types.set(id, bytes.toString('latin1', typeAt, typeAt + 4));
  }
  return types;
}

/** Item id → 1-based property indexes, from every ipma. */
function propertyAssociations(bytes: Buffer, ipmas: readonly Box[], propertyCount: number): Map<number, number[]> {
  const associations = new Map<number, number[]>();
  for (const ipma of ipmas) {
    const version = fullVersion(bytes, ipma);
    const wideIndex = (u8(bytes, ipma.start + 3, ipma) & 1) === 1;
    const count = u32(bytes, ipma.start + 4, ipma);
    if (count > MAX_ITEMS) throw new MalformedHeifError(`assigns properties to ${count} items; at most ${MAX_ITEMS} are read`);
    let at = ipma.start + 8;
    for (let i = 0; i < count; i++) {
      const id = version < 1 ? u16(bytes, at, ipma) : u32(bytes, at, ipma);
      at += version < 1 ? 2 : 4;
      const n = u8(bytes, at++, ipma);
      const indexes: number[] = associations.get(id) ?? [];
      for (let j = 0; j < n; j++) {
        const index = wideIndex ? u16(bytes, at, ipma) & 0x7fff : u8(bytes, at, ipma) & 0x7f;
        at += wideIndex ? 2 : 1;
        if (index > propertyCount) throw new MalformedHeifError(`assigns property ${index} of ${propertyCount}`);
        if (index > 0) indexes.push(index);
      }
      associations.set(id, indexes);
    }
  }
  return associations;
}

interface Reference {
  readonly type: string;
  readonly from: number;
  readonly to: readonly number[];
}

function itemReferences(bytes: Buffer, iref: Box): Reference[] {
  const wide = fullVersion(bytes, iref) !== 0;
  const id = (at: number, box: Box) => (wide ? u32(bytes, at, box) : u16(bytes, at, box));
  const size = wide ? 4 : 2;
  const references = children(bytes, iref.start + 4, iref.end).map((box) => {
    const count = u16(bytes, box.start + size, box);
    need(box.start + size + 2 + count * size, box);
    return { type: box.type, from: id(box.start, box), to: Array.from({ length: count }, (_, i) => id(box.start + size + 2 + i * size, box)) };
  });
  if (references.length > MAX_ITEMS) throw new MalformedHeifError(`has more than ${MAX_ITEMS} references`);
  return references;
}

/** Where an item's data is: iloc's construction method and extents. */
function locate(bytes: Buffer, iloc: Box | undefined, item: number): ItemLocation {
  if (!iloc) throw new MalformedHeifError(`has no item locations (iloc)`);
  const version = fullVersion(bytes, iloc);
  if (version > 2) throw new MalformedHeifError(`has an iloc of version ${version}`);
  const sizes = u16(bytes, iloc.start + 4, iloc);
  const offsetSize = sizes >> 12;
  const lengthSize = (sizes >> 8) & 15;
  const baseSize = (sizes >> 4) & 15;
  const indexSize = version === 0 ? 0 : sizes & 15;
  let at = iloc.start + 6;
  const count = version < 2 ? u16(bytes, at, iloc) : u32(bytes, at, iloc);
  at += version < 2 ? 2 : 4;
  if (count > MAX_ITEMS) throw new MalformedHeifError(`locates ${count} items; at most ${MAX_ITEMS} are read`);
  const read = (size: number): number => {
    if (![0, 4, 8].includes(size)) throw new MalformedHeifError(`has an iloc field of ${size} bytes`);
    need(at + size, iloc);
    const value = size === 0 ? 0 : size === 4 ? bytes.readUInt32BE(at) : Number(bytes.readBigUInt64BE(at));
    at += size;
    return value;
  };
  for (let i = 0; i < count; i++) {
    const id = version < 2 ? u16(bytes, at, iloc) : u32(bytes, at, iloc);
    at += version < 2 ? 2 : 4;
    const method = version === 0 ? 0 : u16(bytes, at, iloc) & 15;
    at += version === 0 ? 0 : 2;
    at += 2; // data reference index
    const base = read(baseSize);
    const extentCount = u16(bytes, at, iloc);
    at += 2;
    const extents = [];
    for (let e = 0; e < extentCount; e++) {
      read(indexSize);
      const offset = base + read(offsetSize);
      extents.push({ offset, length: read(lengthSize) });
    }
    if (id === item) return { method, extents };
  }
  throw new MalformedHeifError(`does not locate item ${item}`);
}

/** A grid's descriptor (ISO/IEC 23008-12 §6.6.2.3.2): rows, columns and the canvas size. */
function gridDescriptor(bytes: Buffer, location: ItemLocation, idat: Box | undefined) {
  const extent = location.extents[0];
  if (location.extents.length !== 1 || !extent) throw new MalformedHeifError('has a grid stored in pieces');
  let holder: Box;
  if (location.method === 1) {
    if (!idat) throw new MalformedHeifError('has a grid in an idat it lacks');
    holder = idat;
  } else if (location.method === 0) {
    holder = { type: 'file', start: 0, end: bytes.length };
  } else {
    throw new MalformedHeifError(`stores its grid by construction method ${location.method}`);
  }
  const start = holder.start + extent.offset;
  const box: Box = { type: 'grid', start, end: Math.min(holder.end, start + extent.length) };
  if (extent.offset > holder.end - holder.start || box.end - box.start < 8) throw new MalformedHeifError('has a grid descriptor past its end');
  const wide = (u8(bytes, start + 1, box) & 1) === 1;
  const dimension = (i: number) => (wide ? u32(bytes, start + 4 + i * 4, box) : u16(bytes, start + 4 + i * 2, box));
  return { rows: u8(bytes, start + 2, box) + 1, columns: u8(bytes, start + 3, box) + 1, width: dimension(0), height: dimension(1) };
}

/** The coded picture size and bit depth, from the sequence parameter set in an hvcC (ITU-T H.265 §7.3.2.2). */
export function hevcConfiguration(bytes: Buffer, hvcC: Box): { coded: Dimensions; bitDepth: number } {
  let at = hvcC.start + 22;
  const arrays = u8(bytes, at++, hvcC);
  for (let a = 0; a < arrays; a++) {
    const nalType = u8(bytes, at, hvcC) & 0x3f;
    const count = u16(bytes, at + 1, hvcC);
    at += 3;
    for (let n = 0; n < count; n++) {
      const length = u16(bytes, at, hvcC);
      need(at + 2 + length, hvcC);
      if (nalType === 33) return sequenceParameters(bytes.subarray(at + 2, at + 2 + length));
      at += 2 + length;
    }
  }
  throw new MalformedHeifError('has an HEVC configuration without a sequence parameter set');
}

function sequenceParameters(nal: Buffer): { coded: Dimensions; bitDepth: number } {
  // Remove emulation prevention bytes (00 00 03 → 00 00), after the 2-byte NAL header.
  const rbsp: number[] = [];
  for (let i = 2, zeros = 0; i < nal.length; i++) {
    const byte = nal[i]!;
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    rbsp.push(byte);
  }
  let bit = 0;
  const bits = (n: number): number => {
    let value = 0;
    for (let i = 0; i < n; i++, bit++) {
      const byte = rbsp[bit >> 3];
      if (byte === undefined) throw new MalformedHeifError('has a truncated HEVC sequence parameter set');
      value = value * 2 + ((byte >> (7 - (bit & 7))) & 1);
    }
    return value;
  };
  const ue = (): number => {
    let zeros = 0;
    while (bits(1) === 0) if (++zeros > 31) throw new MalformedHeifError('has a malformed HEVC sequence parameter set');
    return 2 ** zeros - 1 + bits(zeros);
  };
  bits(4); // sps_video_parameter_set_id
  const subLayers = bits(3); // sps_max_sub_layers_minus1
  bits(1);
  bits(96); // general profile, tier and level
  const present = Array.from({ length: subLayers }, () => [bits(1), bits(1)] as const);
  if (subLayers > 0) bits(2 * (8 - subLayers));
  for (const [profile, level] of present) bits((profile ? 88 : 0) + (level ? 8 : 0));
  ue(); // sps_seq_parameter_set_id
  const chroma = ue();
  if (chroma === 3) bits(1);
  const width = ue();
  const height = ue();
  if (bits(1)) for (let i = 0; i < 4; i++) ue(); // conformance window
  const bitDepth = ue() + 8;
  if (width === 0 || height === 0 || chroma > 3 || bitDepth > 16) throw new MalformedHeifError('has a malformed HEVC sequence parameter set');
  return { coded: { width, height }, bitDepth };
}

function need(end: number, box: Box): void {
  if (end > box.end) throw new MalformedHeifError(`has a ${printable(box.type)} box shorter than its contents`);
}

function u8(bytes: Buffer, at: number, box: Box): number {
  need(at + 1, box);
  return bytes[at]!;
}

function u16(bytes: Buffer, at: number, box: Box): number {
  need(at + 2, box);
  return bytes.readUInt16BE(at);
}

function u32(bytes: Buffer, at: number, box: Box): number {
  need(at + 4, box);
  return bytes.readUInt32BE(at);
}

/** A four-character code as text fit for a message. */
function printable(type: string): string {
  return /^[\x20-\x7e]{4}$/.test(type) ? `'${type}'` : 'unnamed';
}
