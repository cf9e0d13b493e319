// The names clients reach `portrait serve` by, which its certificate (and the CA that
// vouches for it) must cover: the loopback names always, plus --host and the host of
// --public-url when they are something else.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export interface ServedNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

// Listening on every address names no address a client connects to.
const UNSPECIFIED = new Set(['0.0.0.0', '::']);

export function servedNames(host: string, publicUrl: string | undefined): ServedNames {
  const dnsNames = new Set(['localhost']);
  const ipAddresses = new Set(['127.0.0.1', '::1']);
  for (const name of [host, publicUrl === undefined ? undefined : new URL(publicUrl).hostname]) {
    if (name === undefined) continue;
    const bare = name.replace(/^\[(.*)\]$/, '$1'); // a URL's IPv6 host is in brackets
    if (isIP(bare) !== 0) {
      // A zone (fe80::1%eth0) is no part of the address a certificate names; the URL
      // parser writes an IPv6 address one way (lower case, zeros compressed).
      const address = bare.replace(/%.*$/, '');
      const canonical = isIP(address) === 6 ? new URL(`http://[${address}]`).hostname.slice(1, -1) : address;
      if (!UNSPECIFIED.has(canonical)) ipAddresses.add(canonical);
    } else {
      // Punycode and lower case, as a client compares it; a trailing dot names the same host.
      const ascii = domainToASCII(bare.replace(/\.$/, ''));
      if (ascii !== '') dnsNames.add(ascii);
    }
  }
  return { dnsNames: [...dnsNames], ipAddresses: [...ipAddresses] };
}
