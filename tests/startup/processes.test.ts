import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { splitDatabaseUrl } from '../../src/infra/db';
import { freePort } from '../helpers/server';
import { eventually } from '../helpers/wait';
import { readTestEnvironment } from '../helpers/testEnv';
import { entryEnv, runEntry, startEntry } from './processHelpers';

/** GET on a connection of its own (no keep-alive), so a cluster deals each request to the next process. */
function getOnNewConnection(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on('error', reject);
  });
}

/** The production-style single processes: `npm run api`, `npm run worker`, `npm run migrate`. */
describe('separate processes', () => {
  const services = () => {
    const env = readTestEnvironment();
    return { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, TEMPORAL_ADDRESS: env.temporalAddress };
  };

  it('the API serves requests and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const api = startEntry('api', entryEnv({ ...services(), HOST: '127.0.0.1', PORT: String(port), WEB_CONCURRENCY: '1' }));
    try {
      await api.waitFor('"msg":"api listening"', 30_000);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).toBe(200);
    } finally {
      api.child.kill('SIGTERM');
    }
    expect((await api.exited).code).toBe(0);
  }, 60_000);

  it('with WEB_CONCURRENCY=2 the API runs in two processes on one port, /metrics counts both, and SIGTERM stops all', async () => {
    const port = await freePort();
    const api = startEntry('api', entryEnv({ ...services(), HOST: '127.0.0.1', PORT: String(port), WEB_CONCURRENCY: '2' }));
    let children: number[] = [];
    try {
      await api.waitFor('"msg":"api listening"', 60_000);
      // Each API process logs its own line (from its own pipe writes, so possibly after the primary's).
      await eventually(() => api.output().stdout.match(/"msg":"api process listening"/g)?.length === 2, 10_000, 'two API processes listening');
      children = execFileSync('pgrep', ['-P', String(api.child.pid)]).toString().trim().split('\n').map(Number);
      expect(children).toHaveLength(2);
      // New connections are dealt to the processes in turn; the counter on /metrics is the sum over both.
      const requests = 20;
      for (let i = 0; i < requests; i++) {
        expect((await getOnNewConnection(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      }
      const metrics = (await getOnNewConnection(`http://127.0.0.1:${port}/metrics`)).text;
      const healthz = metrics.split('\n').filter((l) => l.startsWith('http_requests_total{') && l.includes('route="/healthz"'));
      expect(healthz.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)).toBe(requests);
    } finally {
      api.child.kill('SIGTERM');
    }
    expect((await api.exited).code).toBe(0);
    for (const pid of children) expect(() => process.kill(pid, 0)).toThrow();
  }, 90_000);

  it('the worker starts, then stops its workers and exits 0 on SIGTERM', async () => {
    const worker = startEntry(
      'worker',
      entryEnv({ ...services(), TASK_QUEUE: `test-worker-entry-${randomUUID().slice(0, 8)}`, WORKER_SHUTDOWN_GRACE_SECONDS: '2' }),
    );
    try {
      await worker.waitFor('"msg":"worker running"', 120_000);
    } finally {
      worker.child.kill('SIGTERM');
    }
    const result = await worker.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"state":"STOPPED"');
  }, 150_000);

  it('the worker with Temporal unreachable exits 1 with one line naming TEMPORAL_ADDRESS', async () => {
    const result = await runEntry('worker', entryEnv({ ...services(), TEMPORAL_ADDRESS: '127.0.0.1:1' }));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Cannot reach temporal at 127\.0\.0\.1:1 .*Set TEMPORAL_ADDRESS/)]);
  });

  it('migrate creates a missing database, applies every migration, and is a no-op the second time', async () => {
    const url = new URL(readTestEnvironment().databaseUrl);
    url.pathname = `/${url.pathname.slice(1)}_migrate_${randomUUID().slice(0, 8)}`;
    const databaseUrl = url.toString();
    try {
      const first = await runEntry('migrate', entryEnv({ DATABASE_URL: databaseUrl }));
      expect(first.code).toBe(0);
      expect(first.stdout).toContain('created database');
      expect(first.stdout).toMatch(/applied \d+ migration\(s\)/);
      const second = await runEntry('migrate', entryEnv({ DATABASE_URL: databaseUrl }));
      expect(second.code).toBe(0);
      expect(second.stdout.trim()).toBe(`${databaseUrl} is up to date`);
    } finally {
      const { name, adminUrl } = splitDatabaseUrl(databaseUrl);
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  }, 60_000);
});
