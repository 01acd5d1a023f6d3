import { registerAccount } from '../helpers/api';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';

/**
 * With no worker polling, a workflow Update would wait forever; the API bounds the wait and answers 503,
 * and nothing changes.
 */
describe('workflow Updates without a worker', () => {
  let ctx: TestContext;
  beforeAll(() => {
    ctx = createTestContext(testConfig({ TEMPORAL_UPDATE_TIMEOUT: '2' }));
  });
  afterAll(() => ctx.close());

  it('answers 503 workflow_unavailable after TEMPORAL_UPDATE_TIMEOUT and leaves the campaign as it was', async () => {
    const creator = await registerAccount(ctx.http, { role: 'creator' });
    const created = await ctx.http
      .post('/v1/campaigns')
      .set('Authorization', creator.auth)
      .send({ title: 'No worker', description: 'x', category: 'other', goal_cents: 1_000, currency: 'USD', ends_at: new Date(Date.now() + 3_600_000).toISOString() });
    expect(created.status).toBe(201);
    const launched = await ctx.http.post(`/v1/campaigns/${created.body.id}/launch`).set('Authorization', creator.auth).send({});
    expect(launched.status).toBe(200);

    const started = Date.now();
    const res = await ctx.http.post(`/v1/campaigns/${created.body.id}/cancel`).set('Authorization', creator.auth).send({});
    expectProblem(res, 503, 'workflow_unavailable');
    expect(res.headers['retry-after']).toBe('5');
    expect(Date.now() - started).toBeLessThan(15_000);
    const after = await ctx.http.get(`/v1/campaigns/${created.body.id}`);
    expect(after.body.status).toBe('live');
  });
});
