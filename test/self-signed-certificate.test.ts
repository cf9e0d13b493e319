import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, get } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';

import { createSelfSignedCertificate } from '../src/tls/self-signed-certificate.js';
import type { SelfSignedCertificate } from '../src/tls/self-signed-certificate.js';
import { exactAddressBase, extensionsOf, makeCertificate, nameConstraintsOf, subjectNameOf } from './helpers/x509-der.js';
import { IPV6_NAMES_BROKEN, NODE_MATCHES_IPV6_NAMES } from './helpers/node-tls.js';

const execFileAsync = promisify(execFile);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const BODY = 'hello over tls\n';
const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';

function localhostCertificate(now?: Date): SelfSignedCertificate {
  const base = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], days: 825 };
  return createSelfSignedCertificate(now === undefined ? base : { ...base, now });
}

// X.509 times have whole seconds; drop the milliseconds to compare.
const toSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;
const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/;

test('the server certificate names localhost, is a leaf, and is signed by the CA clients trust', () => {
  const now = new Date('2024-03-01T12:34:56.789Z');
  const { caPem, certPem, keyPem } = localhostCertificate(now);
  assert.match(caPem, PEM_CERTIFICATE);
  assert.match(certPem, PEM_CERTIFICATE);
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8

  const ca = new X509Certificate(caPem);
  const x509 = new X509Certificate(certPem);
  assert.equal(x509.subject, 'O=Portrait (development)\nCN=localhost');
  assert.equal(x509.issuer, ca.subject);
  assert.match(ca.subject, /^O=Portrait \(development\)\nCN=Portrait local CA [0-9a-f]{8}$/);
  assert.equal(ca.issuer, ca.subject, 'the CA is self-signed');
  const san = (x509.subjectAltName ?? '').split(', ');
  assert.ok(san.includes('DNS:localhost'), String(x509.subjectAltName));
  assert.ok(san.includes('IP Address:127.0.0.1'), String(x509.subjectAltName));
  assert.ok(san.includes('IP Address:0:0:0:0:0:0:0:1'), String(x509.subjectAltName)); // Node prints IPv6 uncompressed
  assert.equal(x509.checkHost('localhost'), 'localhost');
  assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x509.checkIP('::1'), '::1');

  for (const certificate of [ca, x509]) {
    assert.equal(new Date(certificate.validFrom).getTime(), toSecond(now.getTime() - HOUR));
    assert.equal(new Date(certificate.validTo).getTime(), toSecond(now.getTime() + 825 * DAY));
    assert.equal(certificate.publicKey.asymmetricKeyType, 'ec');
    assert.equal(certificate.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    // Positive 16-byte serial: at most 32 hex digits, top bit clear.
    assert.ok(certificate.serialNumber.length <= 32 && parseInt(certificate.serialNumber.padStart(32, '0').slice(0, 2), 16) < 0x80);
  }

  assert.equal(x509.ca, false, 'the server certificate is no CA');
  assert.deepEqual(x509.keyUsage, ['1.3.6.1.5.5.7.3.1']); // Node reports extKeyUsage here: serverAuth
  const leafExtensions = extensionsOf(x509);
  assert.deepEqual(leafExtensions.get(BASIC_CONSTRAINTS), { critical: true, value: Buffer.from([0x30, 0]) }); // cA FALSE
  assert.deepEqual(leafExtensions.get(KEY_USAGE), { critical: true, value: Buffer.from([0x03, 0x02, 0x07, 0x80]) }); // digitalSignature only
  assert.ok(x509.checkIssued(ca) && x509.verify(ca.publicKey), 'signed by the CA');
  assert.equal(x509.checkPrivateKey(createPrivateKey(keyPem)), true);
  assert.equal(x509.checkPrivateKey(createPrivateKey(localhostCertificate(now).keyPem)), false);
  assert.notEqual(localhostCertificate(now).certPem, certPem); // fresh keys and serials each time

  assert.equal(ca.ca, true);
  assert.equal(ca.verify(ca.publicKey), true);
  // The CA's key is nowhere in the result: the one key returned is the server's.
  assert.equal(ca.checkPrivateKey(createPrivateKey(keyPem)), false);
});

test('the CA may sign leaves for exactly the served names: critical name constraints, pathLen 0, keyCertSign only', () => {
  const { caPem } = createSelfSignedCertificate({ dnsNames: ['localhost', 'photos.example.com'], ipAddresses: ['127.0.0.1', '::1', '10.1.2.3'], days: 30 });
  const ca = new X509Certificate(caPem);
  const constraints = nameConstraintsOf(ca);
  assert.ok(constraints);
  assert.equal(constraints.critical, true);
  assert.deepEqual(constraints.permitted, [
    'localhost',
    'photos.example.com',
    exactAddressBase('127.0.0.1'),
    exactAddressBase('::1'),
    exactAddressBase('10.1.2.3'),
  ]);
  assert.deepEqual(constraints.excluded, []);
  assert.deepEqual(constraints.otherTypes, []);
  const extensions = extensionsOf(ca);
  // SEQUENCE { BOOLEAN TRUE, INTEGER 0 }
  assert.deepEqual(extensions.get(BASIC_CONSTRAINTS), { critical: true, value: Buffer.from([0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]) });
  assert.deepEqual(extensions.get(KEY_USAGE), { critical: true, value: Buffer.from([0x03, 0x02, 0x02, 0x04]) }); // keyCertSign
});

test('IPv6 forms are encoded as 16 bytes and dates from 2050 still parse', () => {
  const now = new Date('2049-12-01T00:00:00Z');
  const { caPem, certPem } = createSelfSignedCertificate({
    dnsNames: ['portrait.test', 'photos.portrait.test'],
    ipAddresses: ['fe80::1:2', '::ffff:10.1.2.3', '2001:db8::', '::', '1:2:3:4:5:6:7:8'],
    days: 365,
    now,
  });
  const x509 = new X509Certificate(certPem);
  assert.equal(
    x509.subjectAltName,
    'DNS:portrait.test, DNS:photos.portrait.test, IP Address:FE80:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:FFFF:A01:203, ' +
      'IP Address:2001:DB8:0:0:0:0:0:0, IP Address:0:0:0:0:0:0:0:0, IP Address:1:2:3:4:5:6:7:8',
  );
  assert.deepEqual(nameConstraintsOf(new X509Certificate(caPem))?.permitted.slice(2), [
    `fe800000000000000000000000010002/${'ff'.repeat(16)}`,
    `00000000000000000000ffff0a010203/${'ff'.repeat(16)}`,
    `20010db8000000000000000000000000/${'ff'.repeat(16)}`,
    `00000000000000000000000000000000/${'ff'.repeat(16)}`,
    `00010002000300040005000600070008/${'ff'.repeat(16)}`,
  ]);
  // notBefore is UTCTime (2049), notAfter GeneralizedTime (2050).
  assert.equal(new Date(x509.validFrom).getTime(), now.getTime() - HOUR);
  assert.equal(new Date(x509.validTo).getTime(), now.getTime() + 365 * DAY);
  assert.equal(x509.verify(new X509Certificate(caPem).publicKey), true);

  const base = { dnsNames: ['x'], ipAddresses: ['127.0.0.1'], days: 1 };
  assert.throws(() => createSelfSignedCertificate({ ...base, ipAddresses: ['localhost'] }), TypeError);
  assert.throws(() => createSelfSignedCertificate({ ...base, ipAddresses: ['fe80::1%eth0'] }), TypeError);
  assert.throws(() => createSelfSignedCertificate({ ...base, dnsNames: ['bücher.test'] }), TypeError);
  assert.throws(() => createSelfSignedCertificate({ ...base, dnsNames: ['*.portrait.test'] }), TypeError);
  // A name type with no permitted subtree would be unconstrained: both must be given.
  assert.throws(() => createSelfSignedCertificate({ ...base, dnsNames: [] }), RangeError);
  assert.throws(() => createSelfSignedCertificate({ ...base, ipAddresses: [] }), RangeError);
});

// A real HTTPS server presenting `cert` (the server certificate, or a chain); closed when the test ends.
async function startServer(t: TestContext, cert: { certPem: string; keyPem: string }, host = '127.0.0.1'): Promise<number> {
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(BODY);
  });
  // Every socket, also those whose handshake a client refused: closeAllConnections() knows
  // only HTTP connections, and close() would wait for the others.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  t.after(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  });
  return (server.address() as AddressInfo).port;
}

/** GET url trusting only `ca`; `as` is the name the client checks the certificate against, when not the URL's. */
function fetchWithCa(url: string, ca: string, as?: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    // `ca` replaces Node's bundled roots, so only our certificate is trusted;
    // family 4 because the server listens on 127.0.0.1 and localhost may resolve to ::1.
    const family = new URL(url).hostname.startsWith('[') ? 6 : 4;
    const identity = as === undefined ? {} : { servername: as, checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(as, cert) };
    const request = get(url, { ca, family, agent: false, timeout: 20_000, ...identity }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    // A hung handshake is a failure with a name, not a test run that never ends.
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} in 20 s`)));
    request.on('error', reject);
  });
}

/** Listens on ::1 when this machine has IPv6 loopback; undefined when it has not. */
async function startServerOnIpv6(t: TestContext, cert: SelfSignedCertificate): Promise<number | undefined> {
  try {
    return await startServer(t, cert, '::1');
  } catch (error) {
    if (error instanceof Error && 'code' in error && (error.code === 'EADDRNOTAVAIL' || error.code === 'EAFNOSUPPORT')) return undefined;
    throw error;
  }
}

test('node:https trusting only the CA (`ca:`) reaches the server by DNS name and IP address, ::1 too where there is one', async (t) => {
  const cert = localhostCertificate();
  const port = await startServer(t, cert);
  for (const host of ['localhost', '127.0.0.1']) {
    const { status, body } = await fetchWithCa(`https://${host}:${port}/`, cert.caPem);
    assert.equal(status, 200, host);
    assert.equal(body, BODY, host);
  }
  const ipv6Port = await startServerOnIpv6(t, cert);
  if (ipv6Port === undefined) t.diagnostic('no IPv6 loopback here: ::1 not tried');
  else if (!NODE_MATCHES_IPV6_NAMES) t.diagnostic(IPV6_NAMES_BROKEN);
  else assert.equal((await fetchWithCa(`https://[::1]:${ipv6Port}/`, cert.caPem)).status, 200, '::1');
  // Another CA of the same kind is not trusted for it.
  await assert.rejects(fetchWithCa(`https://127.0.0.1:${port}/`, localhostCertificate().caPem), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
});

test('NODE_EXTRA_CA_CERTS=<the CA> is enough for a Node program', async (t) => {
  const cert = localhostCertificate();
  const port = await startServer(t, cert);
  const dir = await mkdtemp(join(tmpdir(), 'portrait-cert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, cert.caPem);
  const program = `require('node:https').get(process.argv[1], { family: 4 }, (res) => { res.resume(); console.log(res.statusCode); })
    .on('error', (error) => { console.log(error.code); });`;
  for (const url of [`https://localhost:${port}/`, `https://127.0.0.1:${port}/`]) {
    const { stdout } = await execFileAsync(process.execPath, ['-e', program, url], { env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile } });
    assert.equal(stdout.trim(), '200', url);
  }
});

test('curl --cacert <the CA> trusts it', async (t) => {
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
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, cert.caPem);

  for (const url of [`https://127.0.0.1:${port}/`, `https://localhost:${port}/`]) {
    // Async execFile: a sync child would block this process's event loop, and with it the server.
    // -q skips ~/.curlrc; --noproxy keeps any *_proxy environment out of the way.
    const { stdout } = await execFileAsync('curl', ['-q', '--silent', '--show-error', '--fail', '--ipv4', '--noproxy', '*', '--cacert', caFile, url]);
    assert.equal(stdout, BODY, url); // execFile rejects on a non-zero exit, so reaching here means exit 0
  }
});

test('openssl verify -x509_strict accepts the chain', async (t) => {
  try {
    await execFileAsync('openssl', ['version']);
  } catch {
    t.skip('openssl is not installed');
    return;
  }
  const cert = localhostCertificate();
  const dir = await mkdtemp(join(tmpdir(), 'portrait-cert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ca.pem'), cert.caPem);
  await writeFile(join(dir, 'server.pem'), cert.certPem);
  const { stdout } = await execFileAsync('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.pem'), join(dir, 'server.pem')]);
  assert.equal(stdout.trim(), `${join(dir, 'server.pem')}: OK`);
});

test('what the server key signs for another name is refused by a client trusting the CA', async (t) => {
  const cert = localhostCertificate();
  const server = new X509Certificate(cert.certPem);
  // The key that must stay on disk to serve TLS, signing for evil.example in the server's name,
  // the server certificate sent along as if it were an intermediate CA.
  const forged = makeCertificate({ issuerName: subjectNameOf(server), dnsNames: ['evil.example'], signingKey: createPrivateKey(cert.keyPem) });
  const port = await startServer(t, { certPem: forged.certPem + cert.certPem, keyPem: forged.keyPem });
  await assert.rejects(fetchWithCa(`https://127.0.0.1:${port}/`, cert.caPem, 'evil.example'), (error: Error) => {
    // OpenSSL names the first problem it finds: the name constraints or the non-CA issuer.
    assert.match(error.message, /permitted subtree violation|invalid CA certificate|certificate signing/);
    return true;
  });
});
