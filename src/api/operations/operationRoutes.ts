import express, { type Express } from 'express';
import swaggerUi from 'swagger-ui-express';
import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { Api } from '../http/api';
import type { AppDeps } from '../deps';
import { checkDependencies } from '../../infra/dependencies';

const DependencySchema = z.object({
  name: z.enum(['postgres', 'redis', 'temporal']),
  ok: z.boolean(),
  error: z.string().optional(),
  latency_ms: z.number(),
});
const ReadinessSchema = z.object({ status: z.enum(['ready', 'unavailable']), dependencies: z.array(DependencySchema) }).openapi('Readiness');

/** Health, readiness, metrics and the API's own description. */
export function registerOperationsRoutes(app: Express, api: Api, deps: AppDeps): void {
  api.route(
    {
      method: 'get',
      path: '/healthz',
      operationId: 'health',
      summary: 'The process is up',
      tags: ['operations'],
      auth: 'public',
      responses: { 200: { description: 'Up', schema: z.object({ status: z.literal('ok') }) } },
    },
    async () => ({ status: 200, body: { status: 'ok' } }),
  );

  api.route(
    {
      method: 'get',
      path: '/readyz',
      operationId: 'readiness',
      summary: 'Postgres, Redis and Temporal are all reachable',
      tags: ['operations'],
      auth: 'public',
      responses: {
        200: { description: 'Ready', schema: ReadinessSchema },
        503: { description: 'A dependency is down; it is named in `dependencies`', schema: ReadinessSchema },
      },
    },
    async () => {
      const dependencies = await checkDependencies({ db: deps.db, redis: deps.redis, temporal: () => deps.temporal.connection() });
      const ready = dependencies.every((d) => d.ok);
      const down = dependencies.filter((d) => !d.ok).map((d) => d.name);
      return {
        status: ready ? 200 : 503,
        body: { status: ready ? 'ready' : 'unavailable', ...(down.length ? { down } : {}), dependencies },
      };
    },
  );

  app.get('/metrics', async (_req, res, next) => {
    try {
      res.type(deps.metrics.registry.contentType).send(await deps.metrics.exposition());
    } catch (err) {
      next(err);
    }
  });

  let document: object | undefined;
  const openApiDocument = () =>
    (document ??= new OpenApiGeneratorV31(api.registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: {
        title: 'Pledgeflow API',
        version: '1',
        description: 'Crowdfunding campaigns, limited-stock stores and product drops. Errors are application/problem+json with a stable `code`.',
      },
      servers: [{ url: '/' }],
    }));
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  // Swagger UI's assets come from the swagger-ui-dist package, so /docs works offline.
  app.use('/docs', swaggerUi.serve);
  app.get('/docs', express.Router().use(swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' } })));
}
