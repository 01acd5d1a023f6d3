import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Creator webhook signatures, in the style receivers know from Stripe:
 *
 *   Pledgeflow-Event-Id:  evt_...        stable across retries: receivers dedupe on it
 *   Pledgeflow-Timestamp: 1763712000     unix seconds of this delivery attempt
 *   Pledgeflow-Signature: v1=<hex>       HMAC-SHA256(secret, "<timestamp>.<raw body>")
 *
 * The timestamp is signed with the body so a captured request cannot be replayed later than the receiver's
 * tolerance. Receivers must verify the exact bytes they received, before parsing the JSON.
 */
export const WEBHOOK_EVENT_ID_HEADER = 'Pledgeflow-Event-Id';
export const WEBHOOK_TIMESTAMP_HEADER = 'Pledgeflow-Timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'Pledgeflow-Signature';
export const WEBHOOK_SIGNATURE_VERSION = 'v1';

export function computeWebhookSignature(secret: string, timestamp: number | string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The three headers for one delivery attempt of `body`. */
export function webhookHeaders(secret: string, eventId: string, body: string, nowMs = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    [WEBHOOK_EVENT_ID_HEADER]: eventId,
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
    [WEBHOOK_SIGNATURE_HEADER]: `${WEBHOOK_SIGNATURE_VERSION}=${computeWebhookSignature(secret, timestamp, body)}`,
  };
}

export type WebhookVerification = { ok: true } | { ok: false; reason: 'missing_headers' | 'bad_signature' | 'timestamp_out_of_tolerance' };

/**
 * For receivers (and tests): checks a delivery's signature against the raw body in constant time, and that
 * its timestamp is within `toleranceSeconds` of now. The signature header may carry several `v1=` values
 * (comma separated) so a receiver can accept deliveries across a secret rotation.
 */
export function verifyWebhookSignature(input: {
  secret: string;
  body: string | Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
  toleranceSeconds?: number;
  nowMs?: number;
}): WebhookVerification {
  const { secret, body, timestamp, signature } = input;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'missing_headers' };
  const tolerance = input.toleranceSeconds ?? 300;
  const now = Math.floor((input.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - Number(timestamp)) > tolerance) return { ok: false, reason: 'timestamp_out_of_tolerance' };

  const expected = Buffer.from(computeWebhookSignature(secret, timestamp, body), 'hex');
  const candidates = signature
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${WEBHOOK_SIGNATURE_VERSION}=`))
    .map((part) => part.slice(WEBHOOK_SIGNATURE_VERSION.length + 1));
  for (const hex of candidates) {
    if (!/^[0-9a-f]{64}$/i.test(hex)) continue;
    if (timingSafeEqual(Buffer.from(hex, 'hex'), expected)) return { ok: true };
  }
  return { ok: false, reason: 'bad_signature' };
}
