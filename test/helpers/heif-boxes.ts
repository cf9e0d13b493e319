// HEIF files built box by box, for tests: hostile headers that need no HEVC data at all,
// and (test/helpers/make-heic-fixtures.ts) the committed HEIC fixtures, whose HEVC comes
// from heif-enc but whose container (grid, irot, imir, EXIF) is laid out here, since the
// heif-enc of Debian 12 (libheif 1.15) writes none of those.

/** A box: 32-bit size, four-character type, payload. */
export function box(type: string, ...payload: readonly Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

/** A full box: a version and 24 bits of flags before the payload. */
export function fullBox(type: string, version: number, flags: number, ...payload: readonly Buffer[]): Buffer {
  return box(type, u8(version), Buffer.from([(flags >> 16) & 255, (flags >> 8) & 255, flags & 255]), ...payload);
}

export const u8 = (n: number) => Buffer.from([n]);
export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export interface HeifItemSpec {
  readonly id: number;
  /** 'hvc1', 'grid', 'Exif'… */
  readonly type: string;
  /** The item's bytes: coded HEVC, a grid descriptor (stored in idat), EXIF. */
  readonly data: Buffer;
  /** Property boxes, in order (hvcC, ispe, irot, imir…); all essential. */
  readonly properties?: readonly Buffer[];
  /** Not shown on its own (tiles of a grid). */
  readonly hidden?: boolean;
}

export interface HeifSpec {
  readonly brands?: readonly string[];
  readonly primary: number;
  readonly items: readonly HeifItemSpec[];
  readonly references?: readonly { readonly type: string; readonly from: number; readonly to: readonly number[] }[];
}

export const ispe = (width: number, height: number) => fullBox('ispe', 0, 0, u32(width), u32(height));
/** Counter-clockwise quarter turns, 0–3. */
export const irot = (turns: number) => box('irot', u8(turns & 3));
/** As libheif reads it: 0 swaps top and bottom, 1 swaps left and right (the standard's first edition worded the axis the other way). */
export const imir = (axis: number) => box('imir', u8(axis & 1));

/** A grid descriptor: rows × columns of tiles on a width × height canvas (16-bit fields). */
export function gridDescriptor(rows: number, columns: number, width: number, height: number): Buffer {
  return Buffer.concat([u8(0), u8(0), u8(rows - 1), u8(columns - 1), u16(width), u16(height)]);
}

/** A whole HEIF file: ftyp, meta (grids in idat, the rest in mdat), mdat. */
export function buildHeif(spec: HeifSpec): Buffer {
  const [major, ...compatible] = spec.brands ?? ['heic', 'mif1', 'heic'];
  const ftyp = box('ftyp', Buffer.from(major!, 'latin1'), u32(0), ...compatible.map((b) => Buffer.from(b, 'latin1')));

  const properties: Buffer[] = [];
  const associations: Buffer[] = [];
  for (const item of spec.items) {
    const indexes = (item.properties ?? []).map((p) => properties.push(p));
    if (indexes.length > 0) associations.push(Buffer.concat([u16(item.id), u8(indexes.length), ...indexes.map((i) => u8(0x80 | i))]));
  }
  const iprp = box('iprp', box('ipco', ...properties), fullBox('ipma', 0, 0, u32(associations.length), ...associations));
  const iinf = fullBox(
    'iinf',
    0,
    0,
    u16(spec.items.length),
    ...spec.items.map((item) => fullBox('infe', 2, item.hidden ? 1 : 0, u16(item.id), u16(0), Buffer.from(item.type, 'latin1'), Buffer.from('\0'))),
  );
  const iref = spec.references?.length
    ? fullBox('iref', 0, 0, ...spec.references.map((r) => box(r.type, u16(r.from), u16(r.to.length), ...r.to.map(u16))))
    : Buffer.alloc(0);
  const inIdat = (item: HeifItemSpec) => item.type === 'grid';
  const idatData = Buffer.concat(spec.items.filter(inIdat).map((i) => i.data));
  const idat = idatData.length > 0 ? box('idat', idatData) : Buffer.alloc(0);

  // iloc version 1 (construction methods), 4-byte offsets and lengths, one extent per item.
  const iloc = (mdatStart: number) => {
    let idatAt = 0;
    let mdatAt = mdatStart;
    const entries = spec.items.map((item) => {
      const idatItem = inIdat(item);
      const offset = idatItem ? idatAt : mdatAt;
      if (idatItem) idatAt += item.data.length;
      else mdatAt += item.data.length;
      return Buffer.concat([u16(item.id), u16(idatItem ? 1 : 0), u16(0), u16(1), u32(offset), u32(item.data.length)]);
    });
    return fullBox('iloc', 1, 0, u16(0x4400), u16(entries.length), ...entries);
  };
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('pict', 'latin1'), Buffer.alloc(12), Buffer.from('\0'));
  const pitm = fullBox('pitm', 0, 0, u16(spec.primary));
  const meta = (mdatStart: number) => fullBox('meta', 0, 0, hdlr, pitm, iloc(mdatStart), iinf, iref, iprp, idat);
  const mdatPayload = Buffer.concat(spec.items.filter((i) => !inIdat(i)).map((i) => i.data));
  const mdatStart = ftyp.length + meta(0).length + 8;
  return Buffer.concat([ftyp, meta(mdatStart), box('mdat', mdatPayload)]);
}

/** The one coded image of a file heif-enc wrote: its hvcC box and its data. Trusted input only. */
export function codedImage(file: Buffer): { hvcC: Buffer; data: Buffer } {
  const boxes = (start: number, end: number) => {
    const found: { type: string; start: number; end: number }[] = [];
    for (let at = start; at + 8 <= end; ) {
      const size = file.readUInt32BE(at);
      found.push({ type: file.toString('latin1', at + 4, at + 8), start: at, end: at + size });
      at += size;
    }
    return found;
  };
  const find = (list: ReturnType<typeof boxes>, type: string) => {
    const b = list.find((x) => x.type === type);
    if (!b) throw new Error(`no ${type}`);
    return b;
  };
  const meta = find(boxes(0, file.length), 'meta');
  const metaBoxes = boxes(meta.start + 12, meta.end);
  const iprp = find(metaBoxes, 'iprp');
  const ipco = find(boxes(iprp.start + 8, iprp.end), 'ipco');
  const hvcC = find(boxes(ipco.start + 8, ipco.end), 'hvcC');
  const pitm = find(metaBoxes, 'pitm');
  const primary = file.readUInt16BE(pitm.start + 12);
  // iloc as heif-enc writes it: version 0 or 1, one extent per item.
  const iloc = find(metaBoxes, 'iloc');
  const version = file[iloc.start + 8]!;
  const sizes = file.readUInt16BE(iloc.start + 12);
  const [offsetSize, lengthSize, baseSize] = [sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15];
  const read = (at: number, n: number) => (n === 0 ? 0 : n === 4 ? file.readUInt32BE(at) : Number(file.readBigUInt64BE(at)));
  let at = iloc.start + 14;
  const count = file.readUInt16BE(at);
  at += 2;
  for (let i = 0; i < count; i++) {
    const id = file.readUInt16BE(at);
    at += 2 + (version >= 1 ? 2 : 0) + 2;
    const base = read(at, baseSize);
    at += baseSize;
    const extents = file.readUInt16BE(at);
    at += 2;
    const offset = base + read(at, offsetSize);
    const length = read(at + offsetSize, lengthSize);
    at += (offsetSize + lengthSize) * extents;
    if (id === primary) return { hvcC: file.subarray(hvcC.start, hvcC.end), data: file.subarray(offset, offset + length) };
  }
  throw new Error('primary item not located');
}
