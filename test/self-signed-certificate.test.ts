import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, get } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';

import { createSelfSignedCertificate } from '../src/tls/self-signed-certificate.js';
import type { SelfSignedCertificate } from '../src/tls/self-signed-certificate.js';

const execFileAsync = promisify(execFile);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const BODY = 'hello over tls\n';

function localhostCertificate(now?: Date): SelfSignedCertificate {
  const base = { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], days: 825 };
  return createSelfSignedCertificate(now === undefined ? base : { ...base, now });
}

// X.509 times have whole seconds; drop the milliseconds to compare.
const toSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

test('the certificate parses, names localhost, and is signed by its own key', () => {
  const now = new Date('2024-03-01T12:34:56.789Z');
  const { certPem, keyPem } = localhostCertificate(now);
  assert.match(certPem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8

  const x509 = new X509Certificate(certPem);
  assert.equal(x509.subject, 'O=Portrait (development)\nCN=localhost');
  assert.equal(x509.issuer, x509.subject);
  const san = (x509.subjectAltName ?? '').split(', ');
  assert.ok(san.includes('DNS:localhost'), String(x509.subjectAltName));
  assert.ok(san.includes('IP Address:127.0.0.1'), String(x509.subjectAltName));
  assert.ok(san.includes('IP Address:0:0:0:0:0:0:0:1'), String(x509.subjectAltName)); // Node prints IPv6 uncompressed
  assert.equal(x509.checkHost('localhost'), 'localhost');
  assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x509.checkIP('::1'), '::1');

  assert.equal(new Date(x509.validFrom).getTime(), toSecond(now.getTime() - HOUR));
  assert.equal(new Date(x509.validTo).getTime(), toSecond(now.getTime() + 825 * DAY));

  assert.equal(x509.ca, true);
  assert.deepEqual(x509.keyUsage, ['1.3.6.1.5.5.7.3.1']); // Node reports extKeyUsage here: serverAuth
  assert.equal(x509.publicKey.asymmetricKeyType, 'ec');
  assert.equal(x509.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  // Positive 16-byte serial: at most 32 hex digits, top bit clear.
  assert.ok(x509.serialNumber.length <= 32 && parseInt(x509.serialNumber.padStart(32, '0').slice(0, 2), 16) < 0x80);
  assert.notEqual(localhostCertificate(now).certPem, certPem); // fresh key and serial each time

  assert.equal(x509.verify(x509.publicKey), true);
  assert.equal(x509.checkPrivateKey(createPrivateKey(keyPem)), true);
  assert.equal(x509.checkPrivateKey(createPrivateKey(localhostCertificate(now).keyPem)), false);
});

test('IPv6 forms are encoded as 16 bytes and dates from 2050 still parse', () => {
  const now = new Date('2049-12-01T00:00:00Z');
  const { certPem } = createSelfSignedCertificate({
    commonName: 'portrait.test',
    dnsNames: ['portrait.test', '*.portrait.test'],
    ipAddresses: ['fe80::1:2', '::ffff:10.1.2.3', '2001:db8::', '::', '1:2:3:4:5:6:7:8'],
    days: 365,
    now,
  });
  const x509 = new X509Certificate(certPem);
  assert.equal(
    x509.subjectAltName,
    'DNS:portrait.test, DNS:*.portrait.test, IP Address:FE80:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:FFFF:A01:203, ' +
      'IP Address:2001:DB8:0:0:0:0:0:0, IP Address:0:0:0:0:0:0:0:0, IP Address:1:2:3:4:5:6:7:8',
  );
  // notBefore is UTCTime (2049), notAfter GeneralizedTime (2050).
  assert.equal(new Date(x509.validFrom).getTime(), now.getTime() - HOUR);
  assert.equal(new Date(x509.validTo).getTime(), now.getTime() + 365 * DAY);
  assert.equal(x509.verify(x509.publicKey), true);

  const base = { commonName: 'x', dnsNames: [], days: 1 };
  assert.throws(() => createSelfSignedCertificate({ ...base, ipAddresses: ['localhost'] }), TypeError);
  assert.throws(() => createSelfSignedCertificate({ ...base, ipAddresses: ['fe80::1%eth0'] }), TypeError);
  assert.throws(() => createSelfSignedCertificate({ ...base, ipAddresses: [], dnsNames: ['bücher.test'] }), TypeError);
});

// A real HTTPS server with the certificate; closed when the test ends.
async function startServer(t: TestContext, cert: SelfSignedCertificate): Promise<number> {
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(BODY);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

function fetchWithCa(url: string, ca: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    // `ca` replaces Node's bundled roots, so only our certificate is trusted;
    // family 4 because the server listens on 127.0.0.1 and localhost may resolve to ::1.
    get(url, { ca, family: 4, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test('node:https trusts it as its own CA, by DNS name and by IP address', async (t) => {
  const cert = localhostCertificate();
  const port = await startServer(t, cert);
  for (const host of ['localhost', '127.0.0.1']) {
    const { status, body } = await fetchWithCa(`https://${host}:${port}/`, cert.certPem);
    assert.equal(status, 200, host);
    assert.equal(body, BODY, host);
  }
  // And a different self-signed certificate is not trusted for it.
  await assert.rejects(fetchWithCa(`https://127.0.0.1:${port}/`, localhostCertificate().certPem), {
    code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
  });
});

test('curl --cacert trusts it', async (t) => {
  try {
    await execFileAsync('curl', ['--version']);
  } catch {
    t.skip('curl is not installed');
    return;
  }
  const cert = localhostCertificate();
  const port = await startServer(t, cert);
  const dir = await mkdtemp(join(tmpdir(), 'portrait-cert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'cert.pem');
  await writeFile(caFile, cert.certPem);

  for (const url of [`https://127.0.0.1:${port}/`, `https://localhost:${port}/`]) {
    // Async execFile: a sync child would block this process's event loop, and with it the server.
    // -q skips ~/.curlrc; --noproxy keeps any *_proxy environment out of the way.
    const { stdout } = await execFileAsync('curl', ['-q', '--silent', '--show-error', '--fail', '--ipv4', '--noproxy', '*', '--cacert', caFile, url]);
    assert.equal(stdout, BODY, url); // execFile rejects on a non-zero exit, so reaching here means exit 0
  }
});
