import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Api } from './http/api';
import { requestLog } from './http/requestLog';
import { asProblem, Problem, problems } from './http/problem';
import type { AppDeps } from './deps';
import { registerOperationsRoutes } from './operations/operationRoutes';
import { registerAccountRoutes } from './accounts/accountRoutes';
import { registerSessionRoutes } from './accounts/sessionRoutes';
import { registerAccountEmailRoutes } from './accounts/emailRoutes';
import { registerWebhookRoutes } from './payments/paymentWebhookRoutes';
import { registerCampaignsRoutes } from './campaigns/campaignRoutes';
import { registerPledgesRoutes } from './campaigns/pledgeRoutes';
import { registerPledgeRecoveryRoutes } from './campaigns/pledgeRecoveryRoutes';
import { registerNotificationsRoutes } from './notifications/notificationRoutes';
import { registerStoreRoutes } from './commerce/storeRoutes';
import { registerCartRoutes } from './commerce/cartRoutes';
import { registerCheckoutRoutes } from './commerce/checkoutRoutes';
import { registerOrderRoutes } from './commerce/orderRoutes';
import { registerDropRoutes } from './drops/dropRoutes';
import { registerDropQueueRoutes } from './drops/dropQueueRoutes';
import { registerProviderRoutes } from './bookings/providerRoutes';
import { registerServiceRoutes } from './bookings/serviceRoutes';
import { registerBookingRoutes } from './bookings/bookingRoutes';
import { registerBookingLifecycleRoutes } from './bookings/bookingLifecycleRoutes';
import { registerInvoiceRoutes } from './billing/invoiceRoutes';
import { registerPlanRoutes } from './billing/planRoutes';
import { createAuthenticator } from '../accounts/tokens';
import { PostgresIdempotencyGuard } from './http/idempotency';
import { TemporalTimeoutError } from '../temporal/client';

/** Builds the Express app; no listening, no global state, so tests can build as many as they like. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.TRUST_PROXY);
  app.set('query parser', 'simple');

  app.use(requestLog(deps.logger, deps.metrics));
  // Standard hardening headers (HSTS, nosniff, frame-ancestors, referrer policy, CSP fit for /docs).
  app.use(helmet());
  // Cross-origin browser calls only from configured origins; preflights answered here, before any route.
  const origins = new Set(deps.config.CORS_ORIGINS);
  app.use(
    cors({
      origin: (origin, done) => done(null, origin !== undefined && origins.has(origin.toLowerCase())),
      credentials: true,
      exposedHeaders: ['ETag', 'Retry-After', 'Idempotent-Replayed', 'X-Request-Id', 'Location'],
      maxAge: 600,
    }),
  );

  app.use(
    express.json({
      limit: `${deps.config.REQUEST_BODY_LIMIT_KB}kb`,
      // Kept for signature checks (Stripe webhooks sign the exact bytes).
      verify: (req, _res, buf) => {
        (req as Request).rawBody = buf;
      },
    }),
  );

  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  const api = new Api(express.Router(), registry, {
    authenticate: createAuthenticator(deps),
    idempotency: new PostgresIdempotencyGuard(deps.db, deps.config, deps.metrics),
  });

  registerAccountRoutes(api, deps);
  registerSessionRoutes(api, deps);
  registerAccountEmailRoutes(api, deps);
  registerWebhookRoutes(api, deps);
  registerCampaignsRoutes(api, deps);
  registerPledgesRoutes(api, deps);
  registerPledgeRecoveryRoutes(api, deps);
  registerNotificationsRoutes(api, deps);
  registerStoreRoutes(api, deps);
  registerCartRoutes(api, deps);
  registerCheckoutRoutes(api, deps);
  registerOrderRoutes(api, deps);
  registerDropRoutes(api, deps);
  registerDropQueueRoutes(api, deps);
  // Before the provider routes: GET /v1/services/search must not be taken for GET /v1/services/{id}.
  registerServiceRoutes(api, deps);
  registerProviderRoutes(api, deps);
  registerBookingRoutes(api, deps);
  registerBookingLifecycleRoutes(api, deps);
  registerInvoiceRoutes(api, deps);
  registerPlanRoutes(api, deps);
  registerOperationsRoutes(app, api, deps);

  app.use(api.router);
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new Problem(404, 'route_not_found', 'Not found', `No route for ${req.method} ${req.path}.`));
  });
  app.use(errorHandler);
  return app;
}

/** Exported so test-only apps (built from `Api` directly) answer errors exactly as the real one does. */
export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  let problem: Problem;
  const e = err as { type?: string; status?: number; message?: string };
  const known = asProblem(err);
  if (known) problem = known;
  else if (err instanceof TemporalTimeoutError)
    problem = new Problem(503, 'workflow_unavailable', 'Service unavailable', 'The workflow did not answer in time; retry shortly. Retrying is safe.', {}, { 'Retry-After': '5' });
  else if (e?.type === 'entity.parse.failed') problem = problems.malformedJson('The request body is not valid JSON.');
  else if (e?.type === 'entity.too.large') problem = new Problem(413, 'payload_too_large', 'Payload too large', 'The request body is too large.');
  else if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
    problem = new Problem(415, 'unsupported_media_type', 'Unsupported media type', e.message);
  else if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500)
    problem = new Problem(e.status, 'bad_request', 'Bad request', e.message);
  else {
    req.log?.error({ err }, 'unhandled error');
    problem = new Problem(500, 'internal_error', 'Internal error', 'Something went wrong on our side; the request id identifies it in the logs.');
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
  res.status(problem.status).type('application/problem+json').send(JSON.stringify({ ...problem.toBody(), request_id: req.id }));
}
