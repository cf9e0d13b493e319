// `node dist/test/helpers/make-upgrade-fixtures.js OLD_CHECKOUT`: writes the stores of
// test/fixtures/upgrade/ (its README says which release made them) with the code of an
// older release, so that test/schema-upgrade.test.ts upgrades what that release really
// wrote. OLD_CHECKOUT is that release's source, built (`npx tsc -p tsconfig.json`, with
// node_modules beside it); its store, photo service and imaging code do every write, this
// file only decides what to write. PostgreSQL: a scratch database on the test server
// (test/helpers/postgres.ts), dumped with pg_dump and dropped.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from '../../src/storage/sqlite-driver.js';
import type { Store } from '../../src/storage/store.js';
import { photo } from './images.js';
import { createScratchDatabase } from './postgres.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/upgrade/', import.meta.url));
/** The schema the fixtures are of: the last migration of the release that makes them. */
const SCHEMA = 7;

// Fixed ids, so that both fixtures hold the same installation and a reader can follow it.
const UPGRADE_IDS = {
  alice: '7d1c5a52-3f0e-4d8a-9a43-0b7a1f3c2e01',
  bob: '7d1c5a52-3f0e-4d8a-9a43-0b7a1f3c2e02',
  carol: '7d1c5a52-3f0e-4d8a-9a43-0b7a1f3c2e03',
  team: '7d1c5a52-3f0e-4d8a-9a43-0b7a1f3c2e11',
  gone: '7d1c5a52-3f0e-4d8a-9a43-0b7a1f3c2e12',
  folder: '7d1c5a52-3f0e-4d8a-9a43-0b7a1f3c2e21',
  contact: '7d1c5a52-3f0e-4d8a-9a43-0b7a1f3c2e31',
} as const;

// Typed as today's modules: the script calls only what the older release had too.
interface OldRelease {
  readonly openStore: typeof import('../../src/storage/open-store.js').openStore;
  readonly defaultTenant: typeof import('../../src/cli/data-folder.js').defaultTenant;
  readonly PhotoService: typeof import('../../src/photos/photo-service.js').PhotoService;
  readonly renderUpload: typeof import('../../src/imaging/render-photo.js').renderUpload;
  readonly renderResize: typeof import('../../src/imaging/render-photo.js').renderResize;
  readonly DEFAULT_PIXEL_LIMIT: number;
}

async function loadRelease(checkout: string): Promise<OldRelease> {
  const migrations = readdirSync(join(checkout, 'src/storage/migrations/sqlite')).filter((file) => file.endsWith('.sql')).sort();
  const last = Number(migrations.at(-1)?.slice(0, 3));
  if (last !== SCHEMA) throw new Error(`${checkout} ends at migration ${last}; these fixtures are of schema ${SCHEMA}`);
  const module = (path: string) => import(pathToFileURL(join(checkout, 'dist/src', path)).href);
  if (!existsSync(join(checkout, 'dist/src/storage/open-store.js'))) throw new Error(`${checkout} is not built: run npx tsc -p tsconfig.json there`);
  const [openStore, dataFolder, photoService, render, config] = await Promise.all([
    module('storage/open-store.js'),
    module('cli/data-folder.js'),
    module('photos/photo-service.js'),
    module('imaging/render-photo.js'),
    module('config.js'),
  ]);
  return {
    openStore: openStore.openStore,
    defaultTenant: dataFolder.defaultTenant,
    PhotoService: photoService.PhotoService,
    renderUpload: render.renderUpload,
    renderResize: render.renderResize,
    DEFAULT_PIXEL_LIMIT: config.DEFAULT_PIXEL_LIMIT,
  };
}

/**
 * One small installation, as the old release writes it: a default tenant, three users, a
 * group with members, a contact in a folder, and photos of every owner type and shape —
 * one replaced and one deleted, so that photo ids have gaps and an ETag has changed.
 */
async function populate(release: OldRelease, store: Store): Promise<void> {
  const tenantId = await release.defaultTenant(store);
  const ids = UPGRADE_IDS;
  const user = (id: string, name: string, isAdmin: boolean) =>
    store.saveUser({ tenantId, id, userPrincipalName: `${name}@contoso.com`, displayName: name[0]!.toUpperCase() + name.slice(1), mail: `${name}@contoso.com`, userType: 'Member', isAdmin, driveId: `b!${name}` });
  await user(ids.alice, 'alice', true);
  await user(ids.bob, 'bob', false);
  await user(ids.carol, 'carol', false);
  await store.saveGroup({ tenantId, id: ids.team, displayName: 'Team', mailNickname: 'team', description: 'Photos survive upgrades', unified: true, hasTeam: true });
  await store.saveGroup({ tenantId, id: ids.gone, displayName: 'Gone', mailNickname: 'gone', description: null, unified: false, hasTeam: false });
  await store.addGroupMember(tenantId, ids.team, ids.alice);
  await store.addGroupMember(tenantId, ids.team, ids.bob);
  await store.saveContactFolder({ tenantId, id: ids.folder, userId: ids.carol, parentFolderId: null, displayName: 'Friends' });
  await store.saveContact({
    tenantId, id: ids.contact, userId: ids.carol, folderId: ids.folder, displayName: 'Dave Pentax', givenName: 'Dave', surname: 'Pentax',
    emailAddresses: [{ address: 'dave@example.com', name: 'Dave' }],
  });

  const photos = new release.PhotoService(store, { renderUpload: release.renderUpload, renderResize: release.renderResize }, { pixelLimit: release.DEFAULT_PIXEL_LIMIT });
  const upload = (type: 'user' | 'group' | 'contact', id: string, file: string) => photos.upload({ tenantId, type, id }, photo(file), {});
  await upload('user', ids.alice, 'Canon_40D.jpg'); // replaced below: a gap in the ids
  await upload('group', ids.gone, 'Nikon_D70.jpg'); // deleted below
  await upload('user', ids.alice, 'exif-org-canon-ixus.jpg'); // 640×480 landscape: sizes up to 432
  await upload('user', ids.bob, 'orientation-landscape_6.jpg'); // stored turned: 450×600 portrait once upright
  await upload('group', ids.team, 'Konica_Minolta_DiMAGE_Z3.jpg'); // 70×100: only 48 and 64
  await upload('contact', ids.contact, 'Pentax_K10D.jpg'); // 100×72
  await photos.delete({ tenantId, type: 'group', id: ids.gone }, {});
}

async function makeSqlite(release: OldRelease): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'portrait-upgrade-'));
  try {
    const file = join(folder, 'portrait.db');
    const store = await release.openStore({ kind: 'sqlite', file });
    try {
      await populate(release, store);
    } finally {
      await store.close();
    }
    // Compact (no free pages), still in WAL mode as every store is; closing the last
    // connection checkpoints the WAL into the file and removes it.
    const db = new Database(file);
    db.exec('VACUUM');
    db.close();
    if (existsSync(`${file}-wal`)) throw new Error(`${file}-wal is still there: the fixture would not be one file`);
    copyFileSync(file, join(FIXTURES, 'portrait-007.db'));
    process.stdout.write(`portrait-007.db: ${statSync(file).size} bytes\n`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

async function makePostgres(release: OldRelease): Promise<void> {
  const scratch = await createScratchDatabase();
  try {
    const store = await release.openStore({ kind: 'postgres', url: scratch.url, poolSize: 2 });
    try {
      await populate(release, store);
    } finally {
      await store.close();
    }
    const dump = execFileSync('pg_dump', ['--inserts', '--no-owner', '--no-privileges', '--no-comments', scratch.url], { encoding: 'utf8', maxBuffer: 64 << 20 });
    // psql's own commands (\restrict, \unrestrict of newer pg_dump) are not SQL: the test
    // loads the dump with the pg client alone.
    const sql = dump.split('\n').filter((line) => !line.startsWith('\\')).join('\n');
    writeFileSync(join(FIXTURES, 'portrait-007.pg.sql'), sql);
    process.stdout.write(`portrait-007.pg.sql: ${Buffer.byteLength(sql)} bytes\n`);
  } finally {
    await scratch.drop();
  }
}

const checkout = process.argv[2];
if (checkout === undefined) {
  process.stderr.write('usage: node dist/test/helpers/make-upgrade-fixtures.js OLD_CHECKOUT (a built checkout of the release that makes the fixtures)\n');
  process.exit(2);
}
const release = await loadRelease(resolve(checkout));
await makeSqlite(release);
await makePostgres(release);
