import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { createApp } from '../../src/api/app';
import { closeServer, listen } from '../../src/main/bootstrap';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { connectSse } from '../helpers/sse';
import { eventually } from '../helpers/wait';

/** What users expect from an HTTP service: hardening headers, a CORS allow-list, body limits, graceful shutdown. */
let ctx: TestContext;
const APP_ORIGIN = 'https://app.pledgeflow.test';

beforeAll(() => {
  ctx = createTestContext(testConfig({ CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:5173`, REQUEST_BODY_LIMIT_KB: '2' }));
});
afterAll(async () => {
  await ctx?.close();
});

it('sends the standard hardening headers on every answer', async () => {
  for (const res of [await ctx.http.get('/healthz'), await ctx.http.get('/v1/campaigns/not-a-uuid')]) {
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'self'/);
    expect(res.headers['x-powered-by']).toBeUndefined();
  }
});

it('lets only the configured origins call cross-origin, preflight included', async () => {
  const preflight = await ctx.http
    .options('/v1/campaigns')
    .set('Origin', APP_ORIGIN)
    .set('Access-Control-Request-Method', 'POST')
    .set('Access-Control-Request-Headers', 'authorization, content-type, idempotency-key');
  expect(preflight.status).toBe(204);
  expect(preflight.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
  expect(preflight.headers['access-control-allow-methods']).toMatch(/POST/);

  const allowed = await ctx.http.get('/v1/campaigns').set('Origin', APP_ORIGIN);
  expect(allowed.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
  expect(allowed.headers['access-control-expose-headers']).toMatch(/Retry-After/);

  const other = await ctx.http.get('/v1/campaigns').set('Origin', 'https://evil.example');
  expect(other.status).toBe(200);
  expect(other.headers['access-control-allow-origin']).toBeUndefined();
});

it('refuses a body over REQUEST_BODY_LIMIT_KB with 413 problem+json and changes nothing', async () => {
  const email = `big-${randomUUID()}@example.test`;
  const res = await ctx.http.post('/v1/auth/register').send({ email, password: 'correct horse battery staple', name: 'x'.repeat(4_000) });
  expect(res.status).toBe(413);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(res.body.code).toBe('payload_too_large');
  expect(await ctx.deps.db('users').where({ email }).first()).toBeUndefined();
});

it('ends live streams at shutdown instead of holding it for the grace period', async () => {
  const user = await makeUser(ctx.deps);
  const server: http.Server = await listen(createApp(ctx.deps), { ...ctx.deps.config, HOST: '127.0.0.1', PORT: 0 });
  const { port } = server.address() as { port: number };
  const stream = await connectSse(`http://127.0.0.1:${port}/v1/me/notifications/stream`, { Authorization: user.auth });
  expect(stream.status).toBe(200);

  const graceMs = 20_000;
  const started = Date.now();
  await closeServer(server, graceMs);
  // Without the drain, close() would wait the whole grace period for the stream to end.
  expect(Date.now() - started).toBeLessThan(graceMs / 2);
  await eventually(() => stream.comments.includes('server restarting'), 2_000, 'the restart comment');
  stream.close();
});
