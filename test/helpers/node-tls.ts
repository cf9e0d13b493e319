// Node.js 22.23 and 24.17–24.20 stopped matching an IPv6 host against a certificate's IP
// Address names in tls.checkServerIdentity (nodejs/node#64144, fixed by nodejs/node#64145):
// on those a Node.js client can verify no certificate for ::1, whoever made it. The tests
// that reach Portrait by ::1 say so and leave ::1 out there; every other Node.js checks it.
import { checkServerIdentity, type PeerCertificate } from 'node:tls';

export const NODE_MATCHES_IPV6_NAMES =
  checkServerIdentity('::1', { subject: {}, subjectaltname: 'IP Address:0:0:0:0:0:0:0:1' } as unknown as PeerCertificate) === undefined;

export const IPV6_NAMES_BROKEN = `Node.js ${process.version} matches no IPv6 host against a certificate (nodejs/node#64144): ::1 not tried`;
