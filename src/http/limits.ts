/** Graph's upload limit, "4 MB": 4 MiB, the most any request body may hold (contract §3.4). */
export const BODY_LIMIT = 4 * 1024 * 1024;

/**
 * The longest any request body may take to arrive (`serve --body-timeout`). A phone on
 * slow 3G (≈ 400 kbit/s up) sends a whole 4 MiB body in ≈ 85 s; 120 s leaves room for the
 * TLS handshake, TCP slow start and a radio waking up, and still passes 4 MiB at ≈ 280 kbit/s.
 */
export const BODY_TIMEOUT_MS = 120_000;

/**
 * Past BODY_GRACE_MS, a body that has averaged less than this is refused (`serve
 * --body-min-rate`): 4 KiB/s is 32 kbit/s, below any mobile network still in use (GPRS
 * sends ≈ 40), while a body dribbled at 1 byte/s is refused after the grace period.
 */
export const BODY_MIN_BYTES_PER_SECOND = 4096;

/** The first seconds of a body are not judged by its rate: handshakes, slow start, radio wake-up. */
export const BODY_GRACE_MS = 10_000;

/**
 * The default budget for the bytes of all request bodies in flight (`serve --body-memory-mb`):
 * a whole 4 MiB body for every upload slot and queue place (uploads are read before they
 * wait for a slot, so a waiting upload holds its body) up to 16 of them, plus 64 MiB for
 * JSON, $batch and token bodies beside them: 128 MiB with the default slots and queue. Not
 * more: 16 uploads of 4 MB at once are what the 400 MiB peak RSS target is measured with
 * (docs/performance.md, "memory"), and the render memory (imaging/) comes on top of this.
 * Past it, a body gets 503 with Retry-After and the client comes back.
 */
export function defaultBodyMemoryBytes(uploadPlaces: number): number {
  return Math.min(uploadPlaces, 16) * BODY_LIMIT + 64 * 1024 * 1024;
}

/**
 * After a body is refused, the rest of it is read and dropped (never kept) for at most this
 * long and this many bytes, so that the client reads the refusal rather than a reset (nginx's
 * lingering_close). Clients stop sending once they see the refusal: fetch and curl sent less
 * than 4 MiB more in trials on loopback.
 */
export const LINGER_MS = 10_000;
export const LINGER_BYTES = 8 * 1024 * 1024;
