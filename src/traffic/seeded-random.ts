// A small seeded pseudo-random generator (mulberry32, public domain), so that
// `serve --simulate … --seed N` makes the same decisions in the same order every
// run: a test or a bug report can replay exactly what a client saw. Not for
// anything secret; Math.random() cannot be seeded, hence this.

/** Returns numbers in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for when none was given: printed in the banner, so the run can be repeated. */
export function newSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
