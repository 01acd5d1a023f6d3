import { createHmac, timingSafeEqual } from 'node:crypto';
import { isEmailCategory, type EmailCategory } from './categories';

/**
 * The token in an unsubscribe link: `<user id>.<category>.<HMAC-SHA256>`, keyed by a key derived from
 * JWT_SECRET (so the worker that writes the mail and the API that reads the click agree without another
 * secret). It does not expire: a link in a months-old email must still work, and all it can do is turn
 * one kind of mail off for one user.
 */
const keyCache = new Map<string, Buffer>();

function key(secret: string): Buffer {
  let k = keyCache.get(secret);
  if (!k) {
    k = createHmac('sha256', secret).update('pledgeflow email unsubscribe v1').digest();
    keyCache.set(secret, k);
  }
  return k;
}

const mac = (secret: string, body: string) => createHmac('sha256', key(secret)).update(body).digest();

export function unsubscribeToken(secret: string, userId: string, category: EmailCategory): string {
  const body = `${userId}.${category}`;
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

/** The user and category a token names, or undefined when it was not made with `secret` or is malformed. */
export function readUnsubscribeToken(secret: string, token: string): { userId: string; category: EmailCategory } | undefined {
  const m = /^([0-9a-f-]{36})\.([a-z_]{1,40})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return undefined;
  const [, userId, category, sig] = m as unknown as [string, string, string, string];
  const expected = mac(secret, `${userId}.${category}`);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return isEmailCategory(category) ? { userId, category } : undefined;
}
