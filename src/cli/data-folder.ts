// The data folder: the SQLite file, the issuer's signing key, the self-signed TLS
// certificate and the default tenant — everything created on first use, so that
// `npm start` needs nothing but a fresh clone. Everything in it is private (private-files.ts).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { newId } from '../directory/ids.js';
import { makePrivate, makePrivateFolder, writePrivateFile } from '../private-files.js';
import { issuerKeyFile } from '../auth/built-in-issuer.js';
import { describeLocation, openStore, type StoreLocation } from '../storage/open-store.js';
import type { Store } from '../storage/store.js';
import { createSelfSignedCertificate } from '../tls/self-signed-certificate.js';
import type { ServedNames } from '../tls/served-names.js';

export function ensureDataFolder(dataDir: string): void {
  // An existing folder keeps its mode (it may be a mount, or `--data .`); its files are private.
  try {
    makePrivateFolder(dataDir);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : (error as Error).message;
    throw new DataFolderError(`cannot make the data folder ${dataDir}: ${why}`);
  }
}

/** The tenant tokens are issued for when no --tenant is given, created once per data folder. */
export async function defaultTenant(store: Store): Promise<string> {
  // Two commands starting together on a fresh folder must agree: the first claim wins.
  const tenantId = await store.claimSetting('default_tenant', newId());
  await store.ensureTenant(tenantId);
  return tenantId;
}

/** A data folder or database that holds no Portrait data: the CLI says so in one line and exits 1. */
export class DataFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataFolderError';
  }
}

/**
 * The store of an installation `serve` (or `init`) has set up, with its default tenant.
 * Commands that act on a running installation (`token`, `app`) use it instead of creating
 * one: a mistyped --data would otherwise get a new issuer key and tenant of its own, and
 * its tokens "Access token validation failure" from the server that never saw them.
 * With `issuerKey`, the folder must hold the issuer's key too. Creates nothing.
 */
export async function openInstallation(dataDir: string, location: StoreLocation, options: { readonly issuerKey: boolean }): Promise<{ store: Store; tenantId: string }> {
  const flags = `--data ${JSON.stringify(dataDir)}${location.kind === 'postgres' ? ' --database …' : ''}`;
  const fix = `start \`portrait serve ${flags}\` once (or run \`portrait init ${flags}\`), or pass the --data${location.kind === 'postgres' ? ' and --database' : ''} the server uses`;
  if (location.kind === 'sqlite' && !existsSync(location.file)) {
    throw new DataFolderError(`no Portrait data at ${location.file}: ${fix}`);
  }
  const store = await openStore(location);
  const tenantId = await store.getSetting('default_tenant');
  const problem =
    tenantId === undefined
      ? `no Portrait data in ${describeLocation(location)} (it has no default tenant)`
      : options.issuerKey && !existsSync(issuerKeyFile(dataDir))
        ? `no issuer key in ${dataDir} (issuer-key.pem), so no server would accept its tokens`
        : undefined;
  if (problem !== undefined || tenantId === undefined) {
    await store.close();
    throw new DataFolderError(`${problem}: ${fix}`);
  }
  return { store, tenantId };
}

export interface TlsFiles {
  /** The certificate clients trust (curl --cacert, NODE_EXTRA_CA_CERTS), as serve prints it. */
  readonly certPath: string;
  /** What the server presents: its certificate and key. */
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The file clients are told to trust keeps the name it always had, so a trusted path keeps working. */
const TRUSTED_FILE = 'tls-cert.pem';
const SERVER_CERT_FILE = 'tls-server-cert.pem';
const SERVER_KEY_FILE = 'tls-server-key.pem';
/** Earlier versions' key, of a CA:TRUE tls-cert.pem valid for any host. */
const FORMER_KEY_FILE = 'tls-key.pem';
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

/**
 * The CA clients trust and the server certificate it signed, in the data folder; made anew
 * when missing, when they do not cover every served name, or when near expiry.
 */
export function ensureSelfSignedCertificate(dataDir: string, names: ServedNames): TlsFiles {
  const certPath = join(dataDir, TRUSTED_FILE);
  const serverCertPath = join(dataDir, SERVER_CERT_FILE);
  const serverKeyPath = join(dataDir, SERVER_KEY_FILE);
  const existing = readUsable(certPath, serverCertPath, serverKeyPath, names);
  if (existing !== undefined) {
    for (const path of [certPath, serverCertPath, serverKeyPath]) makePrivate(path);
    return { certPath, ...existing };
  }
  const made = createSelfSignedCertificate({ ...names, days: 365 });
  const formerKeyPath = join(dataDir, FORMER_KEY_FILE);
  const formerKeySignsTrusted = signsCertificate(formerKeyPath, certPath);
  // Each file whole; the trusted one last. A crash in between leaves files that do not
  // agree, which the next start replaces (readUsable).
  writePrivateFile(serverKeyPath, made.keyPem);
  writePrivateFile(serverCertPath, made.certPem);
  writePrivateFile(certPath, made.caPem);
  // Whoever reads that key can sign for any host in every process that still trusts the
  // CA:TRUE certificate this replaced (a copy, or one loaded before): it must not stay.
  if (formerKeySignsTrusted) rmSync(formerKeyPath, { force: true });
  return { certPath, cert: Buffer.from(made.certPem), key: Buffer.from(made.keyPem) };
}

/** The server's certificate and key when all three files agree, cover `names` and are not near expiry. */
function readUsable(caPath: string, certPath: string, keyPath: string, names: ServedNames): { cert: Buffer; key: Buffer } | undefined {
  if (![caPath, certPath, keyPath].every((path) => existsSync(path))) return undefined;
  try {
    const cert = readFileSync(certPath);
    const key = readFileSync(keyPath);
    const ca = new X509Certificate(readFileSync(caPath));
    const server = new X509Certificate(cert);
    const usable =
      ca.ca &&
      !server.ca &&
      server.checkIssued(ca) &&
      server.verify(ca.publicKey) &&
      server.checkPrivateKey(createPrivateKey(key)) &&
      names.dnsNames.every((name) => server.checkHost(name, { subject: 'never', wildcards: false }) !== undefined) &&
      names.ipAddresses.every((ip) => server.checkIP(ip) !== undefined) &&
      [ca, server].every((x509) => Date.parse(x509.validTo) - Date.now() >= RENEW_BEFORE_MS);
    return usable ? { cert, key } : undefined;
  } catch {
    return undefined; // unreadable or not a certificate: make new ones
  }
}

function signsCertificate(keyPath: string, certPath: string): boolean {
  try {
    return new X509Certificate(readFileSync(certPath)).checkPrivateKey(createPrivateKey(readFileSync(keyPath)));
  } catch {
    return false;
  }
}
