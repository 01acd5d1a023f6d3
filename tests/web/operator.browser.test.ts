import { randomUUID } from 'node:crypto';
import { campaignWorkflowId } from '../../src/campaigns/contract';
import { registerAccount, registerOperator } from '../helpers/api';
import { makeCampaign, makePledge, makeUser } from '../helpers/fixtures';
import { signIn } from './backerKit';
import { webHarness } from './harness';

/**
 * The operator dashboard and a creator's "My campaigns" in Chromium against the real stack: a provider onboards
 * through the API (its `provider:<id>` workflow running on this file's worker); an operator approves it from the
 * dashboard and finds a campaign with a dropped pledge under "Needs attention", linked into the configured Temporal
 * Web UI by its workflow id; anyone else sees "not allowed". A creator finds their draft in My campaigns and opens
 * its dashboard. axe and the console are checked on every page.
 */
const TEMPORAL_UI = 'http://temporal-ui.test:8233';
const web = webHarness({ TEMPORAL_UI_URL: TEMPORAL_UI });

jest.setTimeout(180_000);

const workflowLink = (workflowId: string) => `${TEMPORAL_UI}/namespaces/default/workflows?query=WorkflowId%3D%22${encodeURIComponent(workflowId)}%22`;

describe('operator dashboard in Chromium', () => {
  it('an operator approves a pending provider and follows a needs-attention item to its workflow in the Temporal UI', async () => {
    const tag = randomUUID().slice(0, 6);
    const owner = await registerAccount(web.ctx.http, { role: 'provider', name: 'Pia Provider' });
    const onboarded = await web.ctx.http
      .post('/v1/providers/onboard')
      .set('Authorization', owner.auth)
      .send({ display_name: `Pia Plumbing ${tag}`, categories: ['plumbing'], time_zone: 'Europe/Berlin', location: { lat: 52.5, lng: 13.4, city: 'Berlin', country: 'DE' } });
    expect(onboarded.status).toBe(201);
    const providerId = onboarded.body.id as string;

    // A settled campaign whose settlement dropped a pledge (fixtures: no settlement run needed to show it).
    const campaign = await makeCampaign(web.ctx.deps, { status: 'succeeded', title: `Dropped pledge campaign ${tag}` });
    const backer = await makeUser(web.ctx.deps);
    const pledgeId = await makePledge(web.ctx.deps, campaign, { backerId: backer.id, amountCents: 2_500 });
    await web.ctx.deps.db('pledges').where({ id: pledgeId }).update({ status: 'dropped', failure_code: 'card_declined' });

    const operator = await registerOperator(web.ctx.http, web.ctx.deps.db, { name: 'Olga Operator' });
    const page = await web.newPage();
    await signIn(page, operator, '/operator');
    await page.getByRole('heading', { name: 'Operator dashboard', level: 1 }).waitFor();
    const queued = page.getByRole('listitem', { name: `Pia Plumbing ${tag}` });
    await queued.waitFor();
    expect(await queued.getByRole('link', { name: `provider:${providerId} in Temporal` }).getAttribute('href')).toBe(workflowLink(`provider:${providerId}`));

    const attention = page.getByRole('region', { name: 'Needs attention' });
    const campaignItem = attention.getByRole('listitem').filter({ hasText: 'Campaign with failed settlements' }).filter({ hasText: `Dropped pledge campaign ${tag}` });
    await campaignItem.waitFor();
    const link = campaignItem.getByRole('link', { name: `Workflow ${campaignWorkflowId(campaign.id)}` });
    expect(await link.getAttribute('href')).toBe(workflowLink(campaignWorkflowId(campaign.id)));
    await campaignItem.getByText('0 failed, 1 dropped · $25.00').waitFor();
    await web.check(page, 'operator-dashboard');

    await queued.getByRole('button', { name: `Approve Pia Plumbing ${tag}` }).click();
    await page.getByRole('status').filter({ hasText: `Pia Plumbing ${tag} is approved and active.` }).waitFor();
    await queued.waitFor({ state: 'detached' });
    const provider = await web.ctx.http.get(`/v1/providers/${providerId}`);
    expect(provider.body.status).toBe('active');

    // The attention list narrowed to one kind.
    await page.getByLabel('Show').selectOption('pledge_dropped');
    const dropped = attention.getByRole('listitem').filter({ hasText: `Dropped pledge campaign ${tag}` });
    expect(await dropped.getByRole('link', { name: `Workflow pledge:${pledgeId}` }).getAttribute('href')).toBe(workflowLink(`pledge:${pledgeId}`));
    await web.check(page, 'operator-dashboard-dropped-pledges');

    await page.getByLabel('Search by email or name').fill(owner.email);
    await page.getByRole('button', { name: 'Search users' }).click();
    await page.getByRole('region', { name: 'Users' }).getByText('Pia Provider').waitFor();
  });

  it('anyone but an operator is told the dashboard is not for them', async () => {
    const merchant = await registerAccount(web.ctx.http, { role: 'merchant' });
    const page = await web.newPage({ width: 390, height: 844 });
    await signIn(page, merchant, '/operator');
    await page.getByRole('alert').filter({ hasText: 'Not allowed: this page is for the platform’s operators only.' }).waitFor();
    expect(await page.getByRole('link', { name: 'Operator', exact: true }).count()).toBe(0);
    await web.check(page, 'operator-not-allowed');
  });
});

describe('my campaigns in Chromium', () => {
  it('a creator finds their draft in My campaigns and opens its dashboard', async () => {
    const creator = await registerAccount(web.ctx.http, { role: 'creator', name: 'Cleo Creator' });
    const title = `Seed library ${randomUUID().slice(0, 6)}`;
    const draft = await web.ctx.http
      .post('/v1/campaigns')
      .set('Authorization', creator.auth)
      .send({ title, description: 'Seeds to share.', category: 'community', goal_cents: 50_000, currency: 'USD', ends_at: new Date(Date.now() + 14 * 86_400_000).toISOString() });
    expect(draft.status).toBe(201);

    const page = await web.newPage();
    await signIn(page, creator, '/');
    await page.getByRole('link', { name: 'My campaigns' }).click();
    await page.getByRole('heading', { name: 'My campaigns', level: 1 }).waitFor();
    const item = page.getByRole('listitem').filter({ hasText: title });
    await item.getByText('draft · not launched · 0 backers').waitFor();
    await web.check(page, 'my-campaigns');
    await item.getByRole('link', { name: title }).click();
    await page.getByRole('heading', { name: `Dashboard: ${title}`, level: 1 }).waitFor();
    expect(page.url()).toContain(`/creator/campaigns/${draft.body.id}`);
  });

  // Last, once every page was seen, so one run reports them all.
  it('no page had a serious or critical axe violation or a console error', () => {
    expect(web.findings()).toEqual({ violations: [], errors: [] });
  });
});
