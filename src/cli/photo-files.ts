// What `portrait import-photos` is given: a folder of photos named after their owners
// (`alice@contoso.com.jpg`, `{object id}.png`), or a CSV of `user,file` rows. Read into
// entries before anything is imported, so that the count is known and every problem with
// the list itself is said at once.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';

/** One photo to import: whose (a userPrincipalName, a mail address or an object id) and where. */
export interface PhotoFile {
  readonly owner: string;
  readonly path: string;
  /** How the summary names it: the file name, or the CSV's line. */
  readonly label: string;
}

/** The extensions of the formats an upload takes; other files in a folder are not photos. */
export const PHOTO_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.heic', '.heif']);

/** A list of at most this many photos: a CSV or folder beyond it is refused, not half read. */
export const MAX_PHOTO_FILES = 1_000_000;
/** A CSV of a million rows is about 60 MB; anything larger is no list of photos. */
const MAX_CSV_BYTES = 128 * 1024 * 1024;

export class PhotoListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhotoListError';
  }
}

/** The photos in `source`: a folder's photo files (not recursive), or a CSV's rows. */
export function readPhotoList(source: string): PhotoFile[] {
  const path = resolve(source);
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch (error) {
    throw new PhotoListError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return isFolder ? folderList(path) : csvList(path);
}

function folderList(folder: string): PhotoFile[] {
  const files: PhotoFile[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const extension = extname(entry.name).toLowerCase();
    if (!PHOTO_EXTENSIONS.has(extension)) continue;
    files.push({ owner: entry.name.slice(0, -extension.length), path: join(folder, entry.name), label: entry.name });
    if (files.length > MAX_PHOTO_FILES) throw new PhotoListError(`${folder} holds more than ${MAX_PHOTO_FILES} photos: import them in parts`);
  }
  return files.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

/** RFC 4180: fields in double quotes may hold commas, quotes (doubled) and line breaks. A header row `user,file` is skipped. */
function csvList(file: string): PhotoFile[] {
  if (statSync(file).size > MAX_CSV_BYTES) throw new PhotoListError(`${file} is larger than ${MAX_CSV_BYTES / 1024 / 1024} MB`);
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const folder = dirname(file);
  const files: PhotoFile[] = [];
  for (const { fields, line } of csvRows(text, file)) {
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields.length !== 2) throw new PhotoListError(`${file}:${line}: a row is user,file; this one has ${fields.length} fields`);
    const [owner = '', path = ''] = fields.map((field) => field.trim());
    if (line === 1 && owner.toLowerCase() === 'user' && path.toLowerCase() === 'file') continue;
    if (owner === '' || path === '') throw new PhotoListError(`${file}:${line}: the user and the file must both be given`);
    files.push({ owner, path: resolve(folder, path), label: `${file}:${line} ${path}` });
    if (files.length > MAX_PHOTO_FILES) throw new PhotoListError(`${file} lists more than ${MAX_PHOTO_FILES} photos: import them in parts`);
  }
  return files;
}

function* csvRows(text: string, file: string): Generator<{ fields: string[]; line: number }> {
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      yield { fields, line: rowLine };
      fields = [];
      field = '';
      line++;
      rowLine = line;
    } else {
      field += c;
    }
  }
  if (quoted) throw new PhotoListError(`${file}:${rowLine}: a quoted field is not closed`);
  if (field !== '' || fields.length > 0) yield { fields: [...fields, field], line: rowLine };
}
