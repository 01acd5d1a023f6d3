import type Stripe from 'stripe';

/** A request the Stripe SDK sent (with emitEventBodies) and the status stripe-mock answered it with. */
export interface SentStripeRequest {
  method: string;
  path: string;
  idempotencyKey?: string;
  apiVersion?: string;
  body?: Record<string, unknown>;
  status?: number;
}

/**
 * Records each request a Stripe client sends and the status it got. stripe-mock is stateless and answers with
 * fixtures, so adapter tests assert on what was SENT (path, API version, Idempotency-Key, parameters).
 */
export function recordStripeRequests(stripe: Stripe): SentStripeRequest[] {
  const sent: SentStripeRequest[] = [];
  stripe.on('request', (e: { method: string; path: string; idempotency_key?: string; api_version?: string; body?: Record<string, unknown> }) => {
    sent.push({ method: e.method, path: e.path, idempotencyKey: e.idempotency_key, apiVersion: e.api_version, body: e.body });
  });
  stripe.on('response', (e: { method: string; path: string; status: number }) => {
    const req = sent.find((s) => s.path === e.path && s.method === e.method && s.status === undefined);
    if (req) req.status = e.status;
  });
  return sent;
}
