import { randomBytes, randomUUID } from 'node:crypto';
import { purgeEndedSessions } from '../../src/accounts/purgeSessions';
import type { AppDeps } from '../../src/api/deps';
import { closeDeps, createTestDeps } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';

/** The maintenance purge deletes only sign-in records that can no longer matter, and keeps every live one. */
let deps: AppDeps;
beforeAll(() => {
  deps = createTestDeps();
});
afterAll(async () => {
  await closeDeps(deps);
});

it('deletes expired refresh tokens and links and long-ended sessions, keeps live and recently ended ones', async () => {
  const user = await makeUser(deps);
  const db = deps.db;
  const ago = (interval: string) => db.raw(`now() - interval '${interval}'`);
  const later = (interval: string) => db.raw(`now() + interval '${interval}'`);
  const session = async (fields: Record<string, unknown>) =>
    ((await db('auth_sessions').insert({ user_id: user.id, ...fields }).returning('id')) as { id: string }[])[0]!.id;
  const token = async (sessionId: string, expiresAt: unknown) => {
    const hash = randomBytes(32);
    await db('refresh_tokens').insert({ token_hash: hash, session_id: sessionId, expires_at: expiresAt });
    return hash;
  };
  const live = await session({});
  const liveToken = await token(live, later('30 days'));
  const expiredToken = await token(live, ago('1 minute'));
  const revokedLongAgo = await session({ revoked_at: ago('2 days'), revoked_reason: 'logout' });
  const revokedJustNow = await session({ revoked_at: ago('1 minute'), revoked_reason: 'logout' });
  const idleWithoutTokens = await session({ last_used_at: ago('3 days') });
  const link = (expiresAt: unknown) => ({ id: randomUUID(), user_id: user.id, purpose: 'verify_email', email: 'x@example.test', expires_at: expiresAt });
  const oldLink = link(ago('2 days'));
  const freshLink = link(later('1 day'));
  await db('account_tokens').insert([oldLink, freshLink]);

  const purged = await purgeEndedSessions(db, 1);
  expect(purged.refreshTokens).toBeGreaterThanOrEqual(1);
  expect(purged.linkTokens).toBeGreaterThanOrEqual(1);
  expect(purged.sessions).toBeGreaterThanOrEqual(2);

  const sessions = new Set((await db('auth_sessions').where({ user_id: user.id }).select('id')).map((r: { id: string }) => r.id));
  expect(sessions).toEqual(new Set([live, revokedJustNow]));
  expect(sessions.has(revokedLongAgo) || sessions.has(idleWithoutTokens)).toBe(false);
  const tokens = (await db('refresh_tokens').where({ session_id: live }).select('token_hash')).map((r: { token_hash: Buffer }) => r.token_hash.toString('hex'));
  expect(tokens).toEqual([liveToken.toString('hex')]);
  expect(tokens).not.toContain(expiredToken.toString('hex'));
  const links = (await db('account_tokens').where({ user_id: user.id }).select('id')).map((r: { id: string }) => r.id);
  expect(links).toEqual([freshLink.id]);
});
