import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import supertest from 'supertest';
import { mountWebApp } from '../../src/api/http/webApp';

/**
 * How the API serves the built web app: long-cached hashed assets, an uncached index.html, the SPA fallback
 * only for browser navigations outside the API's own paths, and nothing at all without a build.
 */
function appWith(dist: string) {
  const app = express();
  app.get('/v1/campaigns', (_req, res) => void res.json({ data: [] }));
  mountWebApp(app, dist);
  app.use((_req, res) => void res.status(404).type('application/problem+json').send('{"code":"route_not_found"}'));
  return supertest(app);
}

let dist: string;
beforeAll(() => {
  dist = fs.mkdtempSync(path.join(os.tmpdir(), 'web-dist-'));
  fs.mkdirSync(path.join(dist, 'assets'));
  fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>app</title>');
  fs.writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dist, 'favicon.svg'), '<svg/>');
});

const html = 'text/html,application/xhtml+xml,*/*;q=0.8';

describe('web app serving', () => {
  it('serves index.html at / and for client routes, never cached', async () => {
    for (const url of ['/', '/campaigns/123', '/signin?next=/campaigns']) {
      const res = await appWith(dist).get(url).set('Accept', html);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.text).toContain('<title>app</title>');
    }
  });

  it('serves hashed assets for a year, immutable; a missing asset is a 404, not the page', async () => {
    const res = await appWith(dist).get('/assets/index-abc123.js');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const missing = await appWith(dist).get('/assets/gone-000.js').set('Accept', html);
    expect(missing.status).toBe(404);
    expect(missing.text).not.toContain('<title>app</title>');
  });

  it('leaves the API paths, non-GET requests and non-browser clients to the API', async () => {
    const http = appWith(dist);
    expect((await http.get('/v1/campaigns').set('Accept', html)).body).toEqual({ data: [] });
    for (const url of ['/v1/nope', '/docs/x', '/openapi.json', '/healthz', '/readyz', '/metrics']) {
      const res = await http.get(url).set('Accept', html);
      expect(res.status).toBe(404);
      expect(res.text).toBe('{"code":"route_not_found"}');
    }
    expect((await http.post('/campaigns').set('Accept', html)).status).toBe(404);
    expect((await http.get('/campaigns').set('Accept', 'application/json')).status).toBe(404);
  });

  it('without a build the API is unchanged: nothing is mounted', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'web-nodist-'));
    const res = await appWith(empty).get('/').set('Accept', html);
    expect(res.status).toBe(404);
    expect(res.text).toBe('{"code":"route_not_found"}');
  });
});
