import { randomUUID } from 'node:crypto';
import { registerOperator } from '../helpers/api';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';

/**
 * Walks every operation in the generated OpenAPI document and throws bad input at it: malformed JSON,
 * non-object bodies, unknown fields, wrong types, garbage path and query parameters. Each must answer a 4xx
 * problem+json (400 for anything malformed), never a 500 — and new routes are covered the day they are added.
 */
type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; enum?: unknown[] };
type Operation = {
  requestBody?: { content: Record<string, { schema: Schema }> };
  parameters?: { name: string; in: string; schema?: Schema }[];
};

const operatorEmail = uniqueEmail('operator');

function wrongValue(schema: Schema | undefined): unknown {
  const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
  switch (type) {
    case 'string':
      return { not: 'a string' };
    case 'integer':
    case 'number':
      return 'not-a-number';
    case 'boolean':
      return 'maybe';
    case 'array':
      return 'not-an-array';
    case 'object':
      return ['not', 'an', 'object'];
    default:
      return Symbol.for('skip');
  }
}

describe('bad input on every route', () => {
  let ctx: TestContext;
  let token: string;
  let operations: { method: string; path: string; op: Operation }[];

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    const op = await registerOperator(ctx.http, ctx.deps.db, { email: operatorEmail, name: 'Op' });
    expect(op.role).toBe('operator');
    token = op.token;
    const doc = (await ctx.http.get('/openapi.json')).body as { paths: Record<string, Record<string, Operation>> };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ method, path, op })),
    );
  });
  afterAll(() => ctx.close());

  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, () => randomUUID());
  const call = (method: string, path: string) =>
    (ctx.http as unknown as Record<string, (p: string) => import('supertest').Test>)[method]!(path)
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', randomUUID());

  function expectRejected(res: import('supertest').Response, label: string, status = 400) {
    expect({ label, status: res.status }).toEqual({ label, status });
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ status, code: expect.stringMatching(/^[a-z_]+$/), title: expect.any(String) });
  }

  it('covers a meaningful set of routes', () => {
    expect(operations.filter((o) => o.op.requestBody).length).toBeGreaterThanOrEqual(3);
  });

  it('rejects malformed JSON with 400 malformed_json (or the route\'s own 400)', async () => {
    for (const { method, path, op } of operations.filter((o) => o.op.requestBody)) {
      const res = await call(method, concrete(path)).set('Content-Type', 'application/json').send('{"amount_cents": 12,');
      expectRejected(res, `${method} ${path}`);
    }
  });

  it('rejects bodies that are not JSON objects', async () => {
    for (const { method, path } of operations.filter((o) => o.op.requestBody)) {
      for (const body of ['[1,2,3]', '"text"', '42', 'null']) {
        const res = await call(method, concrete(path)).set('Content-Type', 'application/json').send(body);
        expectRejected(res, `${method} ${path} ${body}`);
      }
    }
  });

  it('rejects unknown fields and wrong types with 400 naming the field', async () => {
    for (const { method, path, op } of operations.filter((o) => o.op.requestBody?.content['application/json'])) {
      const schema = op.requestBody!.content['application/json']!.schema;
      const unknown = await call(method, concrete(path)).send({ definitely_not_a_field: true });
      expectRejected(unknown, `${method} ${path} unknown field`);

      for (const [field, fieldSchema] of Object.entries(schema.properties ?? {})) {
        const value = wrongValue(fieldSchema);
        if (value === Symbol.for('skip')) continue;
        const res = await call(method, concrete(path)).send({ [field]: value });
        expectRejected(res, `${method} ${path} ${field}=${JSON.stringify(value)}`);
      }
    }
  });

  it('rejects garbage path and query parameters', async () => {
    for (const { method, path, op } of operations) {
      if (path.includes('{')) {
        // Neither a uuid nor a slug (GET /v1/stores/by-slug/{slug} takes lowercase letters, digits and dashes).
        const res = await call(method, path.replace(/\{[^}]+\}/g, 'Not_A_Uuid!')).send({});
        expectRejected(res, `${method} ${path} with a malformed id`);
      }
      for (const param of (op.parameters ?? []).filter((p) => p.in === 'query')) {
        const value = wrongValue(param.schema);
        if (value === Symbol.for('skip') || typeof value !== 'string') continue;
        const res = await call(method, `${concrete(path)}?${param.name}=${encodeURIComponent(value)}`);
        expectRejected(res, `${method} ${path}?${param.name}`);
      }
    }
  });

  it('answers a NUL character in any text query parameter with a 4xx problem, never a 500 (Postgres text cannot hold it)', async () => {
    for (const { method, path, op } of operations) {
      for (const param of (op.parameters ?? []).filter((p) => p.in === 'query')) {
        const schema = param.schema as (Schema & { enum?: unknown[]; format?: string; pattern?: string }) | undefined;
        const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
        // Free text only: enums, formats and patterns already refuse anything unexpected.
        if (type !== 'string' || schema?.enum || schema?.format || schema?.pattern) continue;
        const res = await call(method, `${concrete(path)}?${param.name}=${encodeURIComponent('a\u0000b')}`);
        // 400 where the parameter is checked first; an unknown id in the path may answer 404 before it is read.
        const label = `${method} ${path}?${param.name} with NUL`;
        expect({ label, clientError: res.status >= 400 && res.status < 500 }).toEqual({ label, clientError: true });
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }
    }
  });

  it('rejects an Idempotency-Key that is too long or not printable', async () => {
    const res = await ctx.http
      .post('/v1/auth/login')
      .set('Idempotency-Key', 'k'.repeat(256))
      .send({ email: operatorEmail, password: 'whatever-password' });
    expectRejected(res, 'long idempotency key');
    expect(JSON.parse(res.text).code).toBe('invalid_idempotency_key');
  });
});
