import { createTestContext, type TestContext } from '../helpers/context';

describe('API description, metrics and request ids', () => {
  let ctx: TestContext;
  beforeAll(() => {
    ctx = createTestContext();
  });
  afterAll(() => ctx.close());

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const res = await ctx.http.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/healthz', '/readyz', '/v1/auth/register', '/v1/auth/login', '/v1/me', '/v1/webhooks/stripe']),
    );
    const register = res.body.paths['/v1/auth/register'].post;
    expect(register.requestBody.content['application/json'].schema).toBeDefined();
    expect(res.body.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(res.body.components.schemas.Problem).toBeDefined();
  });

  it('renders the docs page from local assets', async () => {
    const res = await ctx.http.get('/docs/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
    const css = await ctx.http.get('/docs/swagger-ui.css');
    expect(css.status).toBe(200);
  });

  it('exposes Prometheus request counts, latency histograms and process metrics', async () => {
    await ctx.http.get('/healthz');
    await ctx.http.get('/no/such/route');
    const res = await ctx.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} [1-9]/);
    expect(res.text).toMatch(/http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]/);
    expect(res.text).toMatch(/http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/healthz",status="200"\}/);
    expect(res.text).toContain('process_cpu_user_seconds_total');
    expect(res.text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('echoes a well-formed X-Request-Id and makes one up otherwise', async () => {
    const echoed = await ctx.http.get('/healthz').set('X-Request-Id', 'client-abc-123');
    expect(echoed.headers['x-request-id']).toBe('client-abc-123');
    const generated = await ctx.http.get('/healthz').set('X-Request-Id', 'bad id with spaces');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with a 404 problem+json carrying the request id', async () => {
    const res = await ctx.http.get('/v1/nothing-here').set('X-Request-Id', 'req-404');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(res.text)).toMatchObject({ status: 404, code: 'route_not_found', request_id: 'req-404' });
  });
});
