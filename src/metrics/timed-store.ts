// A Store whose every call is timed into one histogram, by method: the stores themselves
// stay free of metrics, and a method added to the interface is timed without anyone
// remembering to. The method name is the only label, so the series are as many as the
// interface has methods.
import type { Store } from '../storage/store.js';
import type { Histogram } from './metrics-registry.js';

export function timedStore(store: Store, seconds: Histogram<'method'>): Store {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      // The store itself as `this`: its private fields are not reachable through a proxy.
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      let timed = wrapped.get(property);
      if (timed === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        const labels = { method: property };
        timed = (...args: unknown[]) => {
          const started = performance.now();
          const result = method.apply(target, args);
          const done = () => seconds.observe(labels, (performance.now() - started) / 1000);
          // A synchronous read (readPhotoContentNow) is done when it returns.
          if (result instanceof Promise) result.then(done, done);
          else done();
          return result;
        };
        wrapped.set(property, timed);
      }
      return timed;
    },
  });
}
