import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../helpers/server';
import { readTestEnvironment } from '../helpers/testEnv';
import { entryEnv, startEntry, type Running } from './processHelpers';

/**
 * `npm start` against the run's Temporal, Postgres and Redis: the real entry point boots the worker in its
 * process and the API in two more (WEB_CONCURRENCY), reports ready, and stops all cleanly on Ctrl-C (SIGINT).
 */
describe('npm start (src/main/start.ts)', () => {
  const taskQueue = `test-stack-${randomUUID().slice(0, 8)}`;
  let port: number;
  let mailUi: number;
  let stack: Running;
  let connection: Connection;

  beforeAll(async () => {
    const env = readTestEnvironment();
    port = await freePort();
    // Its own Mailpit on free ports, so the run never collides with a developer's on 1025/8025.
    const mailSmtp = await freePort();
    mailUi = await freePort();
    connection = await Connection.connect({ address: env.temporalAddress });
    stack = startEntry(
      'start',
      entryEnv({
        TEMPORAL_ADDRESS: env.temporalAddress,
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: env.redisUrl,
        HOST: '127.0.0.1',
        PORT: String(port),
        TASK_QUEUE: taskQueue,
        // The API in processes of its own beside the workers' (src/main/cluster.ts), as on a 2-core machine.
        WEB_CONCURRENCY: '2',
        LOG_LEVEL: 'warn',
        WORKER_SHUTDOWN_GRACE_SECONDS: '2',
        MAILPIT_SMTP_PORT: String(mailSmtp),
        MAILPIT_UI_PORT: String(mailUi),
      }),
    );
    // Bundling the workflow code dominates the start-up time; two cores are shared with other test files.
    await stack.waitFor('Pledgeflow is ready', 150_000);
  }, 180_000);

  afterAll(async () => {
    if (stack.child.exitCode === null && stack.child.signalCode === null) stack.child.kill('SIGKILL');
    await connection?.close();
  });

  it('prints the URLs it serves, with the API in two processes', () => {
    const { stdout } = stack.output();
    expect(stdout).toContain('(API in 2 processes)');
    expect(stdout).toContain(`API              http://127.0.0.1:${port}`);
    expect(stdout).toContain(`API docs         http://127.0.0.1:${port}/docs`);
    expect(stdout).toMatch(/Temporal Web UI {2}/);
    expect(stdout).toContain(`Email            http://localhost:${mailUi} (Mailpit`);
  });

  it('runs Mailpit, whose web UI and API answer', async () => {
    const res = await fetch(`http://127.0.0.1:${mailUi}/api/v1/messages`);
    expect(res.status).toBe(200);
  });

  it('answers /readyz 200 with Postgres, Redis and Temporal all ok', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; dependencies: { name: string; ok: boolean }[] };
    expect(body.status).toBe('ready');
    expect(body.dependencies.map((d) => [d.name, d.ok])).toEqual([
      ['postgres', true],
      ['redis', true],
      ['temporal', true],
    ]);
  });

  it('runs a worker polling its task queue and has created the recurring schedule', async () => {
    const described = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // workflow tasks
    });
    expect(described.pollers?.length).toBeGreaterThan(0);
    const client = new Client({ connection });
    const schedule = await client.schedule.getHandle(`${taskQueue}:maintenance-purge`).describe();
    expect(schedule.action).toMatchObject({ type: 'startWorkflow', workflowType: 'purgeExpiredRecords', taskQueue });
  });

  it('stops on SIGINT with exit code 0 and frees its port', async () => {
    const apiProcesses = execFileSync('pgrep', ['-P', String(stack.child.pid), '-f', 'src/main/start.ts']).toString().trim().split('\n').map(Number);
    expect(apiProcesses).toHaveLength(2);
    stack.child.kill('SIGINT');
    const result = await stack.exited;
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null });
    expect(result.stderr).not.toMatch(/^\s+at /m);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${mailUi}/api/v1/messages`)).rejects.toThrow();
    for (const pid of apiProcesses) expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);
});
