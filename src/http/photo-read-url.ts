// The photo reads the fast path may answer for a URL it has never seen (http/hot-reads.ts):
// the bytes of a user's or group's photo, or of one of its sizes, in the one spelling the
// SDKs and Graph's own links use. Anything else — another spelling Graph also accepts (a
// UPN, an upper-case id, `photo/{size}`, `users('…')`, an escape, a query) — returns
// undefined and is left to the route, which parses every form; what is parsed here must
// name exactly what the route would resolve, so only ids in the stored form are taken.
import type { Dimensions, OwnerType } from '../storage/store.js';

export interface PhotoReadUrl {
  readonly kind: Extract<OwnerType, 'user' | 'group'>;
  /** The owner's id as stored (a lower-case GUID), or 'me' for the token's own user. */
  readonly id: string;
  /** 'primary' (photo/$value) or the size asked for. */
  readonly size: Dimensions | 'primary';
  /** The size's name in the photo cache (photo-service.ts sizeKeyOf). */
  readonly sizeKey: string;
  /** The operation the route would name in its access line and metrics (graph-api.ts). */
  readonly route: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A size as the route reads one (photo-handler.ts parseSize), in the cache's lower-case form. */
const SIZE = /^([1-9]\d{0,4})x([1-9]\d{0,4})$/;
const MAX_LENGTH = 128;

/**
 * /{v1.0|beta}/users/{id}/photo/$value, …/photos/{W}x{H}/$value, the same under groups/{id},
 * and /me/photo/$value or /me/photos/{W}x{H}/$value.
 */
export function parsePhotoReadUrl(url: string): PhotoReadUrl | undefined {
  if (url.length > MAX_LENGTH || !(url.startsWith('/v1.0/') || url.startsWith('/beta/'))) return undefined;
  const segments = url.split('/');
  // ['', version, 'users' | 'groups' | 'me', …]
  const [, , collection] = segments;
  let kind: PhotoReadUrl['kind'];
  let id: string;
  let rest: string[];
  if (collection === 'me') {
    kind = 'user';
    id = 'me';
    rest = segments.slice(3);
  } else if (collection === 'users' || collection === 'groups') {
    kind = collection === 'users' ? 'user' : 'group';
    id = segments[3] ?? '';
    if (!GUID.test(id)) return undefined;
    rest = segments.slice(4);
  } else {
    return undefined;
  }
  if (rest.length === 2 && rest[0] === 'photo' && rest[1] === '$value') {
    return { kind, id, size: 'primary', sizeKey: 'primary', route: `photo.${kind}.value` };
  }
  if (rest.length === 3 && rest[0] === 'photos' && rest[2] === '$value') {
    const match = SIZE.exec(rest[1] ?? '');
    if (match === null) return undefined;
    const size = { width: Number(match[1]), height: Number(match[2]) };
    return { kind, id, size, sizeKey: `${size.width}x${size.height}`, route: `photo.${kind}.sizeValue` };
  }
  return undefined;
}
