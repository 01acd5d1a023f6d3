import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { registerAccount, registerOperator } from '../helpers/api';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';

/**
 * Campaign CRUD over HTTP: validation, drafts, listing with filters and search, the detail shape. The
 * lifecycle (launch, timers, cancel, deadline Updates) is in lifecycle.test.ts, with a worker.
 */

const operatorEmail = uniqueEmail('operator');
let ctx: TestContext;
let operator: { id: string; token: string };

beforeAll(async () => {
  ctx = createTestContext(testConfig());
  operator = await registerOperator(ctx.http, ctx.deps.db, { role: 'backer', email: operatorEmail });
});
afterAll(() => ctx.close());

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

function campaignBody(overrides: Record<string, unknown> = {}) {
  return {
    title: 'Solar kiln for the village pottery',
    description: 'A kiln that runs on sunlight.',
    category: 'community',
    goal_cents: 500_000,
    currency: 'USD',
    ends_at: inSeconds(30 * 86_400),
    ...overrides,
  };
}

async function create(token: string, overrides: Record<string, unknown> = {}) {
  const res = await ctx.http.post('/v1/campaigns').set('Authorization', `Bearer ${token}`).send(campaignBody(overrides));
  expect(res.status).toBe(201);
  return res.body as Record<string, any>;
}

/** Another creator's draft answers exactly what an unknown id answers: nothing tells that it exists. */
async function expectHiddenLikeUnknown(send: (campaignId: string) => PromiseLike<Response>, draftId: string) {
  const [leaked, unknown] = [await send(draftId), await send(randomUUID())];
  expectProblem(leaked, 404, 'not_found');
  expectProblem(unknown, 404, 'not_found');
  expect(leaked.body.detail).toBe(unknown.body.detail);
}

/** Makes a draft public without a workflow: listing and detail only read the row. */
const publish = (id: string, status = 'live') => ctx.deps.db('campaigns').where({ id }).update({ status, launched_at: ctx.deps.db.fn.now() });

describe('POST /v1/campaigns', () => {
  let creator: { id: string; token: string };
  beforeAll(async () => {
    creator = await registerAccount(ctx.http, { role: 'creator' });
  });

  it('creates a draft with reward tiers and returns the full campaign', async () => {
    const startsAt = inSeconds(3_600);
    const endsAt = inSeconds(10 * 86_400);
    const body = await create(creator.token, {
      starts_at: startsAt,
      ends_at: endsAt,
      funding_model: 'flexible',
      reward_tiers: [
        { title: 'Thank-you card', min_amount_cents: 1_000 },
        { title: 'A bowl', description: 'Fired in the kiln', min_amount_cents: 5_000, quantity: 10 },
      ],
    });
    expect(body).toMatchObject({
      id: expect.any(String),
      owner_id: creator.id,
      title: 'Solar kiln for the village pottery',
      category: 'community',
      goal_cents: 500_000,
      currency: 'USD',
      funding_model: 'flexible',
      status: 'draft',
      outcome: null,
      starts_at: new Date(startsAt).toISOString(),
      ends_at: new Date(endsAt).toISOString(),
      pledged_cents: 0,
      backer_count: 0,
      percent_funded: 0,
      collected_cents: 0,
      launched_at: null,
      decided_at: null,
      settled_at: null,
    });
    expect(body.seconds_left).toBeGreaterThan(10 * 86_400 - 60);
    expect(body.reward_tiers).toEqual([
      { id: expect.any(String), title: 'Thank-you card', description: '', min_amount_cents: 1_000, quantity: null, remaining: null },
      { id: expect.any(String), title: 'A bowl', description: 'Fired in the kiln', min_amount_cents: 5_000, quantity: 10, remaining: 10 },
    ]);
    expect(body.webhook_secret).toBeUndefined();
  });

  it('defaults to all-or-nothing and upper-cases the currency', async () => {
    const body = await create(creator.token, { currency: 'eur' });
    expect(body).toMatchObject({ funding_model: 'all_or_nothing', currency: 'EUR', starts_at: null, reward_tiers: [] });
  });

  it('returns a webhook secret once, at creation, and never again', async () => {
    const body = await create(creator.token, { webhook_url: 'https://creator.example/hooks' });
    expect(body.webhook_secret).toMatch(/^whsec_[A-Za-z0-9_-]{40,}$/);
    expect(body.webhook_url).toBe('https://creator.example/hooks');
    const row = await ctx.deps.db('campaigns').where({ id: body.id }).first('webhook_secret');
    expect(row.webhook_secret).toBe(body.webhook_secret);

    const again = await ctx.http.get(`/v1/campaigns/${body.id}`).set('Authorization', `Bearer ${creator.token}`);
    expect(again.status).toBe(200);
    expect(again.body.webhook_url).toBe('https://creator.example/hooks');
    expect(JSON.stringify(again.body)).not.toContain(body.webhook_secret);
  });

  it('answers 400 naming the field for impossible campaigns', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ends_at: inSeconds(-60) }, 'body.ends_at'],
      [{ starts_at: inSeconds(7_200), ends_at: inSeconds(3_600) }, 'body.ends_at'],
      [{ ends_at: inSeconds(3 * 366 * 86_400) }, 'body.ends_at'],
      [{ ends_at: 'next tuesday' }, 'body.ends_at'],
      [{ currency: 'US' }, 'body.currency'],
      [{ currency: 'US$' }, 'body.currency'],
      [{ goal_cents: 0 }, 'body.goal_cents'],
      [{ goal_cents: 100_000_000_001 }, 'body.goal_cents'],
      [{ goal_cents: 10.5 }, 'body.goal_cents'],
      [{ category: 'gambling' }, 'body.category'],
      [{ funding_model: 'keep_it_all' }, 'body.funding_model'],
      [{ title: '   ' }, 'body.title'],
      [{ title: 'nul\u0000byte' }, 'body.title'],
      [{ description: 'nul\u0000byte' }, 'body.description'],
      [{ webhook_url: 'ftp://creator.example/x' }, 'body.webhook_url'],
      [{ reward_tiers: [{ title: 'Free', min_amount_cents: 0 }] }, 'body.reward_tiers.0.min_amount_cents'],
      [{ reward_tiers: [{ title: 'Too many', min_amount_cents: 100, quantity: 1_000_001 }] }, 'body.reward_tiers.0.quantity'],
      [{ reward_tiers: [{ title: 'None', min_amount_cents: 100, quantity: 0 }] }, 'body.reward_tiers.0.quantity'],
      [{ reward_tiers: [{ title: 'Extra', min_amount_cents: 100, shipping: true }] }, 'body.reward_tiers.0'],
      [{ reward_tiers: Array.from({ length: 51 }, (_, i) => ({ title: `T${i}`, min_amount_cents: 100 })) }, 'body.reward_tiers'],
    ];
    for (const [overrides, path] of cases) {
      const res = await ctx.http.post('/v1/campaigns').set('Authorization', `Bearer ${creator.token}`).send(campaignBody(overrides));
      expectProblem(res, 400, 'validation_failed');
      expect({ overrides, paths: res.body.errors.map((e: { path: string }) => e.path) }).toEqual({
        overrides,
        paths: expect.arrayContaining([path]),
      });
    }
    // Nothing was stored by any of them.
    expect(await ctx.deps.db('campaigns').where({ owner_id: creator.id, title: '   ' }).first()).toBeUndefined();
  });

  it('accepts exactly 50 tiers', async () => {
    const body = await create(creator.token, {
      reward_tiers: Array.from({ length: 50 }, (_, i) => ({ title: `Tier ${i}`, min_amount_cents: 100 * (i + 1) })),
    });
    expect(body.reward_tiers).toHaveLength(50);
    expect(body.reward_tiers.map((t: { title: string }) => t.title)).toEqual(Array.from({ length: 50 }, (_, i) => `Tier ${i}`));
  });

  it('is for creators (and operators) only', async () => {
    const backer = await registerAccount(ctx.http, { role: 'backer' });
    expectProblem(await ctx.http.post('/v1/campaigns').set('Authorization', `Bearer ${backer.token}`).send(campaignBody()), 403, 'forbidden');
    expectProblem(await ctx.http.post('/v1/campaigns').send(campaignBody()), 401, 'unauthorized');
    const res = await ctx.http.post('/v1/campaigns').set('Authorization', `Bearer ${operator.token}`).send(campaignBody());
    expect(res.status).toBe(201);
  });
});

describe('GET /v1/campaigns/{id}', () => {
  it('shows a draft only to its owner and operators', async () => {
    const owner = await registerAccount(ctx.http, { role: 'creator' });
    const other = await registerAccount(ctx.http, { role: 'creator' });
    const draft = await create(owner.token);
    expect((await ctx.http.get(`/v1/campaigns/${draft.id}`).set('Authorization', `Bearer ${owner.token}`)).status).toBe(200);
    expect((await ctx.http.get(`/v1/campaigns/${draft.id}`).set('Authorization', `Bearer ${operator.token}`)).status).toBe(200);
    expectProblem(await ctx.http.get(`/v1/campaigns/${draft.id}`).set('Authorization', `Bearer ${other.token}`), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/campaigns/${draft.id}`), 404, 'not_found');

    await publish(draft.id);
    const pub = await ctx.http.get(`/v1/campaigns/${draft.id}`);
    expect(pub.status).toBe(200);
    expect(pub.body.status).toBe('live');
    // The webhook URL is the owner's business.
    expect(pub.body).not.toHaveProperty('webhook_url');
  });

  it('reports live totals, percent funded and each tier\'s remaining slots', async () => {
    const owner = await registerAccount(ctx.http, { role: 'creator' });
    const c = await create(owner.token, {
      goal_cents: 80_000,
      reward_tiers: [
        { title: 'Mug', min_amount_cents: 2_500, quantity: 3 },
        { title: 'Thanks', min_amount_cents: 500 },
      ],
    });
    await publish(c.id);
    // Totals and claimed slots are what the pledge flow maintains; set them as it would.
    await ctx.deps.db('campaigns').where({ id: c.id }).update({ pledged_cents: 60_250, backer_count: 7 });
    await ctx.deps.db('reward_tiers').where({ id: c.reward_tiers[0].id }).update({ claimed: 2 });
    const res = await ctx.http.get(`/v1/campaigns/${c.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ pledged_cents: 60_250, backer_count: 7, percent_funded: 75 });
    expect(res.body.reward_tiers.map((t: { remaining: number | null }) => t.remaining)).toEqual([1, null]);
    expect(res.body.seconds_left).toBeGreaterThan(29 * 86_400);
  });

  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    expectProblem(await ctx.http.get(`/v1/campaigns/${randomUUID()}`), 404, 'not_found');
    expectProblem(await ctx.http.get('/v1/campaigns/not-a-uuid'), 400, 'validation_failed');
  });
});

describe('GET /v1/campaigns', () => {
  // A unique word keeps this file's campaigns apart from everything else in the shared database.
  const tag = `zq${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  let owner: { id: string; token: string };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    owner = await registerAccount(ctx.http, { role: 'creator' });
    const specs: [string, Record<string, unknown>, string | null][] = [
      ['kiln', { title: `Solar kiln ${tag}`, category: 'community', starts_at: inSeconds(2 * 86_400) }, 'scheduled'],
      ['bike', { title: `Cargo bikes ${tag}`, description: 'Electric cargo bikes for deliveries', category: 'business' }, 'live'],
      ['album', { title: `Debut album ${tag}`, category: 'creative', description: 'Folk songs recorded live' }, 'live'],
      ['robot', { title: `Garden robot ${tag}`, category: 'technology', starts_at: inSeconds(5 * 86_400) }, 'succeeded'],
      ['draft', { title: `Secret draft ${tag}`, category: 'community' }, null],
    ];
    for (const [name, overrides, status] of specs) {
      const c = await create(owner.token, overrides);
      ids[name] = c.id;
      if (status) await publish(c.id, status);
    }
  });

  const list = (query: string, token?: string) => {
    const req = ctx.http.get(`/v1/campaigns?${query}`);
    return token ? req.set('Authorization', `Bearer ${token}`) : req;
  };
  const titles = (res: { body: { data: { id: string }[] } }) => res.body.data.map((c) => Object.entries(ids).find(([, id]) => id === c.id)?.[0]);

  it('lists non-draft campaigns newest first, without drafts, with the campaign shape', async () => {
    const res = await list(`q=${tag}`);
    expect(res.status).toBe(200);
    expect(titles(res)).toEqual(['robot', 'album', 'bike', 'kiln']);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.data[0]).toMatchObject({ id: ids.robot, status: 'succeeded', reward_tiers: [], pledged_cents: 0, percent_funded: 0 });
  });

  it('filters by category and status', async () => {
    expect(titles(await list(`q=${tag}&category=community`))).toEqual(['kiln']);
    expect(titles(await list(`q=${tag}&status=live`))).toEqual(['album', 'bike']);
    expect(titles(await list(`q=${tag}&status=live&category=creative`))).toEqual(['album']);
    expect(titles(await list(`q=${tag}&category=charity`))).toEqual([]);
  });

  it('filters by starts_after', async () => {
    expect(titles(await list(`q=${tag}&starts_after=${encodeURIComponent(inSeconds(86_400))}`))).toEqual(['robot', 'kiln']);
    expect(titles(await list(`q=${tag}&starts_after=${encodeURIComponent(inSeconds(3 * 86_400))}`))).toEqual(['robot']);
  });

  it('searches title and description with web-search syntax', async () => {
    expect(titles(await list(`q=${encodeURIComponent(`${tag} cargo`)}`))).toEqual(['bike']);
    // Stemming: "deliveries" matches "delivery"; description words count too.
    expect(titles(await list(`q=${encodeURIComponent(`${tag} delivery`)}`))).toEqual(['bike']);
    expect(titles(await list(`q=${encodeURIComponent(`${tag} "folk songs"`)}`))).toEqual(['album']);
    expect(titles(await list(`q=${encodeURIComponent(`${tag} -kiln -robot`)}`))).toEqual(['album', 'bike']);
    expect(titles(await list(`q=${encodeURIComponent(`${tag} submarine`)}`))).toEqual([]);
  });

  it('lists drafts only with status=draft and only the caller\'s own', async () => {
    const mine = await list(`q=${tag}&status=draft`, owner.token);
    expect(titles(mine)).toEqual(['draft']);
    const stranger = await registerAccount(ctx.http, { role: 'creator' });
    expect(titles(await list(`q=${tag}&status=draft`, stranger.token))).toEqual([]);
    expectProblem(await list(`q=${tag}&status=draft`), 401, 'unauthorized');
  });

  it('pages with an opaque cursor, every campaign exactly once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { data: { id: string }[]; next_cursor: string | null } } = await list(
        `q=${tag}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(1);
      seen.push(...res.body.data.map((c) => c.id));
      cursor = res.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual([ids.robot, ids.album, ids.bike, ids.kiln]);
  });

  it('keeps campaigns created in the same microsecond apart by id', async () => {
    const sameTag = `zs${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const a = await create(owner.token, { title: `Twin ${sameTag} one` });
    const b = await create(owner.token, { title: `Twin ${sameTag} two` });
    await ctx.deps.db('campaigns').whereIn('id', [a.id, b.id]).update({ status: 'live', created_at: '2026-01-01T00:00:00.123456Z' });
    const first = await list(`q=${sameTag}&limit=1`);
    const second = await list(`q=${sameTag}&limit=1&cursor=${encodeURIComponent(first.body.next_cursor)}`);
    expect([first.body.data[0].id, second.body.data[0].id].sort()).toEqual([a.id, b.id].sort());
    expect(second.body.next_cursor).toBeNull();
  });

  it('rejects invalid cursors and parameters with 400', async () => {
    expectProblem(await list('cursor=garbage'), 400, 'invalid_cursor');
    expectProblem(await list(`cursor=${Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url')}`), 400, 'invalid_cursor');
    expectProblem(await list('limit=0'), 400, 'validation_failed');
    expectProblem(await list('limit=101'), 400, 'validation_failed');
    expectProblem(await list('category=gambling'), 400, 'validation_failed');
    expectProblem(await list('status=paused'), 400, 'validation_failed');
    expectProblem(await list('starts_after=tomorrow'), 400, 'validation_failed');
    expectProblem(await list('category=charity&category=other'), 400, 'validation_failed');
    expectProblem(await list('q=%00'), 400, 'validation_failed');
    // Odd but valid dates are answered, not crashed on.
    expect((await list('starts_after=0001-01-01T00:00:00Z')).status).toBe(200);
    expect((await list('starts_after=9999-12-31T23:59:59%2B14:00')).status).toBe(200);
  });

  it('uses an index for every filter', async () => {
    // One connection for SET and EXPLAIN alike.
    await ctx.deps.db.transaction(async (trx) => {
      const explain = async (where: string, bindings: string[] = []) => {
        await trx.raw('SET LOCAL enable_seqscan = off');
        const rows = (await trx.raw(`EXPLAIN SELECT id FROM campaigns WHERE ${where} ORDER BY created_at DESC, id ASC LIMIT 21`, bindings))
          .rows as { 'QUERY PLAN': string }[];
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      };
      expect(await explain(`status <> 'draft'`)).toMatch(/campaigns_public_created_idx/);
      expect(await explain(`status = 'live'`)).toMatch(/campaigns_status_created_idx/);
      // With both filters either composite index serves it; which one depends on the table's statistics.
      const both = await explain(`category = 'creative' AND status = 'live'`);
      expect(both).toMatch(/campaigns_category_status_created_idx|campaigns_status_created_idx/);
      expect(both).not.toMatch(/Seq Scan/);
      expect(await explain(`search @@ websearch_to_tsquery('english', ?)`, ['kiln'])).toMatch(/campaigns_search_idx/);
      expect(await explain(`starts_at > now() AND status <> 'draft'`)).toMatch(/campaigns_starts_at_idx|campaigns_public_created_idx/);
    });
  });
});

describe('drafts: cancel and deadline without a workflow', () => {
  it('cancels a draft straight to settled (outcome cancelled), owner or operator only', async () => {
    const owner = await registerAccount(ctx.http, { role: 'creator' });
    const other = await registerAccount(ctx.http, { role: 'creator' });
    const c = await create(owner.token);
    expectProblem(await ctx.http.post(`/v1/campaigns/${c.id}/cancel`).set('Authorization', `Bearer ${other.token}`), 404, 'not_found');
    const res = await ctx.http.post(`/v1/campaigns/${c.id}/cancel`).set('Authorization', `Bearer ${owner.token}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'settled', outcome: 'cancelled', decided_at: expect.any(String), settled_at: expect.any(String) });
    expectProblem(await ctx.http.post(`/v1/campaigns/${c.id}/cancel`).set('Authorization', `Bearer ${owner.token}`), 409, 'campaign_already_decided');
    expectProblem(await ctx.http.post(`/v1/campaigns/${c.id}/launch`).set('Authorization', `Bearer ${owner.token}`), 409, 'campaign_not_draft');
  });

  it('moves a draft\'s deadline later, never earlier or into the past', async () => {
    const owner = await registerAccount(ctx.http, { role: 'creator' });
    const c = await create(owner.token, { ends_at: inSeconds(10 * 86_400) });
    const later = inSeconds(12 * 86_400);
    const res = await ctx.http.post(`/v1/campaigns/${c.id}/deadline`).set('Authorization', `Bearer ${owner.token}`).send({ ends_at: later });
    expect(res.status).toBe(200);
    expect(res.body.ends_at).toBe(new Date(later).toISOString());

    const earlier = await ctx.http
      .post(`/v1/campaigns/${c.id}/deadline`)
      .set('Authorization', `Bearer ${owner.token}`)
      .send({ ends_at: inSeconds(11 * 86_400) });
    expectProblem(earlier, 422, 'invalid_deadline');
    expect(earlier.body.detail).toMatch(/later than the current/);
    const past = await ctx.http.post(`/v1/campaigns/${c.id}/deadline`).set('Authorization', `Bearer ${owner.token}`).send({ ends_at: inSeconds(-5) });
    expectProblem(past, 422, 'invalid_deadline');
    const absurd = await ctx.http
      .post(`/v1/campaigns/${c.id}/deadline`)
      .set('Authorization', `Bearer ${owner.token}`)
      .send({ ends_at: inSeconds(5 * 366 * 86_400) });
    expectProblem(absurd, 422, 'invalid_deadline');
    const row = await ctx.deps.db('campaigns').where({ id: c.id }).first('ends_at');
    expect(row.ends_at.toISOString()).toBe(new Date(later).toISOString());
  });
});

describe('launch refusals (no workflow started)', () => {
  it('refuses a launch by anyone but the owner or an operator with 403', async () => {
    const owner = await registerAccount(ctx.http, { role: 'creator' });
    const other = await registerAccount(ctx.http, { role: 'creator' });
    const c = await create(owner.token);
    expectProblem(await ctx.http.post(`/v1/campaigns/${c.id}/launch`), 401, 'unauthorized');
    expectProblem(await ctx.http.post(`/v1/campaigns/${randomUUID()}/launch`).set('Authorization', `Bearer ${owner.token}`), 404, 'not_found');
    expect((await ctx.deps.db('campaigns').where({ id: c.id }).first('status')).status).toBe('draft');
    // Another creator's draft is a 404 (next test); once public, a launch by anyone else is a 403.
    await publish(c.id, 'scheduled');
    expectProblem(await ctx.http.post(`/v1/campaigns/${c.id}/launch`).set('Authorization', `Bearer ${other.token}`), 403, 'forbidden');
    expect((await ctx.deps.db('campaigns').where({ id: c.id }).first('status')).status).toBe('scheduled');
  });

  it("answers another creator's launch of a draft with the 404 of an unknown id, and launches nothing", async () => {
    const owner = await registerAccount(ctx.http, { role: 'creator' });
    const other = await registerAccount(ctx.http, { role: 'creator' });
    const c = await create(owner.token);
    await expectHiddenLikeUnknown((id) => ctx.http.post(`/v1/campaigns/${id}/launch`).set('Authorization', `Bearer ${other.token}`), c.id);
    expect(await ctx.deps.db('campaigns').where({ id: c.id }).first('status', 'launched_at')).toEqual({ status: 'draft', launched_at: null });
  });
});

describe('GET /v1/campaigns/{id}/pledges', () => {
  it("answers another creator asking for a draft's pledges with the 404 of an unknown id; a public campaign's are 403", async () => {
    const owner = await registerAccount(ctx.http, { role: 'creator' });
    const other = await registerAccount(ctx.http, { role: 'creator' });
    const c = await create(owner.token);
    await expectHiddenLikeUnknown((id) => ctx.http.get(`/v1/campaigns/${id}/pledges`).set('Authorization', `Bearer ${other.token}`), c.id);
    // The owner and operators see the draft's (empty) list.
    for (const token of [owner.token, operator.token]) {
      const res = await ctx.http.get(`/v1/campaigns/${c.id}/pledges`).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ data: [], next_cursor: null });
    }
    await publish(c.id);
    expectProblem(await ctx.http.get(`/v1/campaigns/${c.id}/pledges`).set('Authorization', `Bearer ${other.token}`), 403, 'forbidden');
  });

  it('rolls the launch back (503, still a draft) when the workflow cannot be started', async () => {
    // Temporal is reachable but the namespace is not there: the start fails after the row was updated.
    const broken = createTestContext(testConfig({ TEMPORAL_NAMESPACE: `missing-${randomUUID()}` }));
    try {
      const reg = await registerAccount(broken.http, { role: 'creator' });
      const res = await broken.http.post('/v1/campaigns').set('Authorization', reg.auth).send(campaignBody());
      const launch = await broken.http.post(`/v1/campaigns/${res.body.id}/launch`).set('Authorization', reg.auth);
      expectProblem(launch, 503, 'dependency_unavailable');
      expect(launch.body.dependency).toBe('temporal');
      expect(await ctx.deps.db('campaigns').where({ id: res.body.id }).first('status', 'launched_at')).toEqual({ status: 'draft', launched_at: null });
    } finally {
      await broken.close();
    }
  });

  it('refuses to launch a draft whose deadline has passed with 422 campaign_ended', async () => {
    const owner = await registerAccount(ctx.http, { role: 'creator' });
    const c = await create(owner.token);
    await ctx.deps.db('campaigns').where({ id: c.id }).update({ ends_at: new Date(Date.now() - 1_000) });
    expectProblem(await ctx.http.post(`/v1/campaigns/${c.id}/launch`).set('Authorization', `Bearer ${owner.token}`), 422, 'campaign_ended');
    expect((await ctx.deps.db('campaigns').where({ id: c.id }).first('status')).status).toBe('draft');
  });
});
