// The one JSON parser for what clients send: request bodies, the PATCH photo body and
// batches. JSON.parse itself takes any depth, but what is done with a value after —
// validating it, describing it in an error message, serialising a batch step again —
// walks it recursively, and 20,000 nested arrays overflow the stack (issue 9). Graph
// bodies are a few levels deep, so a document may nest at most JSON_DEPTH_LIMIT levels,
// checked on the text before anything is built from it.

/** Arrays and objects inside one another, the document itself counted as the first. */
export const JSON_DEPTH_LIMIT = 64;

export type ParsedJson =
  | { readonly ok: true; readonly value: unknown }
  /** tooDeep: it nests deeper than the limit (whether or not it would parse); else not JSON. */
  | { readonly ok: false; readonly tooDeep: boolean };

export function parseJson(bytes: Buffer, limit: number = JSON_DEPTH_LIMIT): ParsedJson {
  const text = bytes.toString('utf8');
  if (nestsDeeperThan(text, limit)) return { ok: false, tooDeep: true };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, tooDeep: false };
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Counts brackets outside strings, stopping at the first one past the limit. Strings are
 * skipped with indexOf, so a batch carrying a base64 image costs a memchr, not a loop.
 */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      at = closingQuote(text, at);
      if (at < 0) return false; // an unterminated string: JSON.parse says what is wrong
    } else if (code === OPEN_ARRAY || code === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (code === CLOSE_ARRAY || code === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** The index of the quote that ends the string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    // Escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}
