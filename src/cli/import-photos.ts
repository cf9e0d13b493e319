// `portrait import-photos DIR|FILE.csv`: a folder of photos named after their owners, or a
// CSV of `user,file`, each through the same pipeline as an upload (decoded, made upright,
// stripped, rendered at every size). Into the data folder's store — while `serve` runs on it
// too, which notices within CHANGE_NOTICE_MS — or at a remote Portrait (`--url`, `--token`).
// Run again, it skips every photo that is the one stored already.
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_PIXEL_LIMIT, defaultDecodeMemoryMb, integerFlag, parseFlagsWithEnvironment, UsageError, type Environment, type FlagTable } from '../config.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { renderResize, renderUpload } from '../imaging/render-photo.js';
import { DecodeBudget } from '../photos/decode-budget.js';
import { PhotoService } from '../photos/photo-service.js';
import { storeLocation } from '../storage/open-store.js';
import type { CommandHelp } from './command-help.js';
import { openInstallation } from './data-folder.js';
import { PhotoListError, readPhotoList } from './photo-files.js';
import { importPhotos, LocalTarget, RemoteTarget, type PhotoTarget } from './photo-import.js';
import { Progress, type Tally } from './progress.js';

const OPTIONS = {
  data: { type: 'string', value: 'DIR', description: 'the data folder serve uses (default ./data)' },
  database: { type: 'string', value: 'FILE|postgres://…', description: 'the database serve uses (default DIR/portrait.db)' },
  tenant: { type: 'string', value: 'ID', description: 'the tenant whose users and groups are named, a GUID (default: the data folder\'s default tenant)' },
  url: { type: 'string', value: 'URL', description: 'import at this Portrait instead (https://host:8443), as any Graph client, with --token' },
  token: { type: 'string', value: 'TOKEN', description: 'with --url: an access token allowed to write others\' photos (User.ReadWrite.All as an admin, or an application\'s)' },
  concurrency: { type: 'string', value: 'N', description: 'photos at once (default: two per core locally, 4 with --url)' },
  'dry-run': { type: 'boolean', description: 'find every owner and check every file, upload nothing' },
} as const satisfies FlagTable;

export const IMPORT_PHOTOS_HELP: CommandHelp = {
  usage: ['portrait import-photos DIR|FILE.csv [--data DIR] [--database URL] [--tenant ID] [--concurrency N] [--dry-run]', 'portrait import-photos DIR|FILE.csv --url URL --token TOKEN [--concurrency N] [--dry-run]'],
  summary:
    'Sets many people\'s photos at once: files named by userPrincipalName, mail or object id (alice@contoso.com.jpg), or a CSV of user,file rows. ' +
    'Each goes through the same pipeline as an upload; a photo that is the one stored already is skipped, so a run can be repeated. Lists every file that failed, and why.',
  flags: OPTIONS,
  environment: ['data', 'database', 'token'],
  notes: ['Exit status 1 when any photo failed.'],
};

/** Some photos failed: the summary above said which; exit 1. */
export class PhotosFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhotosFailedError';
  }
}

export async function importPhotosCommand(argv: readonly string[], env: Environment = {}): Promise<string> {
  const { values, positionals } = parseFlagsWithEnvironment(argv, OPTIONS, env, ['data', 'database', 'token']);
  if (positionals.length !== 1) throw new UsageError('import-photos takes one DIR or FILE.csv');
  if (values.tenant !== undefined && !GUID_PATTERN.test(values.tenant)) throw new UsageError(`--tenant must be a GUID, got '${values.tenant}'`);
  if ((values.url === undefined) !== (values.token === undefined)) throw new UsageError('--url and --token go together');
  if (values.url !== undefined && (values.data !== undefined || values.database !== undefined || values.tenant !== undefined)) {
    throw new UsageError('--url imports at a remote Portrait: --data, --database and --tenant are for a local one');
  }
  if (values.url !== undefined && !/^https?:\/\/[^/]+\/?$/.test(values.url)) throw new UsageError(`--url must be a server's origin like https://photos.contoso.com:8443, got '${values.url}'`);
  const remote = values.url !== undefined;
  const concurrency = integerFlag('--concurrency', values.concurrency, remote ? 4 : 2 * Math.max(1, cpus().length), 1, 64);

  let files;
  try {
    files = readPhotoList(positionals[0] as string);
  } catch (error) {
    if (error instanceof PhotoListError) throw new UsageError(error.message);
    throw error;
  }

  let tally: Tally;
  const progress = new Progress(files.length, process.stderr);
  // As serve: libvips one thread per image (the photos at once are the parallelism), no cache.
  sharp.concurrency(1);
  sharp.cache(false);
  const decodeMemory = new DecodeBudget({ bytes: defaultDecodeMemoryMb(concurrency) * 1024 * 1024 });
  if (remote) {
    const largestOf = async (bytes: Buffer) => {
      const rendered = await renderUpload(bytes, { pixelLimit: DEFAULT_PIXEL_LIMIT, memory: decodeMemory });
      const largest = rendered.sizes.find((size) => size.width === rendered.primary.width && size.height === rendered.primary.height);
      return largest?.bytes ?? Buffer.alloc(0);
    };
    await importPhotos(files, new RemoteTarget(values.url as string, values.token as string, largestOf), progress, {
      concurrency,
      dryRun: values['dry-run'] === true,
    });
    tally = progress.finish();
  } else {
    const dataDir = resolve(values.data ?? 'data');
    const { store, tenantId: defaultTenantId } = await openInstallation(dataDir, storeLocation(values.database, dataDir, 2), { issuerKey: false });
    try {
      const photos = new PhotoService(store, { renderUpload, renderResize }, { pixelLimit: DEFAULT_PIXEL_LIMIT, decodeMemory });
      const target: PhotoTarget = new LocalTarget(store, photos, values.tenant?.toLowerCase() ?? defaultTenantId);
      await importPhotos(files, target, progress, { concurrency, dryRun: values['dry-run'] === true });
      tally = progress.finish();
    } finally {
      await store.close();
    }
  }
  const summary = summaryOf(files.length, tally, values['dry-run'] === true);
  if (tally.failed.length > 0) {
    process.stdout.write(`${summary}\n`);
    throw new PhotosFailedError(`${tally.failed.length} of ${files.length} photos failed (listed above)`);
  }
  return summary;
}

function summaryOf(total: number, tally: Tally, dryRun: boolean): string {
  const head = dryRun
    ? `dry run: ${total} photos, ${tally.wouldWrite} would be imported, ${tally.failed.length} would fail`
    : `imported ${total} photos: ${tally.written} written, ${tally.unchanged} unchanged, ${tally.failed.length} failed`;
  return [head, ...tally.failed.map(({ label, why }) => `  failed: ${label}: ${why}`)].join('\n');
}
