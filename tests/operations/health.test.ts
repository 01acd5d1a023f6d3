import { createTestContext, testConfig, type TestContext } from '../helpers/context';

describe('health and readiness', () => {
  let ctx: TestContext;
  beforeAll(() => {
    ctx = createTestContext();
  });
  afterAll(() => ctx.close());

  it('healthz answers 200 while the process is up', async () => {
    const res = await ctx.http.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('readyz is 200 with Postgres, Redis and Temporal all up', async () => {
    const res = await ctx.http.get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.dependencies.map((d: { name: string; ok: boolean }) => [d.name, d.ok])).toEqual([
      ['postgres', true],
      ['redis', true],
      ['temporal', true],
    ]);
  });

  it.each([
    ['postgres', { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' }],
    ['redis', { REDIS_URL: 'redis://127.0.0.1:1/0' }],
    ['temporal', { TEMPORAL_ADDRESS: '127.0.0.1:1' }],
  ])('readyz is 503 naming %s when it is down', async (name, overrides) => {
    const down = createTestContext(testConfig(overrides));
    try {
      const res = await down.http.get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('unavailable');
      expect(res.body.down).toEqual([name]);
      const failed = res.body.dependencies.find((d: { name: string }) => d.name === name);
      expect(failed.ok).toBe(false);
      expect(failed.error).toEqual(expect.any(String));
    } finally {
      await down.close();
    }
  });
});
