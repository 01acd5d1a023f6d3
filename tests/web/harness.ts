import type { Browser, Page } from 'playwright-core';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { listen } from '../helpers/server';
import { ensureWebBuild, launchChromium, pageSession } from './browser';

/**
 * One browser test file's stack: the web build, the API serving it on a port, this file's workers and a
 * Chromium, started in beforeAll and stopped in afterAll. Pages come from `newPage`; `check` runs axe on the
 * page (and saves a screenshot under WEB_SCREENSHOTS=1, as `npm run web:screenshots` sets).
 */
/**
 * Chromium logs every failed request as a console error; these are the answers the tests provoke on purpose
 * (a wrong password, a validation problem, an unknown id), not faults of the app.
 */
const EXPECTED_ERRORS = [/Failed to load resource: the server responded with a status of (400|401|404|422) .*\[http:\/\/127\.0\.0\.1:\d+\/v1\//];

export interface WebHarness {
  readonly ctx: TestContext;
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  check(page: Page, name: string): Promise<void>;
  /** axe's serious/critical violations on every checked page, and unexpected console errors of every page. */
  findings(): { violations: string[]; errors: string[] };
}

export function webHarness(config: Record<string, string> = {}): WebHarness {
  let ctx: TestContext | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  let server: { url: string; close(): Promise<void> } | undefined;
  let browser: Browser | undefined;
  const pages = pageSession(
    () => browser!,
    () => server!.url,
  );

  beforeAll(async () => {
    // Before the app is built: the API mounts web/dist only when it exists.
    await ensureWebBuild();
    ctx = createTestContext(testConfig(config));
    worker = await startTestWorker(ctx.deps);
    server = await listen(ctx.app);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await pages.closeContexts();
    await browser?.close();
    await server?.close();
    await worker?.stop();
    await ctx?.close();
  });

  return {
    get ctx() {
      if (!ctx) throw new Error('the web harness is not started (use it inside tests)');
      return ctx;
    },
    newPage: pages.newPage,
    check: pages.check,
    findings: () => ({ violations: pages.violations, errors: pages.errors().filter((e) => !EXPECTED_ERRORS.some((re) => re.test(e))) }),
  };
}
