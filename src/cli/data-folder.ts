// The data folder: the SQLite file, the issuer's signing key, the self-signed TLS
// certificate and the default tenant — everything created on first use, so that
// `npm start` needs nothing but a fresh clone. Everything in it is private (private-files.ts).
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newId } from '../directory/ids.js';
import { makePrivate, makePrivateFolder, writePrivateFile } from '../private-files.js';
import type { Store } from '../storage/store.js';
import { createSelfSignedCertificate } from '../tls/self-signed-certificate.js';

export function ensureDataFolder(dataDir: string): void {
  // An existing folder keeps its mode (it may be a mount, or `--data .`); its files are private.
  makePrivateFolder(dataDir);
}

/** The tenant tokens are issued for when no --tenant is given, created once per data folder. */
export async function defaultTenant(store: Store): Promise<string> {
  // Two commands starting together on a fresh folder must agree: the first claim wins.
  const tenantId = await store.claimSetting('default_tenant', newId());
  await store.ensureTenant(tenantId);
  return tenantId;
}

export interface TlsFiles {
  readonly certPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A certificate for localhost and 127.0.0.1 in the data folder, made anew when missing or near expiry. */
export function ensureSelfSignedCertificate(dataDir: string): TlsFiles {
  const certPath = join(dataDir, 'tls-cert.pem');
  const keyPath = join(dataDir, 'tls-key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath) || expiresSoon(readFileSync(certPath))) {
    const { certPem, keyPem } = createSelfSignedCertificate({
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      days: 365,
    });
    writePrivateFile(keyPath, keyPem);
    writePrivateFile(certPath, certPem);
  } else {
    for (const path of [certPath, keyPath]) makePrivate(path);
  }
  return { certPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}

function expiresSoon(pem: Buffer): boolean {
  try {
    const validTo = Date.parse(new X509Certificate(pem).validTo);
    return validTo - Date.now() < 7 * 24 * 3600 * 1000;
  } catch {
    return true;
  }
}
