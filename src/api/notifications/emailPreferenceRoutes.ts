import { z } from 'zod';
import type { Api } from '../http/api';
import { problems } from '../http/problem';
import type { AppDeps } from '../deps';
import { EMAIL_CATEGORIES } from '../../notifications/email/categories';
import { escapeHtml } from '../../notifications/email/format';
import { readEmailPreferences, updateEmailPreferences } from '../../notifications/email/preferences';
import { readUnsubscribeToken } from '../../notifications/email/unsubscribeToken';

/**
 * Which non-essential email a user gets (GET/PUT /v1/me/email-preferences) and the unsubscribe link in each
 * such email (/v1/email/unsubscribe?token=…), which works without signing in: the signed token names the
 * user and the category. Essential mail (account, payments, orders) cannot be turned off.
 */
const categoryShape = Object.fromEntries(EMAIL_CATEGORIES.map((c) => [c, z.boolean()])) as Record<(typeof EMAIL_CATEGORIES)[number], z.ZodBoolean>;

const PreferencesSchema = z
  .object({
    categories: z.object(categoryShape).openapi({ description: 'true: this kind of non-essential email is sent.' }),
    essential: z.array(z.string()).openapi({ description: 'Mail that is always sent.' }),
  })
  .openapi('EmailPreferences');

const PreferencesUpdate = z
  .object({ categories: z.strictObject(categoryShape).partial() })
  .strict()
  .openapi('EmailPreferencesUpdate');

const UnsubscribeQuery = z.object({ token: z.string().min(1).max(200) });

const UnsubscribedSchema = z.object({ unsubscribed: z.enum(EMAIL_CATEGORIES) }).openapi('EmailUnsubscribed');

const ESSENTIAL = ['account', 'payments', 'orders'];

const invalidToken = () => problems.validation([{ path: 'query.token', message: 'This unsubscribe link is not valid.' }], 'Invalid unsubscribe link.');

export function registerEmailPreferenceRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;

  api.route(
    {
      method: 'get',
      path: '/v1/me/email-preferences',
      operationId: 'getMyEmailPreferences',
      summary: 'Which non-essential emails I get',
      tags: ['Notifications'],
      auth: 'user',
      responses: { 200: { description: 'My email preferences', schema: PreferencesSchema } },
    },
    async ({ principal }) => ({ status: 200, body: { categories: await readEmailPreferences(db, principal!.id), essential: ESSENTIAL } }),
  );

  api.route(
    {
      method: 'put',
      path: '/v1/me/email-preferences',
      operationId: 'updateMyEmailPreferences',
      summary: 'Turn categories of non-essential email on or off (categories not named keep their setting)',
      tags: ['Notifications'],
      auth: 'user',
      body: PreferencesUpdate,
      responses: { 200: { description: 'My email preferences after the change', schema: PreferencesSchema } },
    },
    async ({ principal, body }) => ({ status: 200, body: { categories: await updateEmailPreferences(db, principal!.id, body.categories), essential: ESSENTIAL } }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/email/unsubscribe',
      operationId: 'unsubscribePage',
      summary: 'The page an unsubscribe link opens: a button that confirms (a GET changes nothing, so link scanners cannot unsubscribe anyone)',
      tags: ['Notifications'],
      auth: 'public',
      query: UnsubscribeQuery,
      responses: { 200: { description: 'An HTML confirmation page', schema: z.string(), contentType: 'text/html' } },
    },
    async ({ query, res }) => {
      const found = readUnsubscribeToken(deps.config.JWT_SECRET, query.token);
      if (!found) throw invalidToken();
      const action = `/v1/email/unsubscribe?token=${encodeURIComponent(query.token)}`;
      res
        .status(200)
        .type('html')
        .send(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title></head><body style="font-family:sans-serif;max-width:480px;margin:48px auto">` +
            `<p>Stop receiving ${escapeHtml(found.category.replace(/_/g, ' '))} emails from Pledgeflow?</p>` +
            `<form method="post" action="${escapeHtml(action)}"><button type="submit">Unsubscribe</button></form></body></html>`,
        );
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/email/unsubscribe',
      operationId: 'unsubscribe',
      summary: 'Unsubscribe from the category the token names (the List-Unsubscribe one-click POST, RFC 8058)',
      tags: ['Notifications'],
      auth: 'public',
      idempotency: 'none',
      query: UnsubscribeQuery,
      responses: { 200: { description: 'Unsubscribed (again, if it already was)', schema: UnsubscribedSchema } },
    },
    async ({ query }) => {
      const found = readUnsubscribeToken(deps.config.JWT_SECRET, query.token);
      if (!found) throw invalidToken();
      const exists = await db('users').where({ id: found.userId }).first('id');
      if (!exists) throw problems.notFound('account');
      await updateEmailPreferences(db, found.userId, { [found.category]: false });
      return { status: 200, body: { unsubscribed: found.category } };
    },
  );
}
