import type { Browser, Page } from 'playwright-core';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { listen } from '../helpers/server';
import { TEST_PASSWORD } from '../helpers/api';
import { ensureWebBuild, launchChromium, pageSession } from './browser';

/**
 * One browser test file's whole stack: the app built, a test context with its own workers, a listening server
 * serving the build, and Chromium; pages opened through it are axe-checked on `check` (and saved to
 * docs/screenshots/ with WEB_SCREENSHOTS=1) and their console errors kept for the file's last assertion.
 */
export interface BrowserStack {
  ctx: TestContext;
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  check(page: Page, name: string): Promise<void>;
  /** axe's serious/critical violations seen by `check`. */
  violations: string[];
  /** Console errors and page errors not matched by `expected`. */
  unexpectedErrors(expected: RegExp[]): string[];
  close(): Promise<void>;
}

export async function startBrowserStack(config: Record<string, string> = {}): Promise<BrowserStack> {
  // Before the app is created: the API mounts web/dist only when it exists.
  await ensureWebBuild();
  const ctx = createTestContext(testConfig(config));
  const worker = await startTestWorker(ctx.deps);
  const server = await listen(ctx.app);
  const browser: Browser = await launchChromium();
  const pages = pageSession(() => browser, () => server.url);
  return {
    ctx,
    violations: pages.violations,
    newPage: pages.newPage,
    check: pages.check,
    unexpectedErrors: (expected) => pages.errors().filter((e) => !expected.some((re) => re.test(e))),
    async close() {
      await pages.closeContexts();
      await browser.close();
      await server.close();
      await worker.stop();
      await ctx.close();
    },
  };
}

/** Signs in through the app's sign-in page and waits until the header shows the session. */
export async function signIn(page: Page, email: string): Promise<void> {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(TEST_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in as').waitFor();
}
