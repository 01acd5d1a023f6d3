import express from 'express';
import helmet from 'helmet';
import supertest from 'supertest';
import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Api } from '../../src/api/http/api';
import { errorHandler, staticHeaders } from '../../src/api/app';

/**
 * The shared HTTP pipeline's shortcuts answer exactly as the plain forms would: routes grouped by their first
 * segments match as one flat router does (order, case, trailing slash, OPTIONS), and helmet's headers recorded
 * once are the headers helmet itself sets.
 */

function buildApp(mount: 'router' | 'dispatch') {
  const app = express();
  const api = new Api(express.Router(), new OpenAPIRegistry(), {
    authenticate: () => Promise.reject(new Error('no auth in this test')),
    idempotency: { execute: (_r, fn) => fn() },
  });
  const base = { tags: ['t'], auth: 'public' as const, summary: 's', responses: { 200: { description: 'ok' } } };
  // Declared before the parameterized route of the same group: it must keep winning.
  api.route({ ...base, method: 'get', path: '/v1/things/search', operationId: 'search' }, async () => ({ status: 200, body: { route: 'search' } }));
  api.route({ ...base, method: 'get', path: '/v1/things/{id}', operationId: 'thing' }, async ({ req }) => ({ status: 200, body: { route: 'thing', id: req.params.id } }));
  api.route({ ...base, method: 'post', path: '/v1/things/{id}', operationId: 'postThing' }, async () => ({ status: 200, body: { route: 'post' } }));
  api.route({ ...base, method: 'get', path: '/v1/other', operationId: 'other' }, async () => ({ status: 200, body: { route: 'other' } }));
  api.route({ ...base, method: 'get', path: '/plain', operationId: 'plain' }, async () => ({ status: 200, body: { route: 'plain' } }));
  app.use(mount === 'router' ? api.router : api.dispatch);
  app.use((_req: express.Request, res: express.Response) => void res.status(404).json({ route: 'none' }));
  app.use(errorHandler);
  return { app, api };
}

describe.each(['router', 'dispatch'] as const)('routes grouped by their first segments (mounted as %s)', (mount) => {
  const { app } = buildApp(mount);
  const routeOf = async (method: 'get' | 'post', path: string) => (await supertest(app)[method](path)).body.route as string;

  it('matches in declaration order within a group', async () => {
    expect(await routeOf('get', '/v1/things/search')).toBe('search');
    expect(await routeOf('get', '/v1/things/abc')).toBe('thing');
    expect(await routeOf('post', '/v1/things/abc')).toBe('post');
  });

  it('matches case-insensitively and with a trailing slash, as Express does', async () => {
    expect(await routeOf('get', '/V1/Things/abc')).toBe('thing');
    expect(await routeOf('get', '/v1/things/abc/')).toBe('thing');
    expect(await routeOf('get', '/v1/other/')).toBe('other');
    expect(await routeOf('get', '/PLAIN')).toBe('plain');
  });

  it('leaves paths of no group, or of no route in their group, to what follows', async () => {
    expect(await routeOf('get', '/v1/nothing/abc')).toBe('none');
    expect(await routeOf('get', '/v1/things')).toBe('none');
    expect(await routeOf('get', '/v1/things/abc/more')).toBe('none');
    expect(await routeOf('get', '/v1')).toBe('none');
  });

  it('answers OPTIONS with every method of the path', async () => {
    const res = await supertest(app).options('/v1/things/abc');
    expect(res.status).toBe(200);
    expect(res.headers.allow?.split(/,\s*/).sort()).toEqual(['GET', 'HEAD', 'POST']);
  });
});

describe('a route whose first segment is a parameter', () => {
  it('is refused at declaration (it could not be grouped)', () => {
    const { api } = buildApp('dispatch');
    expect(() =>
      api.route({ tags: ['t'], auth: 'public', summary: 's', responses: { 200: { description: 'ok' } }, method: 'get', path: '/v1/{kind}/x', operationId: 'bad' }, async () => ({ status: 200 })),
    ).toThrow(/must be literal/);
  });
});

describe('staticHeaders(helmet())', () => {
  const headersOf = async (middleware: express.RequestHandler) => {
    const app = express();
    app.use(middleware);
    app.get('/x', (_req, res) => void res.json({}));
    const res = await supertest(app).get('/x');
    const { date: _date, etag: _etag, ...rest } = res.headers;
    return rest;
  };

  it('sets exactly the headers helmet sets (and removes X-Powered-By)', async () => {
    const recorded = await headersOf(staticHeaders(helmet()));
    expect(recorded).toEqual(await headersOf(helmet()));
    expect(recorded['x-powered-by']).toBeUndefined();
    expect(recorded['content-security-policy']).toMatch(/frame-ancestors 'self'/);
  });

  it('falls back to the middleware itself when it does more than set headers synchronously', async () => {
    const dynamic: express.RequestHandler = (req, res, next) => {
      res.setHeader('X-Path', req.path);
      next();
    };
    expect(staticHeaders(dynamic)).toBe(dynamic);
  });
});
