// The Graph API, called exactly as any client calls it (same origin, a bearer token), and
// its errors turned into sentences for people: a code of docs/errors.md names the string.
import { accessToken } from './auth.js';

const SENTENCES = {
  RequestEntityTooLarge: 'errTooLarge',
  ImagePixelLimitExceeded: 'errPixels',
  UnsupportedImageFormat: 'errFormat',
  InvalidImage: 'errInvalid',
  ImageTooLargeToDecode: 'errDecode',
  TooManyRequests: 'errBusy',
  serviceNotAvailable: 'errBusy',
  Authorization_RequestDenied: 'errDenied',
  InvalidAuthenticationToken: 'errSignedOut',
  Request_ResourceNotFound: 'errNotFound',
  resourceModified: 'errChanged',
};

/** A failed call: `key` names the sentence to show (with `values`), `code` is Graph's. */
export class GraphFailure extends Error {
  constructor(status, code, key, values = {}) {
    super(code ?? `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.key = key;
    this.values = values;
  }
}

/** fetch(/v1.0 + path) with the token; resolves to the Response when it is 2xx, else throws a GraphFailure. */
export async function graph(path, { method = 'GET', body, headers = {} } = {}) {
  const token = await accessToken();
  if (token === undefined) throw new GraphFailure(401, 'InvalidAuthenticationToken', 'errSignedOut');
  let response;
  try {
    response = await fetch(`/v1.0${path}`, { method, body, headers: { ...headers, authorization: `Bearer ${token}` } });
  } catch {
    // An upload over the limit may be cut off by the server before its answer is read.
    throw new GraphFailure(0, undefined, 'errNetwork');
  }
  if (response.ok) return response;
  const answer = await response.json().catch(() => ({}));
  const code = answer?.error?.code;
  if (response.status === 413) throw new GraphFailure(413, code, 'errTooLarge');
  throw new GraphFailure(response.status, code, SENTENCES[code] ?? 'errGeneric', { status: response.status });
}

/** The photo of `owner` ('/me', '/users/{id}', '/groups/{id}') at `size` as a blob: URL, or undefined when it has none. */
export async function photoUrl(owner, size) {
  try {
    const response = await graph(`${owner}/photos/${size}x${size}/$value`);
    return URL.createObjectURL(await response.blob());
  } catch (error) {
    if (error instanceof GraphFailure && error.status === 404) return undefined;
    throw error;
  }
}

export function putPhoto(owner, blob) {
  return graph(`${owner}/photo/$value`, { method: 'PUT', body: blob, headers: { 'content-type': blob.type || 'application/octet-stream' } });
}

export function deletePhoto(owner) {
  return graph(`${owner}/photo`, { method: 'DELETE' });
}
