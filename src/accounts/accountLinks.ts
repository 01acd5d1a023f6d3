import type { Knex } from 'knex';
import type { Config } from '../config';
import type { Db } from '../infra/db';
import { sendAccountEmail } from '../notifications/accountEmail';
import { issueAccountToken, type AccountTokenPurpose } from './accountTokens';

type LinkConfig = Pick<Config, 'JWT_SECRET' | 'APP_BASE_URL' | 'EMAIL_VERIFICATION_TTL' | 'PASSWORD_RESET_TTL'>;

/** Each emailed link: its mail kind, the web app page it opens, and how long it works. */
const LINKS = {
  verify_email: { kind: 'verify_email', page: '/verify-email', ttl: (c: LinkConfig) => c.EMAIL_VERIFICATION_TTL },
  reset_password: { kind: 'password_reset', page: '/reset-password', ttl: (c: LinkConfig) => c.PASSWORD_RESET_TTL },
} as const;

/** Records a link's token and queues its mail to the account's address, both in `db` (one transaction). */
export async function mailAccountLink(db: Db | Knex.Transaction, config: LinkConfig, purpose: AccountTokenPurpose, user: { id: string; email: string }): Promise<void> {
  const link = LINKS[purpose];
  const issued = await issueAccountToken(db, config, purpose, user, link.ttl(config));
  await sendAccountEmail(db, {
    userId: user.id,
    to: user.email,
    kind: link.kind,
    link: appLink(config, link.page, issued.token),
    expiresAt: issued.expiresAt,
    dedupeKey: `${link.kind}:${issued.id}`,
  });
}

/** A page of the web app (APP_BASE_URL, which may have a path) that posts `token` to the API. */
export function appLink(config: Pick<Config, 'APP_BASE_URL'>, path: string, token: string): string {
  return `${config.APP_BASE_URL.replace(/\/+$/, '')}${path}?token=${encodeURIComponent(token)}`;
}
