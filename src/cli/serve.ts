// `portrait serve`: opens the store, builds the app, listens, and on SIGINT or
// SIGTERM stops accepting, lets in-flight requests finish (bounded), closes the
// database and resolves — the entry point exits 0.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { buildApp } from '../app.js';
import { CorsPolicy } from '../http/cors.js';
import { BODY_GRACE_MS, defaultBodyMemoryBytes } from '../http/limits.js';
import { RequestBodies } from '../http/request-bodies.js';
import { closeOthers, listenOnAll } from './listen.js';
import { Applications } from '../auth/applications.js';
import { loadOrCreateIssuerKey } from '../auth/built-in-issuer.js';
import { createTokenVerifier } from '../auth/token-verifier.js';
import { loadServeConfig, type Config } from '../config.js';
import { Directory } from '../directory/directory.js';
import { renderResize, renderUpload } from '../imaging/render-photo.js';
import { PhotoCache } from '../photos/photo-cache.js';
import { DecodeBudget } from '../photos/decode-budget.js';
import { PhotoService } from '../photos/photo-service.js';
import { UploadGate } from '../photos/upload-gate.js';
import { describeLocation, openStore } from '../storage/open-store.js';
import { servedNames } from '../tls/served-names.js';
import { FaultPlan } from '../traffic/fault-plan.js';
import { FaultSimulator } from '../traffic/fault-simulator.js';
import { describeFaultRule } from '../traffic/fault-spec.js';
import { newSeed } from '../traffic/seeded-random.js';
import { Throttle } from '../traffic/throttle.js';
import { describeLimits } from '../traffic/throttle-spec.js';
import { defaultTenant, ensureDataFolder, ensureSelfSignedCertificate } from './data-folder.js';

export async function serve(argv: readonly string[]): Promise<void> {
  const config = loadServeConfig(argv);
  // One libvips thread per image (sharp's own default on glibc, where more threads
  // fragment memory): parallelism comes from uploads running side by side on libuv's
  // pool, whose default of 4 threads covers the default of 2 uploads per core on 2 cores.
  sharp.concurrency(Number(process.env.VIPS_CONCURRENCY ?? 1));
  // No libvips operation cache: every upload is a new image, so it never hits, and it
  // would keep up to 50 MB of decoded pixels alive between uploads.
  sharp.cache(false);
  ensureDataFolder(config.dataDir);
  const store = await openStore(config.database);
  const tenantId = await defaultTenant(store);
  const issuerKey = loadOrCreateIssuerKey(config.dataDir);
  const tls = tlsFiles(config);
  // Off by default (development); on PostgreSQL the nodes share one budget (traffic/throttle.ts).
  const throttle =
    config.throttleLimits.length === 0
      ? undefined
      : new Throttle(config.throttleLimits, { ledger: store.usage, onSyncError: (error) => app.log.warn({ err: error }, 'throttle: could not share counts') });
  const seed = config.seed ?? newSeed();
  const faults = config.faultRules.length === 0 ? undefined : new FaultSimulator(new FaultPlan(config.faultRules, seed), { maxDelayed: config.maxDelayed });

  const app = buildApp({
    verifier: createTokenVerifier({
      builtInKey: issuerKey.publicKey,
      trustedIssuers: config.trustedIssuers,
      audiences: config.audiences,
      clockSkewSeconds: config.clockSkewSeconds,
    }),
    services: {
      directory: new Directory(store, { autoProvisionUsers: config.autoProvisionUsers }),
      photos: new PhotoService(
        store,
        { renderUpload, renderResize },
        {
          pixelLimit: config.pixelLimit,
          decodeMemory: new DecodeBudget({ bytes: config.decodeMemoryBytes }),
          cache: config.cacheBytes > 0 ? new PhotoCache(config.cacheBytes) : undefined,
        },
      ),
      uploads: new UploadGate({ concurrency: config.uploadConcurrency, queueLimit: config.uploadQueueLimit }),
    },
    publicUrl: config.publicUrl,
    bodies: new RequestBodies({
      timeoutMs: config.bodyTimeoutMs,
      minBytesPerSecond: config.bodyMinBytesPerSecond,
      graceMs: BODY_GRACE_MS,
      memoryBytes: config.bodyMemoryBytes ?? defaultBodyMemoryBytes(config.uploadConcurrency + config.uploadQueueLimit),
    }),
    cors: new CorsPolicy(config.corsOrigins),
    oauth: { issuerKey, applications: new Applications(store), audiences: config.audiences },
    ready: () => store.ping(),
    logger: { level: config.logLevel },
    https: tls && { cert: tls.cert, key: tls.key },
    throttle,
    faults,
  });

  const listening = await listenOnAll(app, config.host, config.port);
  const { port } = listening;
  const url = `${tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const databaseFlag = config.database.kind === 'postgres' ? ` --database ${describeLocation(config.database)}` : '';
  const dataFlag = `--data ${JSON.stringify(config.dataDir)}${databaseFlag}`;
  // The signal handlers before the banner: whoever waits for the banner may signal at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stdout.write(`${signal}: finishing in-flight requests\n`);
      const force = setTimeout(() => {
        app.server.closeAllConnections();
        closeOthers(listening, true);
      }, config.shutdownTimeoutMs);
      force.unref();
      closeOthers(listening, false);
      void app
        .close()
        .catch((error: unknown) => app.log.error({ err: error }, 'while closing'))
        .finally(() => {
          clearTimeout(force);
          resolve();
        });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stdout.write(
    [
      `Portrait is serving Microsoft Graph photos at ${url}/v1.0 (and /beta)`,
      `  data:        ${describeLocation(config.database)}`,
      tls ? `  certificate: ${tls.certPath}  (curl --cacert, or NODE_EXTRA_CA_CERTS)` : '  TLS: off',
      `  tenant:      ${tenantId}`,
      `  get a token: npx portrait token ${dataFlag} --user alice@contoso.com`,
      ...(throttle ? [`  throttling:  ${describeLimits(throttle.limits)}${store.usage ? ' (shared by the nodes on this database)' : ' (per process)'}`] : []),
      ...config.faultRules.map((rule) => `  simulating:  ${describeFaultRule(rule)}  (--seed ${seed}; answers marked x-portrait-simulated)`),
      '',
    ].join('\n'),
  );

  await stopped;
  await throttle?.close();
  await store.close();
}

function tlsFiles(config: Config): { certPath: string; cert: Buffer; key: Buffer } | undefined {
  switch (config.tls.mode) {
    case 'none':
      return undefined;
    case 'files':
      return { certPath: config.tls.certFile, cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
    case 'self-signed':
      return ensureSelfSignedCertificate(config.dataDir, servedNames(config.host, config.publicUrl));
  }
}
