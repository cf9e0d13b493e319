// One HTTP(S) request from the bench itself, for setting up and checking (never
// for measuring: load comes from its own process, see load.ts). Self-signed
// certificates are accepted: the bench talks to its own servers only.
import http from 'node:http';
import https from 'node:https';

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  readonly timeoutMs?: number;
  /** A keep-alive agent, to send many requests on one connection; a new connection each time when absent. */
  readonly agent?: http.Agent;
}

export function request(url: string, options: RequestOptions = {}): Promise<Answer> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: options.method ?? 'GET',
        headers: { ...options.headers, ...(options.body ? { 'content-length': String(options.body.length) } : {}) },
        agent: options.agent ?? false,
        rejectUnauthorized: false,
        timeout: options.timeoutMs ?? 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The request, which must answer `status`; otherwise an error naming what came back. */
export async function expectStatus(status: number, url: string, options: RequestOptions = {}): Promise<Answer> {
  const answer = await request(url, options);
  if (answer.status !== status) {
    const body = answer.body.toString('utf8').slice(0, 300);
    throw new Error(`${options.method ?? 'GET'} ${url} answered ${answer.status}, expected ${status}: ${body}`);
  }
  return answer;
}
