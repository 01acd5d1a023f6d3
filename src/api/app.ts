import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Api, hasBody } from './http/api';
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
import { registerStorefrontRoutes } from './commerce/storefrontRoutes';
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
import { registerRefundRoutes } from './billing/refundRoutes';
import { registerBalanceRoutes } from './billing/balanceRoutes';
import { registerSubscriptionRoutes } from './billing/subscriptionRoutes';
import { registerReconciliationRoutes } from './billing/reconciliationRoutes';
import { registerOperatorRoutes } from './operator/operatorRoutes';
import { registerMyCampaignRoutes } from './campaigns/myCampaignRoutes';
import { createAuthenticator } from '../accounts/tokens';
import { PostgresIdempotencyGuard } from './http/idempotency';
import { TemporalTimeoutError } from '../temporal/client';
import { mountWebApp } from './http/webApp';

/** Builds the Express app; no listening, no global state, so tests can build as many as they like. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.TRUST_PROXY);
  app.set('query parser', 'simple');

  app.use(requestLog(deps.logger, deps.metrics));
  // Standard hardening headers (HSTS, nosniff, frame-ancestors, referrer policy, CSP fit for /docs).
  app.use(staticHeaders(helmet()));
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

  const json = express.json({
    limit: `${deps.config.REQUEST_BODY_LIMIT_KB}kb`,
    // Kept for signature checks (Stripe webhooks sign the exact bytes).
    verify: (req, _res, buf) => {
      (req as Request).rawBody = buf;
    },
  });
  // Most requests (every read) carry no body: they skip the parser's bookkeeping altogether.
  app.use((req: Request, res: Response, next: NextFunction) => (hasBody(req) ? json(req, res, next) : next()));

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
  registerStorefrontRoutes(api, deps);
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
  registerRefundRoutes(api, deps);
  registerBalanceRoutes(api, deps);
  registerSubscriptionRoutes(api, deps);
  registerReconciliationRoutes(api, deps);
  registerOperatorRoutes(api, deps);
  registerMyCampaignRoutes(api, deps);
  registerOperationsRoutes(app, api, deps);

  // The routes' dispatcher itself, not api.router around it: one router pass fewer per request.
  app.use(api.dispatch);
  mountWebApp(app);
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new Problem(404, 'route_not_found', 'Not found', `No route for ${req.method} ${req.path}.`));
  });
  app.use(errorHandler);
  return app;
}

/**
 * helmet's headers do not depend on the request: it runs once here against a recording response, and each
 * request gets the recorded headers in one loop instead of a chain of a dozen middlewares. Should a future
 * helmet not answer synchronously and only through setHeader/removeHeader, its middleware is used as it is.
 */
export function staticHeaders(middleware: (req: Request, res: Response, next: (err?: unknown) => void) => void) {
  const set: [string, string][] = [];
  const removed: string[] = [];
  let nextCalled = false;
  let unexpected = false;
  const recorder = new Proxy({} as Response, {
    get: (_target, prop) => {
      if (prop === 'setHeader') return (name: string, value: string) => set.push([name, value]);
      if (prop === 'removeHeader') return (name: string) => removed.push(name);
      unexpected = true;
      return undefined;
    },
  });
  // Any look at the request means the headers may depend on it.
  const request = new Proxy({} as Request, {
    get: () => {
      unexpected = true;
      return undefined;
    },
  });
  try {
    middleware(request, recorder, (err) => {
      nextCalled = err === undefined;
    });
  } catch {
    unexpected = true;
  }
  if (!nextCalled || unexpected) return middleware;
  return (_req: Request, res: Response, next: NextFunction): void => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
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
