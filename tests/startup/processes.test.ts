import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { splitDatabaseUrl } from '../../src/infra/db';
import { freePort } from '../helpers/server';
import { readTestEnvironment } from '../helpers/testEnv';
import { entryEnv, runEntry, startEntry } from './processHelpers';

/** The production-style single processes: `npm run api`, `npm run worker`, `npm run migrate`. */
describe('separate processes', () => {
  const services = () => {
    const env = readTestEnvironment();
    return { DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, TEMPORAL_ADDRESS: env.temporalAddress };
  };

  it('the API serves requests and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const api = startEntry('api', entryEnv({ ...services(), HOST: '127.0.0.1', PORT: String(port) }));
    try {
      await api.waitFor('"msg":"api listening"', 30_000);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).toBe(200);
    } finally {
      api.child.kill('SIGTERM');
    }
    expect((await api.exited).code).toBe(0);
  }, 60_000);

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
