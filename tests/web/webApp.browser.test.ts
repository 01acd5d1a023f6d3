import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { registerAccount, TEST_PASSWORD, type RegisteredAccount } from '../helpers/api';
import { uniqueEmail } from '../helpers/context';
import { makeCampaign } from '../helpers/fixtures';
import { webHarness } from './harness';

/**
 * The web app in a real browser (Debian's Chromium) against the real stack: the API serving the built app,
 * this file's workers, Postgres, Redis and Temporal. A creator creates and launches a campaign; a backer signs
 * in and pledges while a second, anonymous browser watches the progress bar move over SSE without a reload.
 * Every page visited is checked with axe-core and must log no console error.
 * WEB_SCREENSHOTS=1 (npm run web:screenshots) also saves each page to docs/screenshots/.
 */
const web = webHarness({ SSE_KEEPALIVE: '1s' });
const newPage = web.newPage;
const check = web.check;

jest.setTimeout(180_000);

async function createLiveCampaign(creator: RegisteredAccount): Promise<{ id: string; title: string; tierId: string }> {
  const title = `Solar lanterns ${randomUUID().slice(0, 6)}`;
  const created = await web.ctx.http
    .post('/v1/campaigns')
    .set('Authorization', creator.auth)
    .send({
      title,
      description: 'Lanterns charged by the sun for homes without power.\n\nEvery pledge lights a room.',
      category: 'community',
      goal_cents: 100_000,
      currency: 'USD',
      ends_at: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      reward_tiers: [
        { title: 'Thank-you card', min_amount_cents: 1_000 },
        { title: 'A lantern of your own', description: 'Shipped in spring', min_amount_cents: 5_000, quantity: 20 },
      ],
    });
  expect(created.status).toBe(201);
  const launched = await web.ctx.http.post(`/v1/campaigns/${created.body.id}/launch`).set('Authorization', creator.auth).send({});
  expect(launched.body.status).toBe('live');
  return { id: created.body.id, title, tierId: created.body.reward_tiers[1].id };
}

const valueNow = (page: Page) => page.getByRole('progressbar', { name: 'Funding progress' }).getAttribute('aria-valuenow');

describe('web app in Chromium', () => {
  it('a backer signs in and pledges; a second browser sees the bar move without a reload', async () => {
    const creator = await registerAccount(web.ctx.http, { role: 'creator', name: 'Ada Creator' });
    const backer = await registerAccount(web.ctx.http, { role: 'backer', name: 'Bo Backer' });
    const campaign = await createLiveCampaign(creator);

    // The anonymous watcher: home, discovery, then the campaign page (which opens the event stream).
    const watcher = await newPage();
    await watcher.goto('/');
    await watcher.getByRole('heading', { name: 'Featured' }).waitFor();
    // Stores and services have their sections too, each with a way to all of them (and no error in place of a list).
    await watcher.getByRole('link', { name: 'All stores' }).waitFor();
    await watcher.getByRole('link', { name: 'All services' }).waitFor();
    await watcher.getByRole('region', { name: 'Services' }).getByText(/No service is offered yet|from /).first().waitFor();
    expect(await watcher.getByRole('alert').count()).toBe(0);
    await check(watcher, 'home');
    await watcher.getByRole('link', { name: 'Discover', exact: true }).click();
    await watcher.getByRole('searchbox', { name: 'Search' }).fill(campaign.title);
    await watcher.getByRole('button', { name: 'Search' }).click();
    await watcher.getByRole('link', { name: campaign.title }).waitFor();
    await check(watcher, 'discover');
    await watcher.getByRole('link', { name: campaign.title }).click();
    await watcher.getByRole('heading', { name: campaign.title, level: 1 }).waitFor();
    expect(await valueNow(watcher)).toBe('0');
    await check(watcher, 'campaign');

    // The backer signs in from the campaign page's prompt and comes back to it.
    const page = await newPage({ width: 390, height: 844 });
    await page.goto(`/campaigns/${campaign.id}`);
    // The pledge panel's own link (it brings the backer back here), not the header's.
    await page.getByRole('heading', { name: 'Pledge', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Sign in' }).last().click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await check(page, 'sign-in');
    await page.getByLabel('Email').fill('nobody-' + backer.email);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('Email').fill(backer.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Back this campaign' }).waitFor();
    expect(await page.getByText('Signed in as').textContent()).toContain('Bo Backer');

    // A too-small amount for the tier: the field is marked with the API's words.
    await page.getByLabel(/A lantern of your own/).check();
    expect(await page.getByLabel('Amount (USD)').inputValue()).toBe('50');
    await page.getByLabel('Amount (USD)').fill('20');
    await page.getByRole('button', { name: 'Pledge' }).click();
    await page.getByRole('alert').waitFor();
    await check(page, 'campaign-pledge-error');
    await page.getByLabel('Amount (USD)').fill('75');
    await page.getByLabel('Card (test cards)').selectOption('pm_card_visa');
    await page.getByRole('button', { name: 'Pledge' }).click();
    await page.getByRole('heading', { name: 'Thank you' }).waitFor();

    // The watcher's bar moves to the pledge, live; its backer count too.
    await watcher.locator('[role="progressbar"][aria-valuenow="7500"]').waitFor({ timeout: 30_000 });
    expect(await watcher.getByTestId('backers').textContent()).toBe('1');
    // The tier's stock went down by one on the backer's page (refetched after the pledge).
    await page.getByText('19 of 20 left').waitFor();

    // Sign out ends the session in the browser.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
  });

  it('a creator signs up, creates a campaign with a tier and launches it', async () => {
    const page = await newPage();
    await page.goto('/signup?next=/campaigns/new');
    await check(page, 'sign-up');
    await page.getByLabel('Name').fill('Cy Creator');
    await page.getByLabel('Email').fill(uniqueEmail('creator'));
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByLabel('I want to').selectOption('creator');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Start a campaign' }).waitFor();

    // Submitting with no goal: the API's validation problem marks the field.
    const title = `Community garden ${randomUUID().slice(0, 6)}`;
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Story').fill('Raised beds and a tool shed for the neighbourhood.');
    await page.getByRole('button', { name: 'Add a reward tier' }).click();
    await page.getByLabel('Tier 1 title').fill('Seed packet');
    await page.getByLabel('Tier 1 minimum pledge').fill('15');
    await page.getByLabel('Tier 1 quantity').fill('100');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByLabel('Goal').getAttribute('aria-invalid')).toBe('true');
    await check(page, 'new-campaign');

    await page.getByLabel('Goal').fill('2500');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { name: title, level: 1 }).waitFor();
    await page.getByText('This campaign is a draft').waitFor();
    await check(page, 'campaign-draft');
    await page.getByRole('button', { name: 'Launch campaign' }).click();
    await page.getByText(/Launched .*: it is live/).waitFor();
    expect(await page.getByRole('progressbar', { name: 'Funding progress' }).getAttribute('aria-valuemax')).toBe('250000');
    expect(await page.getByText('100 of 100 left').count()).toBe(1);

    // Anyone now finds it among the live campaigns.
    const found = await web.ctx.http.get('/v1/campaigns').query({ status: 'live', q: title });
    expect(found.body.data.map((c: { title: string }) => c.title)).toEqual([title]);
  });

  it('discovery shows a page of campaigns and loads the next ones on request, until there are no more', async () => {
    const tag = `Kite${randomUUID().slice(0, 6)}`;
    // One more than discovery's page of 24.
    for (let i = 0; i < 25; i++) await makeCampaign(web.ctx.deps, { title: `${tag} festival ${i}` });
    const page = await newPage();
    await page.goto(`/campaigns?q=${tag}`);
    const cards = page.getByRole('link', { name: new RegExp(`^${tag} festival`) });
    await page.getByText('Showing 24 campaigns.').waitFor();
    expect(await cards.count()).toBe(24);
    await page.getByRole('button', { name: 'Load more campaigns' }).click();
    await page.getByText('Showing 25 campaigns, all there are.').waitFor();
    expect(await cards.count()).toBe(25);
    // Every campaign once: the second page continues where the first ended.
    const titles = await cards.allTextContents();
    expect(new Set(titles).size).toBe(25);
    expect(await page.getByRole('button', { name: 'Load more campaigns' }).count()).toBe(0);
    await check(page, 'discover-load-more');
  });

  it('an unknown address shows the not-found page; an unknown campaign says so in words', async () => {
    const page = await newPage();
    await page.goto('/no/such/page');
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await check(page, 'not-found');
    await page.goto(`/campaigns/${randomUUID()}`);
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/Not found/);
  });

  // Last, once every page was seen, so one run reports them all.
  it('no page had a serious or critical axe violation or a console error', () => {
    expect(web.findings()).toEqual({ violations: [], errors: [] });
  });
});
