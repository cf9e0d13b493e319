// The error catalog (src/errors.ts) and its documentation (docs/errors.md) say the same:
// every error Portrait can send has a row with its status, code and message, and every
// row is an error Portrait can send. Messages are compared with the row's {placeholders}
// standing for anything.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { errors, type GraphError } from '../src/errors.js';

const DOCS = new URL('../../docs/errors.md', import.meta.url);

type Catalog = typeof errors;

/** One call of every catalog entry, with arguments like those the server passes. A new entry must add its own. */
const SAMPLES: { readonly [K in keyof Catalog]: Parameters<Catalog[K]> } = {
  tokenMissing: [],
  tokenInvalid: [],
  tokenExpired: [],
  forbidden: ['Needs User.ReadWrite.All.'],
  meNeedsDelegated: [],
  segmentNotFound: ['photoz'],
  unsupportedSegment: ['/me/contacts/1/photos'],
  badJson: [],
  jsonTooDeep: [64],
  bodyAborted: [],
  unknownProperty: ['toString', 'microsoft.graph.profilePhoto'],
  readOnlyProperty: ['id', '240X240'],
  invalidProperty: ['width', 'an integer from 1 to 648', 0],
  missingProperty: ['displayName', 'microsoft.graph.user'],
  invalidUserPrincipalName: ["it must be alias@domain, with one '@'"],
  conflict: ['Another object with the same value for property userPrincipalName already exists.'],
  memberExists: [],
  invalidObjectIdentifier: ['not-a-guid'],
  invalidPageSize: ['1000'],
  unknownSelect: ['colour'],
  unsupportedQueryOption: ['$skip'],
  invalidQueryOption: ['$top', "it must be an integer from 1 to 999; got '1000'"],
  unknownQueryProperty: ['colour', 'microsoft.graph.user'],
  unsupportedFilter: ['displayName', 'microsoft.graph.user'],
  eventualConsistencyRequired: ['$search'],
  invalidBatch: ['requests must be a non-empty array'],
  batchTooLarge: [21, 20],
  invalidImage: ['the JPEG data is corrupt'],
  unsupportedImageFormat: ['TIFF'],
  pixelLimitExceeded: [10_000, 10_000, 50_000_000],
  sideLimitExceeded: [100_000, 10, 16_384],
  imageTooLargeToDecode: ['7000×7000 progressive JPEG (4:4:4)', 343_000_000, 192 * 1024 * 1024],
  resourceNotFound: ['3f0c6a52-8c1e-4a3e-9f1b-2d7e5c4b3a21'],
  imageNotFound: [],
  outsideApi: [],
  failedDependency: ['1'],
  methodNotAllowed: [['GET', 'HEAD']],
  preconditionFailed: ['"0123456789ABCDEF"'],
  bodyTimeout: ['1024 bytes in 121.0 s; a body must arrive within 120 s and, after the first 10 s, at 4096 bytes/s on average'],
  bodyTooLarge: [4 * 1024 * 1024],
  tooManyRequests: [1],
  throttled: [
    "The application '8d2a…' has used its 3500 requests per 10s in tenant 3f0c….",
    2,
    'Tenant_Application/ReadWrite/8d2a…/3f0c…',
    'ResourceUnitLimitExceeded',
  ],
  simulatedThrottling: [1],
  simulatedUnavailable: [1],
  simulatedGatewayTimeout: [],
  decodeMemoryBusy: [5],
  internal: [],
  bodyMemoryFull: [1],
};

interface Row {
  readonly status: number;
  readonly code: string;
  readonly message: RegExp;
  readonly text: string;
}

/** The rows of the Graph error table (the first table of docs/errors.md; the OAuth one has other columns). */
function documentedRows(): Row[] {
  const markdown = readFileSync(DOCS, 'utf8');
  const start = markdown.indexOf('| Status | Code | Message |');
  assert.ok(start >= 0, 'docs/errors.md has the error table');
  const rows: Row[] = [];
  for (const line of markdown.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [, status, code, message] = line.split('|').map((cell) => cell.trim());
    assert.ok(status && code && message, `a row with status, code and message: ${line}`);
    const pattern = message
      .replace(/[.*+?^$()[\]\\|]/g, '\\$&')
      .replace(/\{[^}]*\}/g, '.*');
    rows.push({ status: Number(status), code: code.replace(/`/g, ''), message: new RegExp(`^${pattern}$`, 's'), text: line });
  }
  return rows;
}

describe('docs/errors.md documents the error catalog, and only it', () => {
  const rows = documentedRows();
  const sent = Object.entries(SAMPLES).map(([name, args]) => {
    const make = errors[name as keyof Catalog] as (...args: readonly unknown[]) => GraphError;
    return { name, error: make(...args) };
  });
  const documents = (row: Row, error: GraphError) => row.status === error.status && row.code === error.code && row.message.test(error.message);

  it('every error the catalog makes has its row: status, code and message', () => {
    const missing = sent.filter(({ error }) => !rows.some((row) => documents(row, error)));
    assert.deepEqual(
      missing.map(({ name, error }) => `${name}: ${error.status} ${error.code} ${error.message}`),
      [],
      'catalog entries without a row in docs/errors.md',
    );
  });

  it('every row is an error the catalog makes', () => {
    const stray = rows.filter((row) => !sent.some(({ error }) => documents(row, error)));
    assert.deepEqual(stray.map((row) => row.text.slice(0, 120)), [], 'rows in docs/errors.md that no catalog entry sends');
  });
});
