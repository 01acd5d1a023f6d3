import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { TEST_PASSWORD, type RegisteredAccount } from '../helpers/api';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { listen } from '../helpers/server';
import { startOutboxDispatcher, type OutboxDispatcher } from '../../src/notifications/dispatcher';
import { ensureWebBuild, launchChromium, pageSession } from './browser';

/**
 * The real stack for the backer/creator/notification browser tests: API serving the built app, this file's
 * Temporal workers, and the outbox dispatcher (it publishes notifications to the users' streams), plus a
 * browser whose pages are each checked with axe and watched for console errors.
 */
export interface BrowserStack {
  ctx: TestContext;
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Axe on the page as it stands (violations kept for the final check), and a screenshot when asked for. */
  check(page: Page, name: string): Promise<void>;
  violations: string[];
  consoleErrors(): string[];
  close(): Promise<void>;
}

export async function startBrowserStack(): Promise<BrowserStack> {
  await ensureWebBuild();
  const ctx = createTestContext(testConfig({ SSE_KEEPALIVE: '1s' }));
  const worker = await startTestWorker(ctx.deps);
  const dispatcher: OutboxDispatcher = startOutboxDispatcher(ctx.deps, { pollIntervalMs: 100, retryBaseMs: 50 });
  const server = await listen(ctx.app);
  const browser: Browser = await launchChromium();
  const pages = pageSession(() => browser, () => server.url, { locale: 'en-US', timezoneId: 'UTC' });
  return {
    ctx,
    violations: pages.violations,
    newPage: pages.newPage,
    check: pages.check,
    consoleErrors: pages.errors,
    async close() {
      await pages.closeContexts();
      await browser.close();
      await server.close();
      await dispatcher.stop();
      await worker.stop();
      await ctx.close();
    },
  };
}

/** Signs in through the sign-in page, which then goes to `next`. */
export async function signIn(page: Page, account: RegisteredAccount, next: string): Promise<void> {
  await page.goto(`/signin?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(TEST_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === next.split('?')[0]);
}

/** A live campaign of `creator`'s (created and launched through the API), goal $1,000, two reward tiers. */
export async function launchCampaign(ctx: TestContext, creator: RegisteredAccount): Promise<{ id: string; title: string }> {
  const title = `Tool library ${randomUUID().slice(0, 6)}`;
  const created = await ctx.http
    .post('/v1/campaigns')
    .set('Authorization', creator.auth)
    .send({
      title,
      description: 'A shared shed of tools for the street.',
      category: 'community',
      goal_cents: 100_000,
      currency: 'USD',
      ends_at: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      reward_tiers: [
        { title: 'Sticker', min_amount_cents: 1_000 },
        { title: 'Lifetime membership', min_amount_cents: 5_000, quantity: 20 },
      ],
    });
  expect(created.status).toBe(201);
  const launched = await ctx.http.post(`/v1/campaigns/${created.body.id}/launch`).set('Authorization', creator.auth).send({});
  expect(launched.body.status).toBe('live');
  return { id: created.body.id, title };
}
