import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PriceBreakdown } from '../domain/bookingPrices';
import { refusals } from '../domain/errors';

/**
 * Price quotes as signed tokens (issue 12): the quote id itself carries the locked price, so a quote needs no
 * row and cannot be forged or altered. Format `q1.<base64url(payload json)>.<base64url(HMAC-SHA256)>`. No I/O.
 */

export interface QuoteClaims {
  serviceId: string;
  providerId: string;
  /** ISO instants. */
  start: string;
  end: string;
  priceCents: number;
  currency: string;
  breakdown: PriceBreakdown;
  expiresAt: string;
}

export const MAX_QUOTE_ID_LENGTH = 600;
const VERSION = 'q1';
const DERIVATION_LABEL = 'pledgeflow:booking-quotes';

/** QUOTE_SIGNING_SECRET when set; otherwise a key derived from JWT_SECRET under a fixed label, so it never equals the JWT key. */
export function quoteSigningKey(config: { QUOTE_SIGNING_SECRET?: string; JWT_SECRET: string }): Buffer {
  if (config.QUOTE_SIGNING_SECRET) return Buffer.from(config.QUOTE_SIGNING_SECRET, 'utf8');
  return createHmac('sha256', config.JWT_SECRET).update(DERIVATION_LABEL).digest();
}

const mac = (key: Buffer, signed: string): Buffer => createHmac('sha256', key).update(signed).digest();

const isIso = (x: unknown): x is string => typeof x === 'string' && !Number.isNaN(Date.parse(x));
const isMultiplier = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;

/** Positional on the wire: the id stays well under MAX_QUOTE_ID_LENGTH (about 340 characters with uuids). */
type Wire = [string, string, string, string, number, string, [number, number, number, number, number], string];

function toWire(c: QuoteClaims): Wire {
  const b = c.breakdown;
  return [c.serviceId, c.providerId, c.start, c.end, c.priceCents, c.currency, [b.base_cents, b.multipliers.demand, b.multipliers.experience, b.multipliers.location, b.total_multiplier], c.expiresAt];
}

function fromWire(x: unknown): QuoteClaims | null {
  if (!Array.isArray(x) || x.length !== 8) return null;
  const [serviceId, providerId, start, end, priceCents, currency, b, expiresAt] = x as unknown[];
  if (!Array.isArray(b) || b.length !== 5) return null;
  const [base_cents, demand, experience, location, total_multiplier] = b as unknown[];
  const ok =
    typeof serviceId === 'string' &&
    typeof providerId === 'string' &&
    isIso(start) &&
    isIso(end) &&
    Number.isSafeInteger(priceCents) &&
    typeof currency === 'string' &&
    isIso(expiresAt) &&
    Number.isSafeInteger(base_cents) &&
    [demand, experience, location, total_multiplier].every(isMultiplier);
  if (!ok) return null;
  return {
    serviceId,
    providerId,
    start,
    end,
    priceCents: priceCents as number,
    currency,
    breakdown: { base_cents: base_cents as number, multipliers: { demand: demand as number, experience: experience as number, location: location as number }, total_multiplier: total_multiplier as number },
    expiresAt,
  };
}

export function signQuote(key: Buffer, claims: QuoteClaims): string {
  const payload = Buffer.from(JSON.stringify(toWire(claims)), 'utf8').toString('base64url');
  const signed = `${VERSION}.${payload}`;
  const id = `${signed}.${mac(key, signed).toString('base64url')}`;
  if (id.length > MAX_QUOTE_ID_LENGTH) throw new RangeError(`quote id longer than ${MAX_QUOTE_ID_LENGTH} characters`);
  return id;
}

const invalid = (message: string) => refusals.invalid([{ path: 'quote_id', message }], 'The quote id is not valid.');

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Decodes base64url only in its canonical form, so no two spellings of one value both verify. */
function decodeCanonical(text: string): Buffer | null {
  if (!B64URL.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

/** The claims of a genuine, unexpired quote; 400 when malformed or tampered with, 410 `quote_expired` when past expiresAt. */
export function verifyQuote(key: Buffer, quoteId: string, now: number): QuoteClaims {
  if (typeof quoteId !== 'string' || quoteId.length > MAX_QUOTE_ID_LENGTH) throw invalid('not a quote id');
  const parts = quoteId.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) throw invalid('not a quote id');
  const [, payloadText = '', macText = ''] = parts;
  const given = decodeCanonical(macText);
  const payload = decodeCanonical(payloadText);
  if (!given || !payload) throw invalid('not a quote id');
  const expected = mac(key, `${VERSION}.${payloadText}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('the quote was not issued here or was altered');
  let claims: QuoteClaims | null;
  try {
    claims = fromWire(JSON.parse(payload.toString('utf8')));
  } catch {
    claims = null;
  }
  // Only a bug of ours could sign a malformed payload; still a refusal, never a 500.
  if (!claims) throw invalid('not a quote id');
  if (now >= Date.parse(claims.expiresAt)) {
    throw refusals.gone('quote_expired', 'The quote has expired; ask for a new one.', { expired_at: claims.expiresAt });
  }
  return claims;
}
