// Loaded with --import into a `portrait serve` started with --allow-natives-syntax
// (tick-shape.test.ts): on SIGUSR2 it prints V8's own description of process.nextTick,
// its inline caches among it, then a line that says it is done.
const debugPrint = new Function('value', '%DebugPrint(value)') as (value: unknown) => void;

process.on('SIGUSR2', () => {
  debugPrint(process.nextTick);
  process.stdout.write('\ntick feedback printed\n');
});
