// Which names `serve`'s certificate must cover, from --host and --public-url.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { servedNames } from '../src/tls/served-names.js';

const LOOPBACK = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] };

test('the loopback names always; listening everywhere (0.0.0.0, ::) names nothing more', () => {
  for (const host of ['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0', '::']) assert.deepEqual(servedNames(host, undefined), LOOPBACK, host);
});

test('--host and the host of --public-url are added, as a client compares them', () => {
  assert.deepEqual(servedNames('Photos.Example.COM.', 'https://photos.example.com:8443/base'), {
    dnsNames: ['localhost', 'photos.example.com'],
    ipAddresses: ['127.0.0.1', '::1'],
  });
  assert.deepEqual(servedNames('10.0.0.5', 'https://[2001:DB8:0:0::1]/'), {
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1', '10.0.0.5', '2001:db8::1'],
  });
  // Punycode for an internationalised name; no zone for a link-local address.
  assert.deepEqual(servedNames('bücher.test', undefined).dnsNames, ['localhost', 'xn--bcher-kva.test']);
  assert.deepEqual(servedNames('fe80::1%eth0', undefined).ipAddresses, ['127.0.0.1', '::1', 'fe80::1']);
});
