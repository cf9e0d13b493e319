// The certificate `portrait serve` tells clients to trust (curl --cacert, NODE_EXTRA_CA_CERTS)
// can vouch for the names Portrait serves and for nothing else (issue 9, section 5). Were
// it a CA for any name, whoever read a key in the data folder could mint a certificate for
// any host, trusted by every process that trusts Portrait's. Real `portrait serve`
// processes; real TLS handshakes from Node trusting only the printed file.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkServerIdentity, connect, createServer, type PeerCertificate } from 'node:tls';
import { IPV6_NAMES_BROKEN, NODE_MATCHES_IPV6_NAMES } from './helpers/node-tls.js';
import { serveUnderUmask, type ServingProcess } from './helpers/umask-process.js';
import {
  exactAddressBase,
  extensionsOf,
  makeCertificate,
  nameConstraintsOf,
  nameWithCommonName,
  subjectNameOf,
} from './helpers/x509-der.js';

const PUBLIC_HOST = 'photos.portrait.test';
const KEY_USAGE_OID = '2.5.29.15';

interface Verdict {
  /** The chain ends at the trusted certificate and the certificate names `name`. */
  readonly trusted: boolean;
  readonly reason: string | undefined;
  readonly presented: PeerCertificate;
}

/**
 * A full TLS handshake with 127.0.0.1:port, trusting only `ca`, then what a client that
 * asked for `name` decides: the chain (OpenSSL's verdict) and the name (Node's check).
 */
function verdict(port: number, ca: Buffer, name: string): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, rejectUnauthorized: false, ...(isIP(name) ? {} : { servername: name }) }, () => {
      const presented = socket.getPeerCertificate();
      const identity = checkServerIdentity(name, presented);
      resolve({
        trusted: socket.authorized && identity === undefined,
        reason: socket.authorizationError?.message ?? identity?.message,
        presented,
      });
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** Every private key and every certificate in the folder: what a reader of it gets. */
function loot(folder: string): { keys: Map<string, KeyObject>; certificates: Map<string, X509Certificate> } {
  const keys = new Map<string, KeyObject>();
  const certificates = new Map<string, X509Certificate>();
  for (const name of readdirSync(folder)) {
    const text = readFileSync(join(folder, name), 'latin1');
    try {
      keys.set(name, createPrivateKey(text));
    } catch {
      // not a key
    }
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    pems.forEach((pem, i) => certificates.set(`${name}#${i}`, new X509Certificate(pem)));
  }
  return { keys, certificates };
}

/** A TLS server of this test's own presenting `chain` (leaf first); closed when the test ends. */
async function impostor(t: { after(fn: () => Promise<void>): void }, chain: string, key: string): Promise<number> {
  const server = createServer({ cert: chain, key }, (socket) => socket.end());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

describe('the certificate serve tells clients to trust', { timeout: 120_000 }, () => {
  let root = '';
  let dataDir = '';
  let server: ServingProcess;
  let trusted: Buffer;
  let hostName: string | undefined;
  let servedNames: string[] = [];
  let trustedBefore: Buffer;
  let publicHostBefore: Verdict;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'portrait-cert-'));
    dataDir = join(root, 'data');
    // The machine's name as a configured --host, when it names an address of this machine.
    const machine = hostname().toLowerCase();
    const resolved = await lookup(machine).catch(() => undefined);
    hostName = resolved !== undefined && machine !== 'localhost' && isIP(machine) === 0 ? machine : undefined;
    const first = await serveUnderUmask('022', ['--data', dataDir, '--host', '127.0.0.1', '--port', '0']);
    trustedBefore = readFileSync(first.certPath ?? '');
    publicHostBefore = await verdict(first.port, trustedBefore, PUBLIC_HOST);
    await first.stop();

    server = await serveUnderUmask('022', [
      '--data', dataDir, '--host', hostName ?? '127.0.0.1', '--port', '0', '--public-url', `https://${PUBLIC_HOST}:8443`,
    ]);
    assert.equal(server.certPath, join(dataDir, 'tls-cert.pem'), server.output());
    trusted = readFileSync(server.certPath ?? '');
    servedNames = ['localhost', '127.0.0.1', '::1', ...(hostName ? [hostName] : []), PUBLIC_HOST];
  });
  after(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('is made anew when serve is configured with a name it does not cover, and kept while it covers them', async () => {
    assert.equal(publicHostBefore.trusted, false, `${PUBLIC_HOST} was not served at first, so not covered`);
    assert.notDeepEqual(trusted, trustedBefore, 'made anew for --host and --public-url');
    await server.stop();
    server = await serveUnderUmask('022', [
      '--data', dataDir, '--host', hostName ?? '127.0.0.1', '--port', '0', '--public-url', `https://${PUBLIC_HOST}:8443`,
    ]);
    assert.deepEqual(readFileSync(server.certPath ?? ''), trusted, 'the same names: the same certificate, so a trusted --cacert keeps working');
  });

  it('a client trusting only it reaches serve by every served name: localhost, 127.0.0.1, ::1, --host, the --public-url host', async (t) => {
    if (!NODE_MATCHES_IPV6_NAMES) t.diagnostic(IPV6_NAMES_BROKEN);
    for (const name of servedNames.filter((n) => NODE_MATCHES_IPV6_NAMES || isIP(n) !== 6)) {
      const { trusted: ok, reason } = await verdict(server.port, trusted, name);
      assert.equal(ok, true, `${name}: ${reason}`);
    }
    // And not by a name serve was not configured with.
    assert.equal((await verdict(server.port, trusted, 'evil.example')).trusted, false);
  });

  it('can vouch for no other name: it is not a CA, or a CA whose critical name constraints permit exactly the served names', () => {
    const certificate = new X509Certificate(trusted);
    if (!certificate.ca) {
      // keyUsage, when present, must not allow certificate signing (bit 5, keyCertSign).
      const keyUsage = extensionsOf(certificate).get(KEY_USAGE_OID);
      const bits = keyUsage === undefined ? 0 : (keyUsage.value[3] ?? 0);
      assert.equal(bits & 0x04, 0, 'a trusted leaf must not carry keyCertSign');
      return;
    }
    const constraints = nameConstraintsOf(certificate);
    assert.ok(constraints, 'a trusted CA must carry name constraints');
    assert.equal(constraints.critical, true, 'name constraints are critical (RFC 5280 4.2.1.10)');
    const expected = servedNames.map((name) => (isIP(name) ? exactAddressBase(name) : name));
    assert.deepEqual([...constraints.permitted].sort(), [...expected].sort());
    assert.deepEqual(constraints.otherTypes, [], 'no other kind of name is permitted');
  });

  it('a certificate for evil.example signed with any key found in the data folder is refused by a client trusting it', async (t) => {
    const { keys, certificates } = loot(dataDir);
    assert.ok(keys.size >= 2, `the issuer's key and the TLS key at least: ${[...keys.keys()].join(', ')}`);
    assert.ok(certificates.size >= 1);
    for (const [keyFile, key] of keys) {
      for (const [certificateFile, issuer] of certificates) {
        // In the name of each certificate there, sent with that certificate as the chain.
        const forged = makeCertificate({ issuerName: subjectNameOf(issuer), dnsNames: ['evil.example'], signingKey: key });
        const port = await impostor(t, forged.certPem + issuer.toString(), forged.keyPem);
        const { trusted: ok, reason, presented } = await verdict(port, trusted, 'evil.example');
        assert.equal(presented.subject.CN, 'evil.example', 'the forged certificate was presented');
        assert.equal(ok, false, `signed with ${keyFile} as ${certificateFile}: trusted (${reason})`);
      }
    }
  });

  it('a data folder from an older version: its CA:TRUE certificate is replaced and the key that signs for any host removed', async (t) => {
    const oldDir = join(root, 'old-data');
    mkdirSync(oldDir, { mode: 0o700 });
    // What earlier versions made: self-signed, CA:TRUE, keyCertSign, for localhost.
    const name = nameWithCommonName('localhost');
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const old = makeCertificate({ issuerName: name, subjectName: name, dnsNames: ['localhost'], signingKey: pair.privateKey, keyPair: pair, ca: true });
    writeFileSync(join(oldDir, 'tls-cert.pem'), old.certPem, { mode: 0o600 });
    writeFileSync(join(oldDir, 'tls-key.pem'), old.keyPem, { mode: 0o600 });

    const upgraded = await serveUnderUmask('022', ['--data', oldDir, '--host', '127.0.0.1', '--port', '0']);
    t.after(() => upgraded.stop().then(() => undefined));
    const now = readFileSync(upgraded.certPath ?? '');
    assert.notEqual(now.toString(), old.certPem, 'the CA:TRUE certificate is replaced');
    assert.equal(existsSync(join(oldDir, 'tls-key.pem')), false, 'its key is removed');
    assert.equal((await verdict(upgraded.port, now, 'localhost')).trusted, true);
    // What the old key can still sign is not trusted by a client of the new file.
    const forged = makeCertificate({ issuerName: name, dnsNames: ['evil.example'], signingKey: pair.privateKey });
    const port = await impostor(t, forged.certPem + old.certPem, forged.keyPem);
    assert.equal((await verdict(port, now, 'evil.example')).trusted, false);
  });
});
