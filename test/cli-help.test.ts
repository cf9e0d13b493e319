// What an operator reads before running anything: `portrait --help`, `portrait --version`,
// `portrait COMMAND --help` for every command (exit 0, every flag the command's parser takes),
// and the README's list of serve's flags, which must name exactly the flags serve has.
// Then the PORTRAIT_* variables: loadServeConfig as serve calls it, and a real serve run
// from the environment alone.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { APP_HELP } from '../src/cli/app.js';
import { BACKUP_HELP } from '../src/cli/backup.js';
import type { CommandHelp } from '../src/cli/command-help.js';
import { IMPORT_HELP } from '../src/cli/import.js';
import { INIT_HELP } from '../src/cli/init.js';
import { MIGRATE_STORE_HELP } from '../src/cli/migrate-store.js';
import { SERVE_HELP } from '../src/cli/serve.js';
import { TOKEN_HELP } from '../src/cli/token.js';
import { envName, loadServeConfig, SERVE_OPTIONS, UsageError } from '../src/config.js';
import { completion, PORTRAIT_CLI, runCli } from './helpers/server-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMMANDS: Record<string, CommandHelp> = {
  serve: SERVE_HELP,
  init: INIT_HELP,
  token: TOKEN_HELP,
  app: APP_HELP,
  import: IMPORT_HELP,
  'migrate-store': MIGRATE_STORE_HELP,
  backup: BACKUP_HELP,
};

describe('portrait --help, --version and COMMAND --help', () => {
  it('--version prints the package version; --help lists every command; both exit 0 with nothing on stderr', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['-v'], ['version']]) {
      assert.deepEqual(await runCli(args), { code: 0, signal: null, stdout: `portrait ${version}\n`, stderr: '' }, args.join(' '));
    }
    for (const args of [['--help'], ['-h'], ['help']]) {
      const result = await runCli(args);
      assert.equal(result.code, 0);
      assert.equal(result.stderr, '');
      for (const command of Object.keys(COMMANDS)) assert.match(result.stdout, new RegExp(`^  ${command} +\\S`, 'm'), `${args.join(' ')} lists ${command}`);
    }
    // No command: a usage error, pointing at --help.
    const none = await runCli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^portrait: missing command: [^\n]*portrait --help\)\n$/);
  });

  it('every command answers --help with exit 0, its usage and every flag its parser takes, each described', async () => {
    const check = async ([command, help]: [string, CommandHelp]) => {
      for (const args of [[command, '--help'], [command, '-h'], ['help', command]]) {
        const result = await runCli(args);
        const what = `portrait ${args.join(' ')}`;
        assert.equal(result.code, 0, `${what}: ${result.stderr}`);
        assert.equal(result.stderr, '', what);
        assert.ok(result.stdout.startsWith(`usage: ${help.usage[0]}\n`), `${what} starts with its usage:\n${result.stdout}`);
        for (const [flag, spec] of Object.entries(help.flags)) {
          const line = result.stdout.split('\n').find((l) => l.trimStart().startsWith(`--${flag}${spec.value === undefined ? '' : ` ${spec.value}`}`));
          assert.ok(line !== undefined, `${what} lists --${flag}:\n${result.stdout}`);
          assert.ok(result.stdout.includes(spec.description), `${what} describes --${flag}`);
          assert.ok(spec.description.length > 10, `--${flag} has a description`);
        }
        const flagsListed = result.stdout.split('\n').filter((l) => /^ {2}--/.test(l)).map((l) => /^ {2}--([a-z-]+)/.exec(l)?.[1]);
        assert.deepEqual(flagsListed.sort(), [...Object.keys(help.flags), 'help'].sort(), `${what}: no flag the command does not take`);
      }
    };
    // Two at a time: each process loads the CLI.
    const entries = Object.entries(COMMANDS);
    for (let i = 0; i < entries.length; i += 2) await Promise.all(entries.slice(i, i + 2).map(check));
  });

  it('--help wins over anything else on the line, even a bad flag; after -- it is an argument', async () => {
    const result = await runCli(['token', '--bogus', '--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^usage: portrait token/);
    const after = await runCli(['import', '--', '--help']);
    assert.notEqual(after.code, 0, 'not help: an import of a file named --help');
    assert.doesNotMatch(after.stdout, /usage:/);
  });

  it('serve --help names each flag\'s PORTRAIT_* variable; the other commands name PORTRAIT_DATA and PORTRAIT_DATABASE', async () => {
    const serve = await runCli(['serve', '--help']);
    for (const flag of Object.keys(SERVE_OPTIONS)) {
      const lines = serve.stdout.split('\n');
      const at = lines.findIndex((l) => l.trimStart().startsWith(`--${flag}`));
      // A long flag has its description on the next line.
      const line = `${lines[at] ?? ''}${lines[at + 1]?.startsWith('    ') ? lines[at + 1] : ''}`;
      assert.ok(line.endsWith(`[${envName(flag)}]`), `--${flag}'s line names ${envName(flag)}: ${line}`);
    }
    const token = await runCli(['token', '--help']);
    assert.match(token.stdout, /--data DIR .*\[PORTRAIT_DATA\]/);
    assert.match(token.stdout, /--database .*\[PORTRAIT_DATABASE\]/);
    assert.doesNotMatch(token.stdout, /PORTRAIT_USER/);
  });
});

describe("the README's list of serve's flags", () => {
  it('names exactly the flags serve takes, both ways', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    // The code block after the marker comment: from `portrait serve` up to the next command.
    const block = /<!-- serve's flags:[^\n]*-->\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? assert.fail('no serve flag list in README.md');
    const serveLines = block.split('\n');
    const end = serveLines.findIndex((line, i) => i > 0 && line.startsWith('portrait '));
    const serveText = serveLines.slice(0, end === -1 ? undefined : end).join('\n');
    assert.match(serveText, /^portrait serve /);
    const documented = new Set([...serveText.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
    const code = new Set(Object.keys(SERVE_OPTIONS));
    const undocumented = [...code].filter((flag) => !documented.has(flag));
    const gone = [...documented].filter((flag) => !code.has(flag));
    assert.deepEqual(undocumented, [], `serve takes these, the README's list leaves them out: ${undocumented.map((f) => `--${f}`).join(' ')}`);
    assert.deepEqual(gone, [], `the README lists these, serve does not take them: ${gone.map((f) => `--${f}`).join(' ')}`);
  });
});

describe('PORTRAIT_* variables', () => {
  const argv = ['--data', '/tmp/portrait-env-test'];

  it('every serve flag has one; each is read when its flag is absent', () => {
    // A valid value for each flag, read from the environment alone, gives what the flag would.
    const samples: Record<string, string> = {
      data: '/srv/portrait',
      host: '0.0.0.0',
      port: '9443',
      database: 'postgres://portrait@db.internal:5432/portrait',
      'pool-size': '20',
      'public-url': 'https://photos.example.com/',
      'pixel-limit': '1000000',
      'upload-concurrency': '3',
      'upload-queue': '5',
      'body-timeout': '30',
      'body-min-rate': '0',
      'body-memory-mb': '64',
      'decode-memory-mb': '256',
      'cache-mb': '0',
      'no-auto-provision': 'true',
      'dev-sign-in': '1',
      'no-tls': '1',
      issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0, https://id.example.com/realms/a=https://id.example.com/certs',
      audience: 'api://photos api://people',
      'clock-skew': '5',
      'log-level': 'info',
      'shutdown-timeout': '3',
      'cors-origin': 'https://app.contoso.com, https://admin.contoso.com',
      throttle: 'app=100/10s,user=50/10s',
      simulate: 'GET /v1.0/users/*/photo*: latency=10-20ms, 429=10%; PUT,PATCH /v1.0/me/*: 503=5%',
      seed: '42',
      'simulate-max-delayed': '10',
      'metrics-port': '9100',
      'metrics-host': '0.0.0.0',
      'web-client-id': '5a1b2c3d-0000-4000-8000-00000000c11e',
      'web-authority': 'https://login.microsoftonline.com/3f0c5d1e-0000-4000-8000-000000000001/v2.0',
      'web-scope': 'User.ReadWrite.All Group.ReadWrite.All',
    };
    const skipped = ['tls-cert', 'tls-key']; // exclusive with --no-tls: below
    assert.deepEqual(Object.keys(SERVE_OPTIONS).filter((flag) => !(flag in samples) && !skipped.includes(flag)), [], 'a sample for every flag');
    const env = Object.fromEntries(Object.entries(samples).map(([flag, value]) => [envName(flag), value]));
    const fromEnv = loadServeConfig([], env);
    const fromFlags = loadServeConfig(
      Object.entries(samples).flatMap(([flag, value]) => {
        if (SERVE_OPTIONS[flag as keyof typeof SERVE_OPTIONS].type === 'boolean') return [`--${flag}`];
        if (flag === 'simulate') return value.split(';').flatMap((item) => [`--${flag}`, item.trim()]);
        if (flag === 'issuer' || flag === 'audience' || flag === 'cors-origin' || flag === 'web-scope') return value.split(/[\s,]+/).filter(Boolean).flatMap((item) => [`--${flag}`, item]);
        return [`--${flag}`, value];
      }),
    );
    assert.deepEqual(fromEnv, fromFlags);
    assert.equal(fromEnv.port, 9443);
    assert.equal(fromEnv.tls.mode, 'none');
    assert.equal(fromEnv.autoProvisionUsers, false);
    assert.equal(fromEnv.devSignIn, true);
    assert.equal(fromEnv.cacheBytes, 0);
    assert.deepEqual(fromEnv.trustedIssuers.map((i) => i.issuer), ['https://login.microsoftonline.com/{tenantid}/v2.0', 'https://id.example.com/realms/a']);
    assert.ok(fromEnv.audiences.includes('api://photos') && fromEnv.audiences.includes('api://people'));
    assert.equal(fromEnv.faultRules.length, 2, 'PORTRAIT_SIMULATE: two specs, split at ;');
    assert.equal(fromEnv.metricsPort, 9100);
    assert.deepEqual(fromEnv.webScopes, ['User.ReadWrite.All', 'Group.ReadWrite.All']);

    const tls = loadServeConfig(argv, { PORTRAIT_TLS_CERT: '/etc/portrait/cert.pem', PORTRAIT_TLS_KEY: '/etc/portrait/key.pem' });
    assert.deepEqual(tls.tls, { mode: 'files', certFile: '/etc/portrait/cert.pem', keyFile: '/etc/portrait/key.pem' });
  });

  it('a flag wins over its variable, whose value is then not even read; an empty variable is unset; 0 and false are off', () => {
    const config = loadServeConfig([...argv, '--port', '1234', '--audience', 'api://flag'], {
      PORTRAIT_PORT: 'not a port',
      PORTRAIT_AUDIENCE: 'api://env',
      PORTRAIT_HOST: '',
      PORTRAIT_NO_TLS: 'FALSE',
      PORTRAIT_NO_AUTO_PROVISION: '0',
      PORTRAIT_UNKNOWN_THING: 'ignored',
    });
    assert.equal(config.port, 1234);
    assert.ok(config.audiences.includes('api://flag') && !config.audiences.includes('api://env'));
    assert.equal(config.host, 'localhost');
    assert.equal(config.tls.mode, 'self-signed');
    assert.equal(config.autoProvisionUsers, true);
  });

  it('a bad value is a usage error naming the variable, not the flag', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORTRAIT_PORT: '99999' }, /^PORTRAIT_PORT must be an integer from 0 to 65535, got '99999'$/],
      [{ PORTRAIT_NO_TLS: 'yes please' }, /^PORTRAIT_NO_TLS must be 1, true, 0 or false, got 'yes please'$/],
      [{ PORTRAIT_LOG_LEVEL: 'loud' }, /^PORTRAIT_LOG_LEVEL must be one of/],
      [{ PORTRAIT_PUBLIC_URL: 'ftp://x' }, /^PORTRAIT_PUBLIC_URL must be an http\(s\) URL/],
      [{ PORTRAIT_DATABASE: 'mysql://db/portrait' }, /^PORTRAIT_DATABASE must be a SQLite file or a postgres:\/\/ URL, not mysql:\/\//],
      [{ PORTRAIT_TLS_CERT: '/c.pem' }, /^PORTRAIT_TLS_CERT needs --tls-key$/],
      [{ PORTRAIT_NO_TLS: '1', PORTRAIT_TLS_CERT: '/c.pem', PORTRAIT_TLS_KEY: '/k.pem' }, /^PORTRAIT_NO_TLS cannot be combined with PORTRAIT_TLS_CERT or PORTRAIT_TLS_KEY$/],
    ];
    for (const [env, message] of cases) {
      assert.throws(() => loadServeConfig(argv, env), (error: unknown) => error instanceof UsageError && message.test(error.message), JSON.stringify(env));
    }
  });

  it('portrait serve runs from the environment alone; a bad variable exits 2 with one line naming it', { timeout: 30_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portrait-env-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = { ...process.env, PORTRAIT_DATA: dataDir, PORTRAIT_HOST: '127.0.0.1', PORTRAIT_PORT: '0', PORTRAIT_NO_TLS: 'true', PORTRAIT_AUDIENCE: 'api://photos,api://people' };
    const child = spawn(process.execPath, [PORTRAIT_CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => void child.kill('SIGKILL'));
    let out = '';
    const origin = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        const match = /serving Microsoft Graph photos at (http:\/\/127\.0\.0\.1:\d+)\/v1\.0/.exec(out);
        if (match && out.includes('get a token')) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    assert.ok(out.includes(`data:        ${join(dataDir, 'portrait.db')}`), out);
    assert.ok(out.includes('TLS: off'), out);
    const discovery = (await (await fetch(`${origin}/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}/v2.0/.well-known/openid-configuration`)).json()) as { scopes_supported: string[] };
    assert.ok(discovery.scopes_supported.includes('api://photos/.default') && discovery.scopes_supported.includes('api://people/.default'), JSON.stringify(discovery));
    // The token command finds the same data through the same variable.
    const token = await completion(spawn(process.execPath, [PORTRAIT_CLI, 'token', '--user', 'alice@contoso.com'], { env, stdio: ['ignore', 'pipe', 'pipe'] }), 20_000);
    assert.equal(token.code, 0, token.stderr);
    const me = await fetch(`${origin}/v1.0/me`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } });
    assert.equal(me.status, 200, await me.text());
    child.kill('SIGTERM');

    const bad = await completion(spawn(process.execPath, [PORTRAIT_CLI, 'serve'], { env: { ...env, PORTRAIT_PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] }), 20_000);
    assert.deepEqual(bad, { code: 2, signal: null, stdout: '', stderr: "portrait: PORTRAIT_PORT must be an integer from 0 to 65535, got 'eighty'\n" });
  });
});
