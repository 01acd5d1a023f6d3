import { randomUUID } from 'node:crypto';
import express from 'express';
import { pinoHttp } from 'pino-http';
import supertest from 'supertest';
import { z } from 'zod';
import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { createApp, errorHandler } from '../../src/api/app';
import { Api, type HandlerResult } from '../../src/api/http/api';
import { problems } from '../../src/api/http/problem';
import { PostgresIdempotencyGuard } from '../../src/api/http/idempotency';
import { purgeExpiredIdempotencyKeys } from '../../src/infra/idempotencyKeys';
import { createAuthenticator } from '../../src/accounts/tokens';
import { registerAccount } from '../helpers/api';
import { closeDeps, createTestDeps, testConfig } from '../helpers/context';
import { listen } from '../helpers/server';
import { eventually } from '../helpers/wait';
import type { AppDeps } from '../../src/api/deps';

/**
 * The guard behind the real `Api` class, on a throwaway app with test-only routes whose handlers count
 * their executions, can be slowed down, and can fail on demand.
 */
let deps: AppDeps;
let server: Awaited<ReturnType<typeof listen>>;
let request: supertest.Agent;
const executions = new Map<string, number>();
let flakyMode: 'fail' | 'throw' | 'ok' = 'ok';

let finishedOrders = 0;

const ran = (route: string) => executions.get(route) ?? 0;
const count = (route: string) => executions.set(route, ran(route) + 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for a condition instead of guessing a delay, so the concurrency tests hold on a loaded machine. */
const until = (condition: () => boolean) => eventually(condition, 10_000, 'condition', 5);

function buildApp(): express.Express {
  const app = express();
  app.use(pinoHttp({ logger: deps.logger }));
  app.use(express.json());
  const api = new Api(express.Router(), new OpenAPIRegistry(), {
    authenticate: createAuthenticator(deps),
    idempotency: new PostgresIdempotencyGuard(deps.db, deps.config, deps.metrics),
  });
  app.use('/t/orders', (_req, res, next) => {
    res.on('finish', () => finishedOrders++);
    next();
  });
  const Body = z.strictObject({
    amount: z.number().int(),
    /** Hold the handler until this many other /t/orders responses have been sent. */
    wait_for_others: z.number().int().min(0).max(20).default(0),
  });
  const base = { method: 'post' as const, tags: ['test'], auth: 'optional' as const, body: Body, responses: { 201: { description: 'ok' } } };

  api.route({ ...base, path: '/t/orders', operationId: 'tOrders', summary: 'counts and echoes' }, async ({ body, principal }) => {
    count('orders');
    const finishedBefore = finishedOrders;
    await until(() => finishedOrders - finishedBefore >= body.wait_for_others);
    return {
      status: 201,
      body: { id: randomUUID(), amount: body.amount, caller: principal?.id ?? null, execution: ran('orders'), at: new Date() },
      headers: { Location: '/t/orders/x' },
    };
  });
  api.route({ ...base, path: '/t/other', operationId: 'tOther', summary: 'another route' }, async () => {
    count('other');
    return { status: 201, body: { other: true } };
  });
  api.route({ ...base, path: '/t/flaky', operationId: 'tFlaky', summary: 'fails on demand' }, async (): Promise<HandlerResult> => {
    count('flaky');
    if (flakyMode === 'fail') return { status: 503, body: { error: 'try again' } };
    if (flakyMode === 'throw') throw new Error('simulated crash inside the handler');
    return { status: 201, body: { id: randomUUID() } };
  });
  api.route({ ...base, path: '/t/refuse', operationId: 'tRefuse', summary: 'business refusal' }, async () => {
    count('refuse');
    throw problems.conflict('insufficient_stock', 'Not enough stock.', { available: 0, nonce: randomUUID() });
  });
  app.use(api.router);
  app.use(errorHandler);
  return app;
}

beforeAll(async () => {
  deps = createTestDeps(testConfig());
  server = await listen(buildApp());
  request = supertest.agent(server.url);
});
afterAll(async () => {
  await server?.close();
  await closeDeps(deps);
});

const post = (path: string, key: string | undefined, body: object, token?: string) => {
  let req = request.post(path);
  if (key !== undefined) req = req.set('Idempotency-Key', key);
  if (token) req = req.set('Authorization', `Bearer ${token}`);
  return req.send(body);
};

const userToken = () => registerAccount(supertest(createApp(deps)), { name: 'Idem' });

describe('Idempotency-Key', () => {
  it('replays the first response (same status, body and headers) without running the handler again', async () => {
    const key = randomUUID();
    const before = ran('orders');
    const first = await post('/t/orders', key, { amount: 500 });
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const second = await post('/t/orders', key, { amount: 500 });
    expect(second.status).toBe(201);
    expect(second.text).toBe(first.text);
    expect(second.headers.location).toBe('/t/orders/x');
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(ran('orders')).toBe(before + 1);
  });

  it('fingerprints the body by meaning: reordered keys are the same request', async () => {
    const key = randomUUID();
    const first = await request.post('/t/orders').set('Idempotency-Key', key).set('Content-Type', 'application/json').send('{"amount":7,"wait_for_others":0}');
    const second = await request.post('/t/orders').set('Idempotency-Key', key).set('Content-Type', 'application/json').send('{ "wait_for_others": 0, "amount": 7 }');
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
  });

  it('runs every request without a key', async () => {
    const before = ran('orders');
    const a = await post('/t/orders', undefined, { amount: 1 });
    const b = await post('/t/orders', undefined, { amount: 1 });
    expect(a.body.id).not.toBe(b.body.id);
    expect(ran('orders')).toBe(before + 2);
  });

  it('answers 422 idempotency_key_reused for the same key with another body or on another route', async () => {
    const key = randomUUID();
    expect((await post('/t/orders', key, { amount: 500 })).status).toBe(201);
    const before = ran('orders') + ran('other');
    for (const res of [await post('/t/orders', key, { amount: 501 }), await post('/t/other', key, { amount: 500 })]) {
      expect(res.status).toBe(422);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    }
    expect(ran('orders') + ran('other')).toBe(before);
    // The original is still there to be replayed.
    expect((await post('/t/orders', key, { amount: 500 })).headers['idempotent-replayed']).toBe('true');
  });

  it('answers 409 request_in_progress to a duplicate while the first is still running', async () => {
    const key = randomUUID();
    const before = ran('orders');
    // The first request's handler holds until the duplicate has been answered.
    const first = post('/t/orders', key, { amount: 9, wait_for_others: 1 }).then((r) => r);
    await until(() => ran('orders') > before);
    const duplicate = await post('/t/orders', key, { amount: 9, wait_for_others: 1 });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(duplicate.body).toMatchObject({ status: 409, code: 'request_in_progress' });
    expect(duplicate.headers['retry-after']).toBe('1');
    expect((await first).status).toBe(201);
    expect(ran('orders')).toBe(before + 1);
  });

  it('runs the handler exactly once for truly concurrent requests with one key', async () => {
    const key = randomUUID();
    const before = ran('orders');
    // Whichever request wins holds its handler until the five others have been answered.
    const results = await Promise.all(Array.from({ length: 6 }, () => post('/t/orders', key, { amount: 42, wait_for_others: 5 })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'request_in_progress')).toBe(true);
    expect(ran('orders')).toBe(before + 1);
    const winner = results.find((r) => r.status === 201)!;
    const replay = await post('/t/orders', key, { amount: 42, wait_for_others: 5 });
    expect(replay.text).toBe(winner.text);
    expect(ran('orders')).toBe(before + 1);
  });

  it('scopes keys per user: the same key from another user or a guest is a separate request', async () => {
    const [a, b] = await Promise.all([userToken(), userToken()]);
    const key = randomUUID();
    const before = ran('orders');
    const fromA = await post('/t/orders', key, { amount: 10 }, a.token);
    const fromB = await post('/t/orders', key, { amount: 10 }, b.token);
    const fromGuest = await post('/t/orders', key, { amount: 10 });
    expect([fromA.status, fromB.status, fromGuest.status]).toEqual([201, 201, 201]);
    expect([fromA.body.caller, fromB.body.caller, fromGuest.body.caller]).toEqual([a.id, b.id, null]);
    expect(ran('orders')).toBe(before + 3);
    // A key B never used is free for B even with a body A never sent.
    const otherKey = randomUUID();
    expect((await post('/t/orders', otherKey, { amount: 10 }, a.token)).status).toBe(201);
    expect((await post('/t/orders', otherKey, { amount: 99 }, b.token)).status).toBe(201);
    const replayA = await post('/t/orders', key, { amount: 10 }, a.token);
    expect(replayA.headers['idempotent-replayed']).toBe('true');
    expect(replayA.body).toEqual(fromA.body);
    const scopes = await deps.db('idempotency_keys').where({ key }).pluck('scope');
    expect(scopes.sort()).toEqual([`user:${a.id}`, `user:${b.id}`, expect.stringMatching(/^guest:/)].sort());
  });

  it('does not store a 5xx result: the key is released and a retry runs again', async () => {
    const key = randomUUID();
    const before = ran('flaky');
    flakyMode = 'fail';
    expect((await post('/t/flaky', key, { amount: 1 })).status).toBe(503);
    flakyMode = 'throw';
    const crashed = await post('/t/flaky', key, { amount: 1 });
    expect(crashed.status).toBe(500);
    expect(crashed.body.code).toBe('internal_error');
    flakyMode = 'ok';
    const retried = await post('/t/flaky', key, { amount: 1 });
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(ran('flaky')).toBe(before + 3);
    const replay = await post('/t/flaky', key, { amount: 1 });
    expect(replay.body).toEqual(retried.body);
    expect(ran('flaky')).toBe(before + 3);
  });

  it('stores a business refusal (4xx problem) and replays it as the same problem', async () => {
    const key = randomUUID();
    const before = ran('refuse');
    const first = await post('/t/refuse', key, { amount: 3 });
    const second = await post('/t/refuse', key, { amount: 3 });
    for (const res of [first, second]) {
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const withoutRequestId = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
    expect(withoutRequestId(second.body)).toEqual(withoutRequestId(first.body));
    expect(first.body).toMatchObject({ code: 'insufficient_stock', available: 0 });
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(ran('refuse')).toBe(before + 1);
  });

  it('rejects malformed keys with 400', async () => {
    const res = await post('/t/orders', 'x'.repeat(256), { amount: 1 });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_idempotency_key');
  });

  it('keeps records at least 24 hours after the response', async () => {
    const key = randomUUID();
    await post('/t/orders', key, { amount: 5 });
    const row = await deps.db('idempotency_keys').where({ key }).first();
    expect(row.state).toBe('completed');
    expect(row.expires_at.getTime() - Date.now()).toBeGreaterThan(24 * 3600_000 - 60_000);
  });

  it('purges expired records with purgeExpiredIdempotencyKeys and keeps the rest', async () => {
    const [expired, kept] = [randomUUID(), randomUUID()];
    await post('/t/orders', expired, { amount: 5 });
    await post('/t/orders', kept, { amount: 5 });
    await deps.db('idempotency_keys').where({ key: expired }).update({ expires_at: deps.db.raw("now() - interval '1 second'") });

    expect(await purgeExpiredIdempotencyKeys(deps.db)).toBeGreaterThanOrEqual(1);
    expect(await deps.db('idempotency_keys').where({ key: expired }).first()).toBeUndefined();
    expect(await deps.db('idempotency_keys').where({ key: kept }).first()).toBeDefined();

    // After the purge the key is fresh: the request runs again instead of replaying.
    const before = ran('orders');
    const again = await post('/t/orders', expired, { amount: 5 });
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(ran('orders')).toBe(before + 1);
  });

  it('purges in batches until nothing expired is left', async () => {
    const keys = Array.from({ length: 7 }, () => randomUUID());
    await deps.db('idempotency_keys').insert(
      keys.map((key) => ({
        scope: 'test:batch',
        key,
        fingerprint: 'f',
        state: 'completed',
        response_status: 201,
        expires_at: deps.db.raw("now() - interval '1 minute'"),
      })),
    );
    expect(await purgeExpiredIdempotencyKeys(deps.db, 3)).toBeGreaterThanOrEqual(7);
    expect(await deps.db('idempotency_keys').where({ scope: 'test:batch' })).toHaveLength(0);
  });
});

describe('a request stuck in progress past IDEMPOTENCY_LOCK_TIMEOUT_SECONDS', () => {
  it('is taken over by a retry, and the stuck request cannot overwrite the new result when it wakes up', async () => {
    const guard = new PostgresIdempotencyGuard(deps.db, { ...deps.config, IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: 1 }, deps.metrics);
    const request = { scope: `test:${randomUUID()}`, key: randomUUID(), fingerprint: 'POST /x {"a":1}' };
    let wake!: () => void;
    let started = false;
    const stuck = guard.execute(request, async () => {
      started = true;
      await new Promise<void>((r) => (wake = r));
      return { status: 201, body: { by: 'stuck' } };
    });
    await until(() => started);

    // Still within the lock: a duplicate is told to wait.
    await expect(guard.execute(request, async () => ({ status: 201, body: { by: 'early' } }))).rejects.toMatchObject({
      status: 409,
      code: 'request_in_progress',
    });
    // Another request under the same key with another body is still a misuse, lock or no lock.
    await expect(
      guard.execute({ ...request, fingerprint: 'POST /x {"a":2}' }, async () => ({ status: 201, body: {} })),
    ).rejects.toMatchObject({ status: 422 });

    await sleep(1200);
    const takeover = await guard.execute(request, async () => ({ status: 201, body: { by: 'takeover' } }));
    expect(takeover.body).toEqual({ by: 'takeover' });

    wake();
    expect((await stuck).body).toEqual({ by: 'stuck' });
    const replay = await guard.execute(request, async () => ({ status: 201, body: { by: 'never runs' } }));
    expect(replay.body).toEqual({ by: 'takeover' });
    expect(replay.headers?.['Idempotent-Replayed']).toBe('true');
  });

  it('only one of several concurrent retries takes over a stale lock', async () => {
    const guard = new PostgresIdempotencyGuard(deps.db, { ...deps.config, IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: 1 }, deps.metrics);
    const request = { scope: `test:${randomUUID()}`, key: randomUUID(), fingerprint: 'POST /y {}' };
    let wake!: () => void;
    let started = false;
    const stuck = guard.execute(request, () => {
      started = true;
      return new Promise<HandlerResult>((r) => (wake = () => r({ status: 201, body: { by: 'stuck' } })));
    });
    await until(() => started);
    await sleep(1200);
    let runs = 0;
    let answered = 0;
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        guard
          .execute(request, async () => {
            runs++;
            // Hold the new lock until the four other retries have had their answer.
            await until(() => answered >= 4);
            return { status: 201, body: { by: 'retry' } };
          })
          .finally(() => answered++),
      ),
    );
    expect(runs).toBe(1);
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    expect(settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason.code)).toEqual(
      Array(4).fill('request_in_progress'),
    );
    wake();
    await stuck;
  });
});

describe('claims and responses arriving together (one statement each per batch)', () => {
  const statementsDuring = async <T>(fn: () => Promise<T>) => {
    let statements = 0;
    const onQuery = (q: { sql: string }) => {
      if (/idempotency_keys/.test(q.sql)) statements++;
    };
    deps.db.on('query', onQuery);
    try {
      return { result: await fn(), statements };
    } finally {
      deps.db.off('query', onQuery);
    }
  };

  it('claims, runs and stores 40 concurrent requests with distinct keys exactly once each, in fewer statements than requests', async () => {
    const guard = new PostgresIdempotencyGuard(deps.db, deps.config, deps.metrics);
    const scope = `test:${randomUUID()}`;
    let runs = 0;
    const { result, statements } = await statementsDuring(() =>
      Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          guard.execute({ scope, key: `k${i}`, fingerprint: `POST /b {"i":${i}}` }, async () => {
            runs++;
            return { status: 201, body: { i, quote: 'a "quoted" \\ value' }, headers: { Location: `/b/${i}` } };
          }),
        ),
      ),
    );
    expect(runs).toBe(40);
    expect(result.map((r) => (r.body as { i: number }).i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // 40 claims and 40 responses, alone: 80 statements. Together they share.
    expect(statements).toBeLessThan(80);
    const rows = await deps.db('idempotency_keys').where({ scope }).orderBy('key');
    expect(rows).toHaveLength(40);
    expect(rows.every((r) => r.state === 'completed' && r.lock_token === null && r.response_status === 201)).toBe(true);
    // Every response is replayed as it was stored (the body's exact JSON text, its headers).
    const replays = await Promise.all(
      Array.from({ length: 40 }, (_, i) => guard.execute({ scope, key: `k${i}`, fingerprint: `POST /b {"i":${i}}` }, async () => ({ status: 500 }))),
    );
    replays.forEach((r, i) => {
      expect(r).toMatchObject({ status: 201, body: { i, quote: 'a "quoted" \\ value' }, headers: { Location: `/b/${i}`, 'Idempotent-Replayed': 'true' } });
    });
  });

  it('lets a key sent twice in one batch run once: the second waits (409) or replays, never runs', async () => {
    const guard = new PostgresIdempotencyGuard(deps.db, deps.config, deps.metrics);
    const request = { scope: `test:${randomUUID()}`, key: randomUUID(), fingerprint: 'POST /twice {}' };
    let runs = 0;
    // Another request in flight first, so the twins queue behind its claim and share the next batch.
    const ahead = guard.execute({ ...request, key: randomUUID() }, async () => ({ status: 201 }));
    const settled = await Promise.allSettled(
      [0, 1].map(() =>
        guard.execute(request, async () => {
          runs++;
          return { status: 201, body: { ok: true } };
        }),
      ),
    );
    await ahead;
    expect(runs).toBe(1);
    // The twin that lost reads the row after the batch: still running (409), or already answered (the replay).
    const ran = settled.filter((s) => s.status === 'fulfilled' && s.value.headers?.['Idempotent-Replayed'] === undefined);
    expect(ran).toHaveLength(1);
    const other = settled.find((s) => s !== ran[0])!;
    if (other.status === 'rejected') expect(other.reason).toMatchObject({ status: 409, code: 'request_in_progress' });
    else expect(other.value).toMatchObject({ status: 201, body: { ok: true }, headers: { 'Idempotent-Replayed': 'true' } });
  });

  it('keeps one bad claim from failing the others it was batched with', async () => {
    const guard = new PostgresIdempotencyGuard(deps.db, deps.config, deps.metrics);
    const scope = `test:${randomUUID()}`;
    // A key the table refuses (longer than 255; the API refuses it before the guard, a direct caller might not).
    const outcomes = await Promise.allSettled(
      ['a', 'x'.repeat(300), 'b', 'c'].map((key) => guard.execute({ scope, key, fingerprint: 'POST /z {}' }, async () => ({ status: 201, body: { key } }))),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((await deps.db('idempotency_keys').where({ scope }).pluck('key')).sort()).toEqual(['a', 'b', 'c']);
  });
});
