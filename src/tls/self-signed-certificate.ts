// The certificates for local HTTPS, made with node:crypto alone so that `portrait`
// needs neither openssl nor an npm dependency to serve TLS in development. The X.509 v3
// structure (RFC 5280) is small enough to DER-encode by hand below.
//
// Clients are told to trust one certificate (NODE_EXTRA_CA_CERTS, `curl --cacert`,
// https `ca:`). Whoever holds the key of a trusted certificate can vouch for what that
// certificate allows, so the trusted one must allow no more than Portrait's own names:
//
// - It is a CA limited by critical name constraints (RFC 5280 4.2.1.10) to exactly the
//   served DNS names and IP addresses, with pathLenConstraint 0. Its key signs the
//   server's certificate and is then dropped: it is never exported or written, so
//   nothing else can ever be signed by it.
// - The server's certificate is a leaf (CA:FALSE, digitalSignature only). Its key must
//   stay on disk to serve TLS; a certificate signed with it is refused, being signed by
//   a non-CA, and also by the name constraints above.
//
// A self-signed non-CA leaf as its own trust anchor was the simpler alternative, and
// OpenSSL 3 (Node, curl) accepts it, but Go's crypto/x509 does not check basicConstraints
// on a root: there, its key could sign for any host. Go does enforce name constraints on
// roots. (Browsers are not tested: NSS refused what earlier versions made, a CA
// certificate as the server's own; a CA imported as an authority with a leaf beneath it
// is the ordinary shape it expects.)

import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

export interface SelfSignedOptions {
  readonly dnsNames: readonly string[]; // e.g. ['localhost']; the first is the server's common name
  readonly ipAddresses: readonly string[]; // e.g. ['127.0.0.1', '::1']
  readonly days: number; // validity, e.g. 365
  readonly now?: Date; // for tests; default new Date()
}

export interface SelfSignedCertificate {
  /** The certificate clients trust: a CA for exactly the served names, whose key no longer exists. */
  readonly caPem: string;
  /** The server's certificate (a leaf, signed by that CA) and its key. */
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
// No wildcards: a served name is one host, and "*.x" is no name constraint.
function dnsBytes(dns: string): Buffer {
  if (!/^[\x21-\x7e]+$/.test(dns)) throw new TypeError(`Not an ASCII DNS name: ${dns}`);
  if (dns.includes('*')) throw new TypeError(`A served name cannot be a wildcard: ${dns}`);
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
  nameConstraints: '2.5.29.30',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  sequence(oid(id), ...(critical ? [booleanTrue()] : []), octetString(value));

// keyUsage bits count from the most significant: digitalSignature is bit 0 (0x80),
// keyCertSign bit 5 (0x04). DER drops trailing zero bits and counts them as unused.
const digitalSignatureOnly = (): Buffer => bitString(Buffer.from([0x80]), 7);
const keyCertSignOnly = (): Buffer => bitString(Buffer.from([0x04]), 2);

// The raw EC point (0x04 || X || Y), i.e. the contents of SPKI's subjectPublicKey
// BIT STRING, which is what RFC 5280 4.2.1.2 hashes for the key identifier.
function publicKeyPoint(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.x === undefined || jwk.y === undefined) throw new Error('Expected an EC public key');
  return Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}

const keyIdentifier = (publicKey: KeyObject): Buffer => createHash('sha1').update(publicKeyPoint(publicKey)).digest();

const distinguishedName = (commonName: string): Buffer =>
  sequence(
    set(sequence(oid(OID.organization), utf8String('Portrait (development)'))),
    set(sequence(oid(OID.commonName), utf8String(commonName))),
  );

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

interface CertificateFields {
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly validity: Buffer;
  readonly publicKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly extensions: readonly Buffer[];
}

function signedCertificate(fields: CertificateFields): Buffer {
  // Random positive serial: 16 bytes with the top bit clear (RFC 5280 4.1.2.2).
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256)); // ECDSA: parameters absent
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // version: v3
    integer(serial),
    signatureAlgorithm,
    fields.issuer,
    fields.validity,
    fields.subject,
    fields.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...fields.extensions)),
  );
  // For EC keys crypto.sign yields the DER Ecdsa-Sig-Value X.509 expects.
  return sequence(tbs, signatureAlgorithm, bitString(sign('sha256', tbs, fields.signingKey)));
}

export function createSelfSignedCertificate(options: SelfSignedOptions): SelfSignedCertificate {
  const now = options.now ?? new Date();
  if (!(options.days > 0)) throw new RangeError('days must be positive');
  const [commonName] = options.dnsNames;
  // A name type without a permitted subtree is not constrained at all (RFC 5280 4.2.1.10):
  // both lists must be non-empty for the CA to be limited in both.
  if (commonName === undefined || options.ipAddresses.length === 0) {
    throw new RangeError('at least one DNS name and one IP address are needed');
  }
  const dnsNames = options.dnsNames.map(dnsBytes);
  const ipAddresses = options.ipAddresses.map(ipBytes);

  // Start an hour back so a client whose clock runs a little slow still accepts it.
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + options.days * 24 * 60 * 60 * 1000);
  const validity = sequence(time(notBefore), time(notAfter));

  const ca = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const caKeyId = keyIdentifier(ca.publicKey);
  // A name of its own per CA, so that two of them trusted side by side are never confused.
  const caName = distinguishedName(`Portrait local CA ${caKeyId.subarray(0, 4).toString('hex')}`);
  // GeneralSubtree ::= SEQUENCE { base GeneralName } (minimum 0 and no maximum are the
  // defaults, left out in DER). A dNSName base also admits its subdomains; an iPAddress
  // base is address then mask, here all ones: that address only.
  const subtrees = [
    ...dnsNames.map((dns) => sequence(implicit(2, dns))),
    ...ipAddresses.map((ip) => sequence(implicit(7, Buffer.concat([ip, Buffer.alloc(ip.length, 0xff)])))),
  ];
  const caCertificate = signedCertificate({
    issuer: caName,
    subject: caName,
    validity,
    publicKey: ca.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      // cA TRUE, pathLenConstraint 0: it may sign leaves only, never another CA.
      extension(OID.basicConstraints, true, sequence(booleanTrue(), integer(Buffer.from([0])))),
      extension(OID.keyUsage, true, keyCertSignOnly()),
      // NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees }, implicitly tagged.
      extension(OID.nameConstraints, true, sequence(tlv(0xa0, Buffer.concat(subtrees)))),
      extension(OID.subjectKeyIdentifier, false, octetString(caKeyId)),
      // No authorityKeyIdentifier: RFC 5280 4.2.1.1 lets a self-signed certificate omit it.
    ],
  });

  const server = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serverCertificate = signedCertificate({
    issuer: caName,
    subject: distinguishedName(commonName),
    validity,
    publicKey: server.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      extension(OID.basicConstraints, true, sequence()), // cA FALSE (the default, so empty)
      extension(OID.keyUsage, true, digitalSignatureOnly()),
      extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
      extension(
        OID.subjectAltName,
        false,
        sequence(...dnsNames.map((dns) => implicit(2, dns)), ...ipAddresses.map((ip) => implicit(7, ip))), // [2] dNSName, [7] iPAddress
      ),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(server.publicKey))),
      extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, caKeyId))), // [0] keyIdentifier
    ],
  });
  // ca.privateKey goes out of scope here, never exported: the CA can sign nothing more.

  return {
    caPem: pem('CERTIFICATE', caCertificate),
    certPem: pem('CERTIFICATE', serverCertificate),
    keyPem: server.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
