// Keeps one process.nextTick object alive for the life of the process, so that V8 keeps
// the hidden classes ("maps") every tick object is built through.
//
// Why: every response takes five or so process.nextTick calls inside Node.js's own stream
// code (onwrite, emitReadable, endReadable, resOnFinish, destroy). nextTick builds its
// object with a literal whose keys are computed ({ [async_id_symbol]: …, callback, args }),
// and V8 (Node.js 20's and 24's alike) keeps such a property definition fast only while
// its inline cache is monomorphic: it remembers one map, weakly, and the first time it
// sees another — or finds that one collected — it turns megamorphic for good and defines
// each property through the runtime from then on. In a server that has loaded as much as
// Portrait, a full garbage collection at a moment when no tick object is alive collects
// those maps, and the first request after it turns the cache megamorphic: measured, the
// runtime's property definitions then cost 3–4 µs of CPU per read (about a tenth of a
// cached read) that a bare node:http server never pays. A tick object held here holds its
// map, and through the map's back pointers every map before it, so the remembered maps
// stay alive and the cache stays monomorphic. docs/performance.md has the numbers.
//
// It must run before a collection has freed the maps the caches remember: first thing in
// `portrait serve` (cli/serve.ts), before the server is built. Later it may change nothing.
import { createHook } from 'node:async_hooks';

let kept: object | undefined;

/** Holds the next tick object made, once per process. */
export function keepTickObjectShape(): void {
  if (kept !== undefined) return;
  // An async hook is the only way to see a tick object; on only for this one nextTick.
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && kept === undefined) kept = resource as object;
    },
  });
  hook.enable();
  try {
    process.nextTick(noop);
  } finally {
    hook.disable();
  }
}

function noop(): void {}
