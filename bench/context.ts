// What every section of the bench is handed by run.ts.
import type { LoadDriver } from './load.js';
import type { Settings } from './settings.js';

export interface BenchContext {
  readonly settings: Settings;
  readonly load: LoadDriver;
  /** A new, empty folder inside the run's temporary folder (removed at the end). */
  folder(name: string): string;
  /** Progress, on stderr: stdout is the table. */
  log(message: string): void;
}
