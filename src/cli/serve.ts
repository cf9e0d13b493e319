// `portrait serve`: opens the store, builds the app, listens, and on SIGINT or
// SIGTERM stops accepting, lets in-flight requests finish (bounded), closes the
// database and resolves — the entry point exits 0.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { buildApp } from '../app.js';
import { CorsPolicy } from '../http/cors.js';
import { BODY_GRACE_MS, defaultBodyMemoryBytes } from '../http/limits.js';
import { RequestBodies } from '../http/request-bodies.js';
import type { SignInMode } from '../http/sign-in-routes.js';
import { keepTickObjectShape } from '../http/tick-shape.js';
import { closeOthers, isWildcard, listenOnAll, ListenError, localUrl, remoteUrl } from './listen.js';
import { listenForMetrics } from '../http/metrics-route.js';
import { PortraitMetrics } from '../metrics/portrait-metrics.js';
import { joinedStdout } from './log-stream.js';
import { Applications } from '../auth/applications.js';
import { AuthorizationGrants } from '../auth/authorization-grants.js';
import { loadOrCreateIssuerKey } from '../auth/built-in-issuer.js';
import { WEB_APP_CLIENT_ID, WEB_APP_SCOPES } from '../auth/web-app-client.js';
import { WebAssets } from '../http/web-assets.js';
import { createTokenVerifier } from '../auth/token-verifier.js';
import { loadServeConfig, SERVE_OPTIONS, type Config, type Environment } from '../config.js';
import { Directory } from '../directory/directory.js';
import { renderResize, renderUpload } from '../imaging/render-photo.js';
import { PhotoCache } from '../photos/photo-cache.js';
import { DecodeBudget } from '../photos/decode-budget.js';
import { PhotoService } from '../photos/photo-service.js';
import { UploadGate } from '../photos/upload-gate.js';
import { describeLocation, openStore } from '../storage/open-store.js';
import { servedNames } from '../tls/served-names.js';
import type { CommandHelp } from './command-help.js';
import { FaultPlan } from '../traffic/fault-plan.js';
import { FaultSimulator } from '../traffic/fault-simulator.js';
import { describeFaultRule } from '../traffic/fault-spec.js';
import { newSeed } from '../traffic/seeded-random.js';
import { Throttle } from '../traffic/throttle.js';
import { describeLimits } from '../traffic/throttle-spec.js';
import { defaultTenant, ensureDataFolder, ensureSelfSignedCertificate } from './data-folder.js';

export const SERVE_HELP: CommandHelp = {
  usage: ['portrait serve [--data DIR] [--host H] [--port P] [--tls-cert FILE --tls-key FILE | --no-tls] [--database FILE|postgres://…] [flags…]'],
  summary:
    'Serves the Microsoft Graph photo API until SIGINT or SIGTERM, then finishes the requests in flight and exits 0. ' +
    'The first start sets up the data folder: the database, a default tenant, the issuer key and a self-signed certificate.',
  flags: SERVE_OPTIONS,
  environment: 'all',
};

/** serve could not start for a reason of its own (a TLS file it cannot use): one line, exit 1. */
export class ServeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServeError';
  }
}

export async function serve(argv: readonly string[], env: Environment = {}): Promise<void> {
  // Before anything serves: see http/tick-shape.ts.
  keepTickObjectShape();
  const config = loadServeConfig(argv, env);
  // One libvips thread per image (sharp's own default on glibc, where more threads
  // fragment memory): parallelism comes from uploads running side by side on libuv's
  // pool, whose default of 4 threads covers the default of 2 uploads per core on 2 cores.
  sharp.concurrency(Number(env.VIPS_CONCURRENCY ?? 1));
  // No libvips operation cache: every upload is a new image, so it never hits, and it
  // would keep up to 50 MB of decoded pixels alive between uploads.
  sharp.cache(false);
  ensureDataFolder(config.dataDir);
  // Before the database: a certificate that cannot be used is found without waiting on it.
  const tls = tlsFiles(config);
  const metrics = new PortraitMetrics();
  const logStream = joinedStdout();
  // Every store call timed in one place (metrics/timed-store.ts).
  const store = metrics.timeStore(await openStore(config.database));
  const tenantId = await defaultTenant(store);
  const issuerKey = loadOrCreateIssuerKey(config.dataDir);
  // Off by default (development); on PostgreSQL the nodes share one budget (traffic/throttle.ts).
  const throttle =
    config.throttleLimits.length === 0
      ? undefined
      : new Throttle(config.throttleLimits, { ledger: store.usage, onSyncError: (error) => app.log.warn({ err: error }, 'throttle: could not share counts') });
  const seed = config.seed ?? newSeed();
  const faults = config.faultRules.length === 0 ? undefined : new FaultSimulator(new FaultPlan(config.faultRules, seed), { maxDelayed: config.maxDelayed });
  const directory = new Directory(store, { autoProvisionUsers: config.autoProvisionUsers });
  // The sign-in page asks for no password: only where nobody else can reach it, or when asked.
  const signInMode: SignInMode = config.devSignIn ? 'flag' : isLoopbackHost(config.host) && config.publicUrl === undefined ? 'loopback' : 'off';
  const photoCache = config.cacheBytes > 0 ? new PhotoCache(config.cacheBytes) : undefined;
  const decodeMemory = new DecodeBudget({ bytes: config.decodeMemoryBytes });
  metrics.watch({ photoCache, decodeBudget: decodeMemory });

  const app = buildApp({
    verifier: createTokenVerifier({
      builtInKey: issuerKey.publicKey,
      trustedIssuers: config.trustedIssuers,
      audiences: config.audiences,
      clockSkewSeconds: config.clockSkewSeconds,
    }),
    services: {
      directory,
      photos: new PhotoService(
        store,
        { renderUpload, renderResize },
        {
          pixelLimit: config.pixelLimit,
          decodeMemory,
          cache: photoCache,
          timings: metrics.photoTimings,
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
    oauth: {
      issuerKey,
      applications: new Applications(store),
      audiences: config.audiences,
      signIn: { mode: signInMode, directory, grants: new AuthorizationGrants(store), webAppHosts: webAppHosts(config) },
    },
    ready: () => store.ping(),
    logger: { level: config.logLevel, stream: logStream },
    https: tls && { cert: tls.cert, key: tls.key },
    throttle,
    faults,
    metrics,
    web: {
      assets: new WebAssets(),
      tenantId,
      clientId: config.webSignIn?.clientId ?? WEB_APP_CLIENT_ID,
      authority: config.webSignIn?.authority,
      scopes: config.webScopes ?? WEB_APP_SCOPES,
    },
  });

  const listening = await listenOnAll(app, config.host, config.port);
  const { port } = listening;
  const url = localUrl(Boolean(tls), config.host, port);
  const metricsServer = config.metricsPort === undefined ? undefined : await listenMetrics(metrics, config.metricsHost, config.metricsPort);
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
      metricsServer?.close();
      metricsServer?.closeAllConnections();
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
      ...(isWildcard(config.host) ? [`  listening:   on every address; other machines use ${remoteUrl(Boolean(tls), port)}`] : []),
      `  data:        ${describeLocation(config.database)}`,
      tls ? `  certificate: ${tls.certPath}  (curl --cacert, or NODE_EXTRA_CA_CERTS)` : '  TLS: off',
      `  tenant:      ${tenantId}`,
      `  get a token: npx portrait token ${dataFlag} --user alice@contoso.com`,
      `  web app:     ${url}/${config.webSignIn ? ` (people sign in at ${config.webSignIn.authority})` : ''}`,
      signInMode === 'off'
        ? '  sign-in:     off (others can reach this server; --dev-sign-in turns the password-less page on)'
        : `  sign-in:     ${url}/${tenantId}/oauth2/v2.0/authorize, no password (${signInMode === 'flag' ? '--dev-sign-in' : 'this machine only'})`,
      ...(throttle ? [`  throttling:  ${describeLimits(throttle.limits)}${store.usage ? ' (shared by the nodes on this database)' : ' (per process)'}`] : []),
      ...config.faultRules.map((rule) => `  simulating:  ${describeFaultRule(rule)}  (--seed ${seed}; answers marked x-portrait-simulated)`),
      metricsServer
        ? `  metrics:     ${localUrl(false, config.metricsHost, (metricsServer.address() as AddressInfo).port)}/metrics`
        : `  metrics:     ${url}/metrics, with a Reports.Read.All token (or --metrics-port)`,
      '',
    ].join('\n'),
  );

  await stopped;
  await throttle?.close();
  logStream.flush();
  metrics.close();
  await store.close();
}

async function listenMetrics(metrics: PortraitMetrics, host: string, port: number): Promise<Server> {
  try {
    return await listenForMetrics(metrics, host, port);
  } catch (error) {
    throw new ListenError(`cannot listen for metrics on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function tlsFiles(config: Config): { certPath: string; cert: Buffer; key: Buffer } | undefined {
  switch (config.tls.mode) {
    case 'none':
      return undefined;
    case 'files':
      return { certPath: config.tls.certFile, cert: tlsFile('--tls-cert', config.tls.certFile), key: tlsFile('--tls-key', config.tls.keyFile) };
    case 'self-signed':
      return ensureSelfSignedCertificate(config.dataDir, servedNames(config.host, config.publicUrl));
  }
}

/** A --tls-cert or --tls-key file's bytes, once it is known to hold what the flag says. */
function tlsFile(flag: '--tls-cert' | '--tls-key', path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : String(code ?? error);
    throw new ServeError(`cannot read ${flag} ${path}: ${why}`);
  }
  try {
    if (flag === '--tls-cert') new X509Certificate(bytes);
    else createPrivateKey(bytes);
  } catch {
    throw new ServeError(`${flag} ${path} does not hold a PEM ${flag === '--tls-cert' ? 'certificate' : 'private key'}`);
  }
  return bytes;
}

/** The names the web app may be reached by at the built-in issuer: those the certificate covers. */
function webAppHosts(config: Config): Set<string> {
  const names = servedNames(config.host, config.publicUrl);
  return new Set([...names.dnsNames, ...names.ipAddresses].map((name) => name.toLowerCase()));
}

/** Names and addresses only this machine reaches. */
function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || name.startsWith('127.');
}
