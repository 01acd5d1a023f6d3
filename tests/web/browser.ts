import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildWebAppIfStale } from '../../src/main/webBuild';

/**
 * Helpers for the browser tests: Debian's Chromium driven by playwright-core, the web app built when its
 * build is missing or older than its sources, axe-core run in the page, and every console error kept.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Builds web/dist when it is missing or stale (before the app is created: the API mounts it only if it exists). */
export async function ensureWebBuild(): Promise<void> {
  await buildWebAppIfStale(() => undefined);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Console errors and uncaught exceptions of every page in a context, as text. */
export function collectErrors(context: BrowserContext): string[] {
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`${page.url()}: console: ${msg.text()} [${msg.location().url}]`);
    });
    page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return errors;
}

const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA rules). */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    // Runs in the page (this file's types know no DOM): axe-core on the whole document.
    const win = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, opts: object): Promise<{ violations: AxeViolation[] }> } };
    const result = await win.axe.run(win.document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${page.url()}: ${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const SCREENSHOTS = process.env.WEB_SCREENSHOTS === '1' ? path.resolve(__dirname, '../../docs/screenshots') : undefined;

/** The pages of one browser test file: each in its own context, axe-checked on `check`, console errors kept. */
export interface PageSession {
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Axe on the page as it stands (violations kept for the file's last check), and a screenshot under WEB_SCREENSHOTS=1. */
  check(page: Page, name: string): Promise<void>;
  /** axe's serious/critical violations seen by `check`. */
  violations: string[];
  /** Every console error and page error of every page opened. */
  errors(): string[];
  closeContexts(): Promise<void>;
}

/** `browser` and `baseURL` are read when a page is opened, so a session can be made before beforeAll starts them. */
export function pageSession(browser: () => Browser, baseURL: () => string, contextOptions: { locale?: string; timezoneId?: string } = {}): PageSession {
  const contexts: BrowserContext[] = [];
  const errors: string[][] = [];
  const violations: string[] = [];
  return {
    violations,
    async newPage(viewport = { width: 1280, height: 900 }) {
      // Axe is injected as a script tag; the API's Content-Security-Policy (script-src 'self') would refuse it.
      const context = await browser().newContext({ bypassCSP: true, viewport, baseURL: baseURL(), ...contextOptions });
      // Generous: two cores shared with the rest of the suite (password hashing, workflow starts) slow every step.
      context.setDefaultTimeout(60_000);
      contexts.push(context);
      errors.push(collectErrors(context));
      return context.newPage();
    },
    async check(page, name) {
      violations.push(...(await seriousViolations(page)));
      if (SCREENSHOTS) {
        fs.mkdirSync(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
      }
    },
    errors: () => errors.flat(),
    async closeContexts() {
      for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
    },
  };
}
