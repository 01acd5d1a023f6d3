import { createHmac } from 'node:crypto';
import { MAX_QUOTE_ID_LENGTH, quoteSigningKey, signQuote, verifyQuote, type QuoteClaims } from '../../src/bookings/quotes';
import { DomainError } from '../../src/domain/errors';

const key = quoteSigningKey({ JWT_SECRET: 'jwt-secret-for-tests' });
const now = Date.parse('2026-12-02T08:00:00.000Z');
const claims: QuoteClaims = {
  serviceId: '3f1e1c2a-9a0b-4c1d-8e2f-123456789abc',
  providerId: '7d2a4b10-0c3e-4f5a-9b6c-abcdefabcdef',
  start: '2026-12-02T09:00:00.000Z',
  end: '2026-12-02T10:00:00.000Z',
  priceCents: 6325,
  currency: 'EUR',
  breakdown: { base_cents: 5000, multipliers: { demand: 1.15, experience: 1.1, location: 1 }, total_multiplier: 1.265 },
  expiresAt: '2026-12-02T08:15:00.000Z',
};

/** The refusal a call throws, or fails the test. */
function refusal(call: () => unknown): DomainError {
  try {
    call();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

function expectInvalid(call: () => unknown): void {
  const e = refusal(call);
  expect(e.kind).toBe('invalid');
  expect(e.extra.errors).toEqual([expect.objectContaining({ path: 'quote_id' })]);
}

describe('quote signing key', () => {
  it('is QUOTE_SIGNING_SECRET when set, else HMAC(JWT_SECRET, "pledgeflow:booking-quotes")', () => {
    expect(quoteSigningKey({ QUOTE_SIGNING_SECRET: 'quote-secret', JWT_SECRET: 'j' })).toEqual(Buffer.from('quote-secret'));
    expect(key).toEqual(createHmac('sha256', 'jwt-secret-for-tests').update('pledgeflow:booking-quotes').digest());
    expect(quoteSigningKey({ QUOTE_SIGNING_SECRET: '', JWT_SECRET: 'jwt-secret-for-tests' })).toEqual(key);
  });
});

describe('signed quotes', () => {
  it('round-trips: the id is q1.<payload>.<mac>, at most 600 characters, and verifies to the same claims', () => {
    const id = signQuote(key, claims);
    expect(id).toMatch(/^q1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(id.length).toBeLessThanOrEqual(MAX_QUOTE_ID_LENGTH);
    expect(verifyQuote(key, id, now)).toEqual(claims);
  });

  it('stays under 600 characters with the largest realistic values', () => {
    const big: QuoteClaims = { ...claims, priceCents: Number.MAX_SAFE_INTEGER, currency: 'XXX', breakdown: { base_cents: Number.MAX_SAFE_INTEGER, multipliers: { demand: 1.9999, experience: 1.9999, location: 1.9999 }, total_multiplier: 1.9999 }, start: '2026-12-02T09:00:00.000+05:45', end: '2026-12-02T10:00:00.000+05:45' };
    const id = signQuote(key, big);
    expect(id.length).toBeLessThanOrEqual(MAX_QUOTE_ID_LENGTH);
    expect(verifyQuote(key, id, now)).toEqual(big);
  });

  it('refuses any id with one character changed, in the payload or in the mac (400, path quote_id)', () => {
    const id = signQuote(key, claims);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const change = (at: number, c: string) => expectInvalid(() => verifyQuote(key, id.slice(0, at) + c + id.slice(at + 1), now));
    const macStart = id.lastIndexOf('.') + 1;
    for (let at = 3; at < id.length; at++) {
      if (at === macStart - 1) continue;
      // Every position with two other characters (low and high bits changed) ...
      for (const shift of [1, 32]) change(at, alphabet[(alphabet.indexOf(id[at]!) + shift) % 64]!);
    }
    // ... and every other character at each part's last position, where a lax decoder would ignore the low bits.
    for (const at of [macStart - 2, id.length - 1]) for (const c of alphabet) if (c !== id[at]) change(at, c);
  });

  it('refuses every single-bit flip of the decoded payload and mac, re-encoded', () => {
    const id = signQuote(key, claims);
    const [, payload, mac] = id.split('.') as [string, string, string];
    for (const [which, text] of [['payload', payload], ['mac', mac]] as const) {
      const bytes = Buffer.from(text, 'base64url');
      for (let i = 0; i < bytes.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const flipped = Buffer.from(bytes);
          flipped[i]! ^= 1 << bit;
          const part = flipped.toString('base64url');
          const tampered = which === 'payload' ? `q1.${part}.${mac}` : `q1.${payload}.${part}`;
          expectInvalid(() => verifyQuote(key, tampered, now));
        }
      }
    }
  });

  it('refuses a quote signed with another key, and a genuine payload re-signed with another key', () => {
    const other = quoteSigningKey({ QUOTE_SIGNING_SECRET: 'someone-else', JWT_SECRET: 'x' });
    expectInvalid(() => verifyQuote(key, signQuote(other, claims), now));
    const [, payload] = signQuote(key, { ...claims, priceCents: 1 }).split('.');
    const forged = `q1.${payload}.${createHmac('sha256', other).update(`q1.${payload}`).digest('base64url')}`;
    expectInvalid(() => verifyQuote(key, forged, now));
  });

  it('refuses malformed ids: wrong version, wrong number of parts, not base64url, too long, signed garbage', () => {
    const id = signQuote(key, claims);
    for (const bad of ['', 'q1', 'q1..', id.replace(/^q1/, 'q2'), `${id}.x`, id.replace('.', '.+'), `${id}=`, 'q1.' + 'A'.repeat(700) + '.x']) {
      expectInvalid(() => verifyQuote(key, bad, now));
    }
    // Correctly signed, but not a quote: still a 400, never a crash.
    const signedGarbage = (json: string) => {
      const payload = Buffer.from(json).toString('base64url');
      return `q1.${payload}.${createHmac('sha256', key).update(`q1.${payload}`).digest('base64url')}`;
    };
    for (const json of ['{', '{}', '[]', '["a","b","not-a-date","x",1,"EUR",[1,1,1,1,1],"2026-12-02T08:15:00Z"]']) {
      expectInvalid(() => verifyQuote(key, signedGarbage(json), now));
    }
  });

  it('answers 410 quote_expired from expiresAt on, and accepts it until then', () => {
    const id = signQuote(key, claims);
    const expiry = Date.parse(claims.expiresAt);
    expect(verifyQuote(key, id, expiry - 1)).toEqual(claims);
    for (const t of [expiry, expiry + 3_600_000]) {
      const e = refusal(() => verifyQuote(key, id, t));
      expect(e.kind).toBe('gone');
      expect(e.code).toBe('quote_expired');
    }
  });

  it('checks the signature before the expiry: a tampered expired quote is a 400', () => {
    const id = signQuote(key, claims);
    const tampered = id.slice(0, -2) + (id.endsWith('AA') ? 'BA' : 'AA');
    expectInvalid(() => verifyQuote(key, tampered, Date.parse(claims.expiresAt) + 1));
  });
});
