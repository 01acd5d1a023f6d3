import { randomUUID } from 'node:crypto';
import { registerAccount } from '../helpers/api';
import { eventually } from '../helpers/wait';
import { createDrop, dropShop, enter, untilOpen, waitForDropStatus } from '../drops/fixtures';
import { signIn, startBrowserStack, type BrowserStack } from './browserKit';

/**
 * The drops pages in Chromium against the real stack: a lottery entrant enters in the browser, the draw runs
 * (the drop workflow's real timers, a registration window of seconds), the winner sees the claim countdown and
 * claims with the test card, and the verify page recomputes the draw with Web Crypto: it says "Match", and
 * "Mismatch" when the published ranking is altered on the way. A first-come shopper joins the waiting room, is
 * admitted and checks out the held unit. Every page state is axe-checked; no unexpected console error.
 */
let stack: BrowserStack;

jest.setTimeout(180_000);

beforeAll(async () => {
  // Every test file's requests come from 127.0.0.1 and the per-address counters live in the run's shared Redis db:
  // the other drops suites' thousands of joins would otherwise spend this file's per-address budget (429).
  // A short rate window, so the test that spends an account's budget sees the page wait out a Retry-After of seconds.
  stack = await startBrowserStack({ DROP_RATE_LIMIT_PER_IP: '1000000', DROP_RATE_LIMIT_PER_ACCOUNT: '10', DROP_RATE_WINDOW_SECONDS: '10' });
});

afterAll(async () => {
  await stack?.close();
});

/** Failed requests the tests cause on purpose: "not entered yet" (404 on entries/me), an unknown drop, a claim with no address, a spent join budget. */
const EXPECTED_ERRORS = [
  /Failed to load resource: the server responded with a status of 429 .*\[http:\/\/127\.0\.0\.1:\d+\/v1\/drops\/[0-9a-f-]+\/queue\]/,
  /Failed to load resource: the server responded with a status of 400 .*\[http:\/\/127\.0\.0\.1:\d+\/v1\/drops\/[0-9a-f-]+\/claim\]/,
  /Failed to load resource: the server responded with a status of 404 .*\[http:\/\/127\.0\.0\.1:\d+\/v1\/drops\/[0-9a-f-]+(\/entries\/me)?\]/,
];

describe('drops pages in Chromium', () => {
  it('an entrant enters a lottery, wins, claims within the countdown, and the draw verifies in the browser', async () => {
    const { ctx, newPage, check } = stack;
    const shop = await dropShop(ctx, 10, 4_200);
    const entrant = await registerAccount(ctx.http, { name: 'Eve Entrant' });
    const other = await registerAccount(ctx.http, { name: 'Oz Other' });

    const page = await newPage();
    const otherPage = await newPage();
    await Promise.all([signIn(page, entrant.email), signIn(otherPage, other.email)]);

    // Registration opens at once and closes in seconds: the draw runs on the workflow's own timer. A second
    // drop, drawn alongside, has a claim window of seconds: its winner watches it run out.
    const drop = await createDrop(ctx, shop, { quantity: 2, opensIn: 0.5, closesIn: 15, claimWindowSeconds: 900 });
    const lapsing = await createDrop(ctx, shop, { quantity: 1, opensIn: 0.5, closesIn: 15, claimWindowSeconds: 12 });
    await untilOpen(lapsing);
    expect((await enter(ctx, drop.id, other.auth)).status).toBe(201);
    expect((await enter(ctx, lapsing.id, other.auth)).status).toBe(201);
    await otherPage.goto(`/drops/${lapsing.id}`);
    await otherPage.getByText('You are in.').waitFor();

    await page.goto(`/drops/${drop.id}`);
    await page.getByRole('heading', { name: 'Lottery drop', level: 1 }).waitFor();
    await page.getByText('€42.00').first().waitFor();
    await page.getByText('Registration closes in').waitFor();
    await check(page, 'drop-lottery-enter');
    await page.getByLabel('Card (test cards)').selectOption('pm_card_visa');
    await page.getByRole('button', { name: 'Enter the lottery' }).click();
    await page.getByText('You are in.').waitFor();

    // Registration closes, the draw runs; the page (polling) shows the win and the claim countdown.
    await waitForDropStatus(ctx, drop.id, 'claiming', 60_000);
    await page.getByText('You won!').waitFor({ timeout: 30_000 });
    const clock = page.locator('.countdown strong');
    const first = await clock.textContent();
    expect(first).toMatch(/^1[0-5]:\d\d$/);
    // It ticks: the clock shows another time a moment later.
    await clock.filter({ hasNotText: first ?? '' }).waitFor();
    await check(page, 'drop-lottery-claim');

    // The short window: its winner sees the countdown, then the live region says once that it ended, the
    // claim form goes, and the entry (the workflow's timer) becomes expired.
    await waitForDropStatus(ctx, lapsing.id, 'claiming', 60_000);
    await otherPage.getByText('You won!').waitFor({ timeout: 30_000 });
    await otherPage.getByRole('status').filter({ hasText: 'Your claim window has ended.' }).waitFor({ timeout: 30_000 });
    await otherPage.getByRole('button', { name: 'Claim and pay' }).waitFor({ state: 'detached', timeout: 5_000 });
    await otherPage.getByText('Your claim window ended before you claimed').waitFor();

    // A missing address: the API's problem marks the field; then the claim with the test card.
    await page.getByRole('button', { name: 'Claim and pay' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByLabel('Street and number').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Street and number').fill('1 Drop St');
    await page.getByLabel('City').fill('Berlin');
    await page.getByLabel('Postal code').fill('10115');
    await page.getByLabel('Country code').fill('de');
    await page.getByLabel('Card', { exact: true }).selectOption('pm_card_visa');
    await page.getByRole('button', { name: 'Claim and pay' }).click();
    // The form's answer, or the entry refetched right after it as claimed: either says the order.
    await page.getByText(/Claimed! Order [0-9a-f]{8}/).waitFor();
    const entry = await eventually(
      async () => {
        const mine = (await ctx.http.get(`/v1/drops/${drop.id}/entries/me`).set('Authorization', entrant.auth)).body;
        return mine.status === 'claimed' ? mine : undefined;
      },
      30_000,
      'the entry to be claimed',
      200,
    );
    const orders = (await ctx.http.get('/v1/me/orders').set('Authorization', entrant.auth)).body.data as Array<{ id: string; total_cents: number }>;
    expect(orders.map((o) => [o.id, o.total_cents])).toEqual([[entry.order_id, 4_200]]);

    // Verify this draw: recomputed with Web Crypto, it matches; the entrant's own entry is found in it.
    await page.goto(`/drops/${drop.id}`);
    await page.getByRole('link', { name: 'Verify this draw' }).click();
    await page.getByText('Match: the published draw').waitFor();
    expect(await page.locator('.checks li.mismatch').count()).toBe(0);
    await page.getByText(`in the draw at rank ${entry.rank}`).waitFor();
    await check(page, 'drop-verify-draw');

    // The same page with the published ranking tampered with on the way (two entries swapped): mismatch.
    const tampered = await newPage();
    await tampered.route('**/v1/drops/*/draw', async (route) => {
      const res = await route.fetch();
      const draw = await res.json();
      draw.ranking = [...draw.ranking].reverse();
      await route.fulfill({ response: res, json: draw });
    });
    await tampered.goto(`/drops/${drop.id}/verify`);
    await tampered.getByText('Mismatch: the published draw does not match').waitFor();
    expect(await tampered.getByText('Ranking: does not match').count()).toBe(1);
  });

  it('a first-come shopper joins the waiting room, is admitted and checks out the held unit', async () => {
    const { ctx, newPage, check } = stack;
    const shop = await dropShop(ctx, 5, 3_000);
    const shopper = await registerAccount(ctx.http, { name: 'Sam Shopper' });
    const drop = await createDrop(ctx, shop, { mode: 'fcfs', quantity: 3, opensIn: 0.5, closesIn: null, admissionPerSecond: 5 });
    await untilOpen(drop);

    const page = await newPage({ width: 390, height: 844 });
    await signIn(page, shopper.email);
    await page.goto(`/drops/${drop.id}`);
    await page.getByRole('heading', { name: 'First-come drop', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Enter the waiting room' }).click();
    await page.getByRole('heading', { name: 'Waiting room', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Join the line' }).click();
    await page.getByText('It is your turn.').waitFor({ timeout: 30_000 });
    await page.getByText('Hold ends in').waitFor();
    await check(page, 'drop-waiting-room-admitted');
    await page.getByLabel('Street and number').fill('1 Queue Lane');
    await page.getByLabel('City').fill('Berlin');
    await page.getByLabel('Postal code').fill('10115');
    await page.getByLabel('Country code').fill('DE');
    await page.getByRole('button', { name: 'Check out' }).click();
    // The checkout's answer may be replaced at once by the polled place, now purchased.
    await page.getByText('You bought your unit.').waitFor();
    const orders = (await ctx.http.get('/v1/me/orders').set('Authorization', shopper.auth)).body.data as Array<{ total_cents: number; status: string }>;
    expect(orders.map((o) => o.total_cents)).toEqual([3_000]);
  });

  it('a join answered 429 waits the Retry-After the API names and joins by itself, keeping the shopper informed', async () => {
    const { ctx, newPage } = stack;
    const shop = await dropShop(ctx, 5, 3_000);
    const shopper = await registerAccount(ctx.http, { name: 'Rita Retry' });
    const drop = await createDrop(ctx, shop, { mode: 'fcfs', quantity: 3, opensIn: 0.5, closesIn: null, admissionPerSecond: 5 });
    await untilOpen(drop);
    // The account's whole budget for this window, spent on joins (a repeated join keeps the same place).
    for (let i = 0; i < 10; i++) {
      expect((await ctx.http.post(`/v1/drops/${drop.id}/queue`).set('Authorization', shopper.auth).send({})).status).toBe(201);
    }
    const refused = await ctx.http.post(`/v1/drops/${drop.id}/queue`).set('Authorization', shopper.auth).send({});
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

    const page = await newPage();
    await signIn(page, shopper.email);
    const answers: number[] = [];
    page.on('response', (r) => {
      if (r.request().method() === 'POST' && /\/v1\/drops\/[^/]+\/queue$/.test(r.url())) answers.push(r.status());
    });
    await page.goto(`/drops/${drop.id}/queue`);
    await page.getByRole('button', { name: 'Join the line' }).click();
    await page.getByText('Many shoppers are arriving at once; joining again in a moment.').waitFor();
    // Once the window has passed, the page's own retry joins: the place shows, and no error was put in front of the shopper.
    await page.getByText(/You are number \d+ in line|It is your turn\./).waitFor({ timeout: 30_000 });
    expect(answers[0]).toBe(429);
    expect(answers.at(-1)).toBe(201);
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it('an unknown drop says so in words', async () => {
    const page = await stack.newPage();
    await page.goto(`/drops/${randomUUID()}`);
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/Not found/);
    await stack.check(page, 'drop-not-found');
  });

  it('no drops page had a serious or critical axe violation or an unexpected console error', () => {
    expect(stack.violations).toEqual([]);
    expect(stack.unexpectedErrors(EXPECTED_ERRORS)).toEqual([]);
  });
});
