// A Portrait app around a temporary SQLite file and a fresh issuer key, with
// helpers to mint the tokens a test needs. Every harness registers its own teardown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { defaultDecodeMemoryMb } from '../../src/config.js';
import { Applications } from '../../src/auth/applications.js';
import { AuthorizationGrants } from '../../src/auth/authorization-grants.js';
import type { ClientSecretVerifier } from '../../src/auth/client-secret-verifier.js';
import { issueToken, loadOrCreateIssuerKey, type IssuerKey } from '../../src/auth/built-in-issuer.js';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import { Directory } from '../../src/directory/directory.js';
import { idFromName, newId } from '../../src/directory/ids.js';
import { renderResize, renderUpload } from '../../src/imaging/render-photo.js';
import { DecodeBudget } from '../../src/photos/decode-budget.js';
import { PhotoCache } from '../../src/photos/photo-cache.js';
import { PhotoService } from '../../src/photos/photo-service.js';
import type { CorsPolicy } from '../../src/http/cors.js';
import { HotReads } from '../../src/http/hot-reads.js';
import type { SignInMode } from '../../src/http/sign-in-routes.js';
import { defaultBodyMemoryBytes } from '../../src/http/limits.js';
import { DEFAULT_BODY_TIMING, RequestBodies } from '../../src/http/request-bodies.js';
import { UploadGate } from '../../src/photos/upload-gate.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { PostgresStore } from '../../src/storage/postgres-store.js';
import type { Store, User } from '../../src/storage/store.js';
import { sharedScratchDatabase } from './postgres.js';

/** Which store the HTTP suites run on: PORTRAIT_TEST_STORE=postgres selects PostgreSQL. */
export const TEST_STORE: 'sqlite' | 'postgres' = process.env.PORTRAIT_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

export interface HarnessOptions {
  readonly pixelLimit?: number;
  readonly uploadConcurrency?: number;
  readonly uploadQueueLimit?: number;
  /** The memory uploads decode in; the default as `portrait serve` makes it for the upload concurrency. */
  readonly decodeBudget?: DecodeBudget;
  readonly autoProvisionUsers?: boolean;
  /** Serve the built-in issuer's OAuth endpoints too, as `portrait serve` does. */
  readonly oauth?: boolean;
  /** The store to run on; TEST_STORE (PORTRAIT_TEST_STORE) when not given. */
  readonly database?: 'sqlite' | 'postgres';
  /** The clock the read fast path's memos expire by (ms since the epoch). */
  readonly hotReadsClock?: () => number;
  /** Memos and grants the fast path keeps at most (HotReadsOptions.maxEntries). */
  readonly hotReadsMaxEntries?: number;
  /** Request bodies' bounds (http/request-bodies.ts); production's defaults when not given. */
  readonly bodyTimeoutMs?: number;
  readonly bodyMinBytesPerSecond?: number;
  readonly bodyGraceMs?: number;
  readonly bodyMemoryBytes?: number;
  /** How the token endpoint checks client secrets (its limits, clock, hashing thread); closed with the app. */
  readonly secretVerifier?: ClientSecretVerifier;
  /** People signing in at the built-in issuer (implies oauth): who may, as `portrait serve` decides it. */
  readonly signIn?: SignInMode;
  /** Which pages may call from a browser; any origin, as `portrait serve` has it, when not given. */
  readonly cors?: CorsPolicy;
}

export interface Harness {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly directory: Directory;
  readonly tenantId: string;
  readonly dataDir: string;
  readonly issuerKey: IssuerKey;
  /** The read fast path, as `portrait serve` has it: only on SQLite (one process on the store). */
  readonly hotReads: HotReads | undefined;
  /** The photo service's cache of hot sizes. */
  readonly photoCache: PhotoCache;
  /** The app's body reader, whose reservedBytes tells what its memory budget holds. */
  readonly bodies: RequestBodies;
  /** The budget uploads decode within (photos/decode-budget.ts). */
  readonly decodeBudget: DecodeBudget;
  /** Creates a user in the harness tenant (or another). */
  user(upn: string, options?: { admin?: boolean; tenantId?: string }): Promise<User>;
  /** A delegated token for a user. */
  userToken(user: User, scopes: readonly string[], options?: { admin?: boolean }): Promise<string>;
  /** An application token with roles. */
  appToken(roles: readonly string[], tenantId?: string): Promise<string>;
  close(): Promise<void>;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portrait-test-'));
  const database = options.database ?? TEST_STORE;
  const store: Store =
    database === 'postgres'
      ? await PostgresStore.open({ connectionString: await sharedScratchDatabase(), poolSize: 4 })
      : new SqliteStore({ filename: join(dataDir, 'portrait.db') });
  const issuerKey = loadOrCreateIssuerKey(dataDir);
  const tenantId = newId();
  await store.ensureTenant(tenantId);
  const directory = new Directory(store, { autoProvisionUsers: options.autoProvisionUsers ?? true });
  const decodeBudget = options.decodeBudget ?? new DecodeBudget({ bytes: defaultDecodeMemoryMb(options.uploadConcurrency ?? 2) * 1024 * 1024 });
  // The cache is on, as in production, so every suite also checks it is never stale.
  const photoCache = new PhotoCache(16 * 1024 * 1024);
  const photos = new PhotoService(
    store,
    { renderUpload, renderResize },
    { pixelLimit: options.pixelLimit ?? 50_000_000, decodeMemory: decodeBudget, cache: photoCache },
  );
  const hotReads = photos.hasCache ? new HotReads(photos, {
        ...(options.hotReadsClock && { now: options.hotReadsClock }),
        ...(options.hotReadsMaxEntries !== undefined && { maxEntries: options.hotReadsMaxEntries }),
      }) : undefined;
  const uploads = new UploadGate({ concurrency: options.uploadConcurrency ?? 2, queueLimit: options.uploadQueueLimit ?? 64 });
  const bodies = new RequestBodies({
    timeoutMs: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMING.timeoutMs,
    minBytesPerSecond: options.bodyMinBytesPerSecond ?? DEFAULT_BODY_TIMING.minBytesPerSecond,
    graceMs: options.bodyGraceMs ?? DEFAULT_BODY_TIMING.graceMs,
    memoryBytes: options.bodyMemoryBytes ?? defaultBodyMemoryBytes(uploads.places),
  });
  const app = buildApp({
    verifier: createTokenVerifier({
      builtInKey: issuerKey.publicKey,
      trustedIssuers: [],
      audiences: ['https://graph.microsoft.com'],
      clockSkewSeconds: 60,
    }),
    services: {
      directory,
      photos,
      uploads,
    },
    bodies,
    ready: () => store.ping(),
    hotReads: hotReads ?? false,
    ...(options.cors && { cors: options.cors }),
    ...((options.oauth || options.signIn) && {
      oauth: {
        ...(options.signIn && { signIn: { mode: options.signIn, directory, grants: new AuthorizationGrants(store) } }),
        issuerKey,
        applications: new Applications(store),
        audiences: ['https://graph.microsoft.com'],
        ...(options.secretVerifier && { secretVerifier: options.secretVerifier }),
      },
    }),
  });
  await app.ready();
  return {
    app,
    store,
    directory,
    tenantId,
    dataDir,
    issuerKey,
    hotReads,
    photoCache,
    bodies,
    decodeBudget,
    user: (upn, { admin = false, tenantId: tenant = tenantId } = {}) =>
      directory.createUser(tenant, { userPrincipalName: upn, displayName: upn.split('@')[0] ?? upn, isAdmin: admin }),
    userToken: (user, scopes, { admin = false } = {}) =>
      issueToken(issuerKey, {
        tenantId: user.tenantId,
        ttlSeconds: 600,
        subject: { kind: 'user', userId: user.id, userPrincipalName: user.userPrincipalName, displayName: user.displayName, scopes, admin },
      }),
    appToken: (roles, tenant = tenantId) =>
      issueToken(issuerKey, {
        tenantId: tenant,
        ttlSeconds: 600,
        subject: { kind: 'app', appId: idFromName(tenant, 'app', 'test'), name: 'test', roles },
      }),
    async close() {
      await app.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
