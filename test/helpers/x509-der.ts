// Certificates read and made the way an attacker (or a careful client) would, apart from
// src/tls so that the tests do not trust the code they test: a minimal DER reader and
// writer (X.690), enough to read a certificate's extensions and name constraints
// (node:crypto's X509Certificate does not show them) and to sign a certificate for any
// name, under any issuer name, with any key.
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';

// ---------------------------------------------------------------------------
// Reading

export interface Tlv {
  readonly tag: number;
  readonly contents: Buffer;
  /** Tag, length and contents: the element as it was encoded. */
  readonly encoded: Buffer;
}

export function readTlv(der: Buffer, offset = 0): Tlv {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw new Error(`DER ends at ${offset}`);
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? 0);
    start += count;
  }
  if (start + length > der.length) throw new Error(`DER element at ${offset} runs past the end`);
  return { tag, contents: der.subarray(start, start + length), encoded: der.subarray(offset, start + length) };
}

/** The elements inside a constructed element (SEQUENCE, SET, [n] constructed). */
export function childrenOf(parent: Tlv): Tlv[] {
  const children: Tlv[] = [];
  for (let offset = 0; offset < parent.contents.length; ) {
    const child = readTlv(parent.contents, offset);
    children.push(child);
    offset += child.encoded.length;
  }
  return children;
}

export interface Extension {
  readonly critical: boolean;
  /** The extnValue OCTET STRING's contents: the extension's own DER. */
  readonly value: Buffer;
}

/** TBSCertificate's elements: [version], serial, signature, issuer, validity, subject, spki, [extensions]. */
function tbsOf(certificate: X509Certificate): Tlv[] {
  const [tbs] = childrenOf(readTlv(certificate.raw));
  if (tbs === undefined) throw new Error('no TBSCertificate');
  return childrenOf(tbs);
}

/** The subject Name as encoded, to issue a certificate in its name. */
export function subjectNameOf(certificate: X509Certificate): Buffer {
  const fields = tbsOf(certificate);
  const shift = fields[0]?.tag === 0xa0 ? 1 : 0; // version is optional (v1)
  const subject = fields[4 + shift];
  if (subject === undefined) throw new Error('no subject');
  return subject.encoded;
}

/** Extensions by dotted OID. */
export function extensionsOf(certificate: X509Certificate): Map<string, Extension> {
  const found = new Map<string, Extension>();
  const wrapper = tbsOf(certificate).find((field) => field.tag === 0xa3);
  if (wrapper === undefined) return found;
  for (const ext of childrenOf(childrenOf(wrapper)[0] ?? wrapper)) {
    const [id, second, third] = childrenOf(ext);
    if (id === undefined || second === undefined) continue;
    const critical = second.tag === 0x01 && second.contents[0] !== 0;
    const value = (second.tag === 0x04 ? second : third)?.contents ?? Buffer.alloc(0);
    found.set(oidText(id.contents), { critical, value });
  }
  return found;
}

function oidText(bytes: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  const [first = 0, ...rest] = arcs;
  return [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40)), ...rest].join('.');
}

export interface NameConstraints {
  readonly critical: boolean;
  /** Permitted dNSName bases, and iPAddress bases as "address/mask" in hex. */
  readonly permitted: readonly string[];
  readonly excluded: readonly string[];
  /** Bases of other name types (their context tag), which a test may want to see absent. */
  readonly otherTypes: readonly number[];
}

export const NAME_CONSTRAINTS_OID = '2.5.29.30';

export function nameConstraintsOf(certificate: X509Certificate): NameConstraints | undefined {
  const extension = extensionsOf(certificate).get(NAME_CONSTRAINTS_OID);
  if (extension === undefined) return undefined;
  const permitted: string[] = [];
  const excluded: string[] = [];
  const otherTypes: number[] = [];
  for (const subtrees of childrenOf(readTlv(extension.value))) {
    for (const subtree of childrenOf(subtrees)) {
      const [base] = childrenOf(subtree);
      if (base === undefined) continue;
      const into = subtrees.tag === 0xa0 ? permitted : excluded;
      if (base.tag === 0x82) into.push(base.contents.toString('ascii'));
      else if (base.tag === 0x87) {
        const half = base.contents.length / 2;
        into.push(`${base.contents.subarray(0, half).toString('hex')}/${base.contents.subarray(half).toString('hex')}`);
      } else otherTypes.push(base.tag);
    }
  }
  return { critical: extension.critical, permitted, excluded, otherTypes };
}

/** An IP address as nameConstraintsOf writes an exact-address base: "7f000001/ffffffff". */
export function exactAddressBase(ip: string): string {
  const bytes = ip.includes(':') ? ipv6Bytes(ip) : Buffer.from(ip.split('.').map(Number));
  return `${bytes.toString('hex')}/${Buffer.alloc(bytes.length, 0xff).toString('hex')}`;
}

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}

// ---------------------------------------------------------------------------
// Writing

function tlv(tag: number, contents: Buffer): Buffer {
  const n = contents.length;
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  const length = n < 0x80 ? Buffer.from([n]) : Buffer.from([0x80 | bytes.length, ...bytes]);
  return Buffer.concat([Buffer.from([tag]), length, contents]);
}
const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out: number[] = [];
  for (const arc of [40 * a + b, ...rest]) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

const utcTime = (date: Date): Buffer => tlv(0x17, Buffer.from(`${date.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`, 'ascii'));
const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  sequence(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));

/** A Name with one commonName. */
export function nameWithCommonName(commonName: string): Buffer {
  return sequence(set(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

export interface CertificateRequest {
  /** The issuer's Name, as encoded (subjectNameOf, or nameWithCommonName). */
  readonly issuerName: Buffer;
  /** The subject's Name; the issuer's for a self-signed certificate. */
  readonly subjectName?: Buffer;
  readonly dnsNames: readonly string[];
  /** Signs it: an EC, RSA or Ed25519 private key. */
  readonly signingKey: KeyObject;
  /** The certified key; a new P-256 key when absent. */
  readonly keyPair?: { readonly publicKey: KeyObject; readonly privateKey: KeyObject };
  /** basicConstraints cA TRUE and keyCertSign, as Portrait's certificates said before they were limited. */
  readonly ca?: boolean;
}

export interface MadeCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certificate: X509Certificate;
}

/** Signs a certificate for `dnsNames` with any key, in any issuer's name: what a thief of a key would do. */
export function makeCertificate(request: CertificateRequest): MadeCertificate {
  const keyPair = request.keyPair ?? generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signer = request.signingKey;
  const algorithm =
    signer.asymmetricKeyType === 'rsa'
      ? sequence(oid('1.2.840.113549.1.1.11'), tlv(0x05, Buffer.alloc(0))) // sha256WithRSAEncryption, NULL
      : signer.asymmetricKeyType === 'ed25519'
        ? sequence(oid('1.3.101.112'))
        : sequence(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f | 0x01;
  const spki = keyPair.publicKey.export({ type: 'spki', format: 'der' });
  const now = Date.now();
  const extensions = [
    request.ca === true
      ? extension('2.5.29.19', true, sequence(tlv(0x01, Buffer.from([0xff]))))
      : extension('2.5.29.19', true, sequence()),
    // keyUsage: digitalSignature, plus keyCertSign for a CA.
    extension('2.5.29.15', true, request.ca === true ? tlv(0x03, Buffer.from([2, 0x84])) : tlv(0x03, Buffer.from([7, 0x80]))),
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))),
    extension('2.5.29.17', false, sequence(...request.dnsNames.map((dns) => tlv(0x82, Buffer.from(dns, 'ascii'))))),
    extension('2.5.29.14', false, tlv(0x04, createHash('sha1').update(spki).digest())),
  ];
  const tbs = sequence(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    algorithm,
    request.issuerName,
    sequence(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 30 * 86400_000))),
    request.subjectName ?? nameWithCommonName(request.dnsNames[0] ?? 'portrait test'),
    spki,
    tlv(0xa3, sequence(...extensions)),
  );
  const signature = sign(signer.asymmetricKeyType === 'ed25519' ? null : 'sha256', tbs, signer);
  const der = sequence(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const certPem = `-----BEGIN CERTIFICATE-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;
  return {
    certPem,
    keyPem: keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificate: new X509Certificate(der),
  };
}
