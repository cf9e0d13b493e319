// PATCH /photo with a JSON body: what may be sent and what it means (contract §3.3).
// The documented examples send {"height":99,"width":99} and expect a 99X99 photo.
import { errors } from '../errors.js';
import type { Dimensions, PhotoInfo } from '../storage/store.js';

const PROFILE_PHOTO_TYPE = 'microsoft.graph.profilePhoto';

/** The requested W×H, validated against the current version; errors name the first offending member. */
export function parseResizeRequest(body: unknown, current: PhotoInfo): Dimensions {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.badJson();
  const currentId = `${current.primary.width}X${current.primary.height}`;
  let width = current.primary.width;
  let height = current.primary.height;
  for (const [name, value] of Object.entries(body)) {
    switch (name) {
      case 'width':
        width = dimension(name, value, current.master.width);
        break;
      case 'height':
        height = dimension(name, value, current.master.height);
        break;
      case 'id':
        if (typeof value !== 'string' || value.toLowerCase() !== currentId.toLowerCase()) {
          throw errors.readOnlyProperty('id', currentId);
        }
        break;
      case '@odata.type':
        if (value !== `#${PROFILE_PHOTO_TYPE}`) {
          throw errors.invalidProperty('@odata.type', `'#${PROFILE_PHOTO_TYPE}'`, value);
        }
        break;
      default:
        // Other annotations (@odata.context, @odata.mediaEtag, …) are ignored, so a GET body can be sent back.
        if (!name.startsWith('@')) throw errors.unknownProperty(name, PROFILE_PHOTO_TYPE);
    }
  }
  return { width, height };
}

function dimension(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw errors.invalidProperty(name, `an integer from 1 to ${max}`, value);
  }
  return value;
}
