// A self-signed certificate for local HTTPS, made with node:crypto alone so that
// `portrait` needs neither openssl nor an npm dependency to serve TLS in development.
// The X.509 v3 structure (RFC 5280) is small enough to DER-encode by hand below.
//
// The certificate is its own trust anchor: hand certPem to NODE_EXTRA_CA_CERTS,
// `curl --cacert` or https `ca:` and it verifies. For that it says CA:TRUE and
// keyCertSign; OpenSSL (Node, curl) accepts such a certificate as the server's own
// leaf when it is also the trusted root. (Firefox/NSS refuses a CA certificate as an
// end entity; for browsers, use a proper local CA such as mkcert instead.)

import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

export interface SelfSignedOptions {
  readonly commonName: string; // e.g. 'localhost'
  readonly dnsNames: readonly string[]; // e.g. ['localhost']
  readonly ipAddresses: readonly string[]; // e.g. ['127.0.0.1', '::1']
  readonly days: number; // validity, e.g. 825
  readonly now?: Date; // for tests; default new Date()
}

export interface SelfSignedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

// --- A minimal DER encoder (X.690): tag, definite length, contents. ---

function tlv(tag: number, contents: Buffer): Buffer {
  const n = contents.length;
  // Short form below 128; otherwise 0x80 | count of big-endian length bytes.
  let length: Buffer;
  if (n < 0x80) {
    length = Buffer.from([n]);
  } else {
    const bytes: number[] = [];
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, contents]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
const booleanTrue = (): Buffer => tlv(0x01, Buffer.from([0xff])); // DER: TRUE is 0xFF
// Context-specific tags: constructed for EXPLICIT [n], primitive for IMPLICIT [n].
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
const implicit = (n: number, bytes: Buffer): Buffer => tlv(0x80 | n, bytes);

// A BIT STRING's first content byte counts the unused bits in its last byte.
const bitString = (bytes: Buffer, unusedBits = 0): Buffer =>
  tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));

// Unsigned big-endian integer: minimal length, with a 0x00 pad if the top bit is set
// so that it does not read as negative.
function integer(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const bytes = value.subarray(start);
  const pad = (bytes[0] ?? 0) & 0x80 ? Buffer.from([0]) : Buffer.alloc(0);
  return tlv(0x02, Buffer.concat([pad, bytes.length ? bytes : Buffer.from([0])]));
}

// OID: first two arcs packed as 40*a+b, then each arc in base 128, high bit = "more".
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [40 * a + b, ...rest]) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

// RFC 5280 4.1.2.5: UTCTime (YYMMDDHHMMSSZ) through 2049, GeneralizedTime from 2050.
function time(date: Date): Buffer {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const year = date.getUTCFullYear();
  const rest = [date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    .map(pad)
    .join('');
  return year >= 1950 && year < 2050
    ? tlv(0x17, Buffer.from(`${pad(year % 100)}${rest}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${String(year).padStart(4, '0')}${rest}Z`, 'ascii'));
}

// --- IP addresses for subjectAltName: 4 bytes for IPv4, 16 for IPv6. ---

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip) || ip.includes('%')) throw new TypeError(`Not an IP address for a certificate: ${ip}`);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is the last two 16-bit groups.
  let text = ip;
  const tail = text.slice(text.lastIndexOf(':') + 1);
  if (isIPv4(tail)) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, text.length - tail.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  // '::' stands for as many zero groups as it takes to make eight.
  const groupsOf = (part: string): string[] => part.split(':').filter((g) => g !== '');
  const [head = '', after] = text.split('::');
  const left = groupsOf(head);
  const right = after === undefined ? [] : groupsOf(after);
  const zeros = Array<string>(8 - left.length - right.length).fill('0');
  const groups = after === undefined ? left : [...left, ...zeros, ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

// dNSName is an IA5String: ASCII only, so internationalised names must be punycode.
function dnsBytes(dns: string): Buffer {
  if (!/^[\x21-\x7e]+$/.test(dns)) throw new TypeError(`Not an ASCII DNS name: ${dns}`);
  return Buffer.from(dns, 'ascii');
}

// --- The certificate. ---

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  sequence(oid(id), ...(critical ? [booleanTrue()] : []), octetString(value));

// The raw EC point (0x04 || X || Y), i.e. the contents of SPKI's subjectPublicKey
// BIT STRING, which is what RFC 5280 4.2.1.2 hashes for the key identifier.
function publicKeyPoint(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.x === undefined || jwk.y === undefined) throw new Error('Expected an EC public key');
  return Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function createSelfSignedCertificate(options: SelfSignedOptions): SelfSignedCertificate {
  const now = options.now ?? new Date();
  if (!(options.days > 0)) throw new RangeError('days must be positive');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  // Random positive serial: 16 bytes with the top bit clear (RFC 5280 4.1.2.2).
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;

  const name = sequence(
    set(sequence(oid(OID.organization), utf8String('Portrait (development)'))),
    set(sequence(oid(OID.commonName), utf8String(options.commonName))),
  );
  // Start an hour back so a client whose clock runs a little slow still accepts it.
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + options.days * 24 * 60 * 60 * 1000);
  const keyId = createHash('sha1').update(publicKeyPoint(publicKey)).digest();
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256)); // ECDSA: parameters absent

  const altNames = [
    ...options.dnsNames.map((dns) => implicit(2, dnsBytes(dns))), // [2] dNSName
    ...options.ipAddresses.map((ip) => implicit(7, ipBytes(ip))), // [7] iPAddress
  ];
  const extensions = [
    extension(OID.basicConstraints, true, sequence(booleanTrue())), // cA TRUE, no pathLen
    // keyUsage bits: digitalSignature (bit 0, 0x80) | keyCertSign (bit 5, 0x04);
    // DER drops trailing zero bits, so 2 of the 8 are unused.
    extension(OID.keyUsage, true, bitString(Buffer.from([0x84]), 2)),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
    // GeneralNames must hold at least one name (SIZE 1..MAX), so omit an empty SAN.
    ...(altNames.length > 0 ? [extension(OID.subjectAltName, false, sequence(...altNames))] : []),
    // No authorityKeyIdentifier: RFC 5280 4.2.1.1 lets a self-signed certificate
    // omit it, and `openssl verify -x509_strict` accepts this certificate without it.
    extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
  ];

  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // version: v3
    integer(serial),
    signatureAlgorithm,
    name, // issuer
    sequence(time(notBefore), time(notAfter)),
    name, // subject
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  // For EC keys crypto.sign yields the DER Ecdsa-Sig-Value X.509 expects.
  const signature = sign('sha256', tbs, privateKey);
  const certificate = sequence(tbs, signatureAlgorithm, bitString(signature));

  return {
    certPem: pem('CERTIFICATE', certificate),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
