import { randomUUID } from 'node:crypto';
import { startDevServer, type DevServer } from '../../src/temporal/devServer';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { bearer, makeUsers } from '../helpers/fixtures';
import { freePort } from '../helpers/ownedPostgres';
import { eventually } from '../helpers/wait';

/**
 * The Temporal dev server (the test's own, on a fixed port) dies under a running API and comes back: launches in
 * between answer 503 naming temporal and leave the campaign a draft; afterwards the same API launches again
 * without a restart of its own.
 */
let temporal: DevServer | undefined;
let ctx: TestContext;
let port: number;

beforeAll(async () => {
  port = await freePort();
  temporal = await startDevServer({ port, namespace: 'default' });
  ctx = createTestContext(testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }));
}, 180_000);
afterAll(async () => {
  await ctx?.close();
  await temporal?.stop();
});

/** The same port again; on a loaded machine the new server can miss its first connect deadline, so try again. */
async function restartDevServer(): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServer({ port, namespace: 'default' });
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

it('answers 503 while Temporal is down, changes nothing, and launches again once it is back', async () => {
  const [creatorId] = await makeUsers(ctx.deps, 1, 'creator');
  const auth = bearer(ctx.deps, creatorId!);
  const draft = async () =>
    (
      await ctx.http
        .post('/v1/campaigns')
        .set('Authorization', auth)
        .send({
          title: `Restart ${randomUUID().slice(0, 8)}`,
          description: 'Launched around a Temporal restart',
          category: 'technology',
          goal_cents: 10_000,
          currency: 'USD',
          ends_at: new Date(Date.now() + 86_400_000).toISOString(),
          reward_tiers: [{ title: 'Thanks', min_amount_cents: 500 }],
        })
    ).body.id as string;
  const launch = (id: string) => ctx.http.post(`/v1/campaigns/${id}/launch`).set('Authorization', auth).send({});

  const before = await draft();
  expect((await launch(before)).status).toBe(200);

  await temporal!.stop();
  temporal = undefined;
  const during = await draft();
  const refused = await launch(during);
  expect(refused.status).toBe(503);
  expect(refused.headers['retry-after']).toMatch(/^\d+$/);
  expect(refused.body).toMatchObject({ code: 'dependency_unavailable', dependency: 'temporal' });
  expect(await ctx.deps.db('campaigns').where({ id: during }).first('status')).toEqual({ status: 'draft' });

  temporal = await restartDevServer();
  // The API's gRPC channel reconnects with backoff: the first launches after the restart may still be refused.
  await eventually(async () => (await launch(during)).status === 200, 60_000, 'a launch after Temporal is back', 500);
  expect(await ctx.deps.db('campaigns').where({ id: during }).first('status')).toMatchObject({ status: expect.not.stringMatching(/^draft$/) });
}, 180_000);
