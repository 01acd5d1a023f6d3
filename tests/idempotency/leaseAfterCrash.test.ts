import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { PostgresIdempotencyGuard } from '../../src/api/http/idempotency';
import type { AppDeps } from '../../src/api/deps';
import { closeDeps, createTestDeps } from '../helpers/context';
import { entryEnv, repoRoot } from '../startup/processHelpers';

/**
 * The Idempotency-Key lock is a lease renewed while the request runs: a request that is still running keeps its
 * key however long it takes (up to IDEMPOTENCY_LOCK_TIMEOUT_SECONDS), and one whose process is SIGKILLed lets go
 * within the lease, so the client's retry runs instead of answering 409 for minutes.
 */
let deps: AppDeps;
beforeAll(() => {
  deps = createTestDeps();
});
afterAll(async () => {
  await closeDeps(deps);
});

const LEASE_SECONDS = 1;

function startHolder(scope: string, key: string) {
  const loader = pathToFileURL(path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', loader, path.join(__dirname, 'keyHolderProcess.ts'), scope, key, String(LEASE_SECONDS)], {
    env: entryEnv({ DATABASE_URL: deps.config.DATABASE_URL }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const claimed = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => b.toString().includes('claimed') && resolve());
    child.once('exit', (code) => reject(new Error(`key holder exited (${code}) before claiming: ${stderr}`)));
  });
  return { child, claimed };
}

it('keeps the key while its request runs past the lease, and frees it within seconds of the process being killed', async () => {
  const guard = new PostgresIdempotencyGuard(deps.db, { ...deps.config, IDEMPOTENCY_LEASE_SECONDS: LEASE_SECONDS, IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: 120 }, deps.metrics);
  const request = { scope: `test:${randomUUID()}`, key: randomUUID(), fingerprint: 'POST /v1/checkout {}' };
  const holder = startHolder(request.scope, request.key);
  try {
    await holder.claimed;
    let retries = 0;
    const retry = () =>
      guard.execute(request, async () => {
        retries++;
        return { status: 201, body: { by: 'retry' } };
      });

    // Three leases later the holder is alive and renewing: the retry is told the request is still running.
    await sleep(3 * LEASE_SECONDS * 1000);
    await expect(retry()).rejects.toMatchObject({ status: 409, code: 'request_in_progress' });
    expect(retries).toBe(0);

    holder.child.kill('SIGKILL');
    const killedAt = Date.now();
    let answer: Awaited<ReturnType<typeof retry>> | undefined;
    while (!answer && Date.now() - killedAt < 10_000) {
      answer = await retry().catch((err: { status?: number }) => {
        if (err.status !== 409) throw err;
        return undefined;
      });
      if (!answer) await sleep(200);
    }
    // Freed by the lapsed lease, far inside the 120 s a live request may hold it: the retry ran, once.
    expect(answer?.body).toEqual({ by: 'retry' });
    expect(retries).toBe(1);
  } finally {
    holder.child.kill('SIGKILL');
  }
});
