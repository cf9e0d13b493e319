// Fills a data folder with users who have photos, straight through the store
// (SqliteStore.saveUser and putPhoto, what an upload ends in), without HTTP or
// rendering: one small real photo is rendered once and every user gets its sizes.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultTenant, ensureDataFolder } from '../src/cli/data-folder.js';
import { driveIdFor, idFromName } from '../src/directory/ids.js';
import { renderUpload } from '../src/imaging/render-photo.js';
import { newEtag } from '../src/photos/photo-service.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import type { NewPhoto } from '../src/storage/store.js';
import { smallPhoto } from './images.js';

/** The seeded photo's side: sizes 48, 64 and 96 and a 96×96 master, about 10 kB per user. */
const SEEDED_SIDE = 96;

export interface Seeded {
  readonly tenantId: string;
  readonly userIds: readonly string[];
  readonly seconds: number;
  /** The size of the SQLite file (and its WAL) afterwards. */
  readonly databaseBytes: number;
}

export async function seedUsersWithPhotos(dataDir: string, count: number): Promise<Seeded> {
  const rendered = await renderUpload(await smallPhoto(SEEDED_SIDE), { pixelLimit: 50_000_000 });
  ensureDataFolder(dataDir);
  const file = join(dataDir, 'portrait.db');
  const started = performance.now();
  const store = new SqliteStore({ filename: file });
  const userIds: string[] = [];
  let tenantId: string;
  try {
    tenantId = await defaultTenant(store);
    for (let i = 0; i < count; i++) {
      const id = idFromName(tenantId, 'bench-user', String(i));
      await store.saveUser({
        tenantId,
        id,
        userPrincipalName: `user${i}@bench.contoso.com`,
        displayName: `Bench User ${i}`,
        mail: null,
        userType: 'Member',
        isAdmin: false,
        driveId: driveIdFor(id),
      });
      const photo: NewPhoto = { etag: newEtag(), primary: rendered.primary, master: rendered.master, sizes: rendered.sizes };
      const outcome = await store.putPhoto({ tenantId, type: 'user', id }, photo, {});
      if (!outcome.ok) throw new Error(`seeding user ${i}: the store refused the photo`);
      userIds.push(id);
    }
  } finally {
    await store.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const databaseBytes = [file, `${file}-wal`].reduce((sum, f) => sum + (statSize(f) ?? 0), 0);
  return { tenantId, userIds, seconds, databaseBytes };
}

function statSize(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}
