// PATCH /photo with a JSON body: what may be sent and what it means (contract §3.3).
// The documented examples send {"height":99,"width":99} and expect a 99X99 photo.
// The schema is published as profilePhotoUpdate in openapi.json; the bounds it
// checks here are the current photo's master, which only the store knows.
import { errors } from '../errors.js';
import { validateBody, type JsonSchema } from '../http/body-schema.js';
import { MASTER_MAX_LONG_SIDE } from '../imaging/render-photo.js';
import type { Dimensions, PhotoInfo } from '../storage/store.js';

const PROFILE_PHOTO_TYPE = 'microsoft.graph.profilePhoto';

/** The body schema for a photo whose master is `max`: width and height at most its sides. */
export function photoUpdateSchema(max: Dimensions = { width: MASTER_MAX_LONG_SIDE, height: MASTER_MAX_LONG_SIDE }): JsonSchema {
  return {
    type: 'object',
    title: 'profilePhoto',
    additionalProperties: false,
    // Annotations (@odata.context, @odata.mediaEtag, …) are ignored, so a GET's body can be sent back.
    patternProperties: { '^@': {} },
    properties: {
      '@odata.type': { type: 'string', const: `#${PROFILE_PHOTO_TYPE}` },
      id: { description: 'Read-only: accepted only when it is the current id.' },
      width: { type: 'integer', minimum: 1, maximum: max.width, description: 'At most the kept master’s width.' },
      height: { type: 'integer', minimum: 1, maximum: max.height, description: 'At most the kept master’s height.' },
    },
    examples: [{ height: 99, width: 99 }],
  };
}

/** The requested W×H, validated against the current version; errors name the first offending member. */
export function parseResizeRequest(body: unknown, current: PhotoInfo): Dimensions {
  validateBody(photoUpdateSchema(current.master), body, PROFILE_PHOTO_TYPE);
  const { width, height, id } = body as { width?: number; height?: number; id?: unknown };
  const currentId = `${current.primary.width}X${current.primary.height}`;
  if (id !== undefined && (typeof id !== 'string' || id.toLowerCase() !== currentId.toLowerCase())) {
    throw errors.readOnlyProperty('id', currentId);
  }
  return { width: width ?? current.primary.width, height: height ?? current.primary.height };
}
