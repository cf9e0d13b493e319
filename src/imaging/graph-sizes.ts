// Graph's square photo sizes and which of them a photo gets (contract §4).
// Nothing is upscaled: a size is offered only when the source covers it.

import type { Dimensions } from '../storage/store.js';

export const GRAPH_SIZES = [48, 64, 96, 120, 240, 360, 432, 504, 648] as const;

/** Square sizes after an upload whose oriented shorter side is `shortSide`, smallest first. */
export function sizesForUpload(shortSide: number): number[] {
  // Below Graph's smallest size the photo still needs one size: its own short side.
  if (shortSide < GRAPH_SIZES[0]) return [shortSide];
  return GRAPH_SIZES.filter((s) => s <= shortSide);
}

/** Sizes after a PATCH to width×height: W×H plus every standard square that fits, ordered by width then height. */
export function sizesForResize(width: number, height: number): Dimensions[] {
  const short = Math.min(width, height);
  const all: Dimensions[] = [{ width, height }, ...GRAPH_SIZES.filter((s) => s <= short).map((s) => ({ width: s, height: s }))];
  const unique = new Map(all.map((d) => [`${d.width}x${d.height}`, d]));
  return [...unique.values()].sort((a, b) => a.width - b.width || a.height - b.height);
}
