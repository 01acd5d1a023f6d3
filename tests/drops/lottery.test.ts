import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createHmac, randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { bearer, makeUser, makeUsers } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { listen } from '../helpers/server';
import { eventually } from '../helpers/wait';
import { claim, createDrop, dropShop, enter, inBatches, untilOpen, waitForDropStatus, type DropShop } from './fixtures';
import { entriesHash, rankEntries, seedCommitment } from '../../src/domain/draw';

/**
 * The lottery's registration and draw: 500 entrants for 20 units, the published draw recomputed here and by
 * the verifier script (a child process), and the entry rules (one per account, only while registration is
 * open, rate limited).
 */
const run = promisify(execFile);
const verifier = (target: string, args: string[] = []) =>
  run(path.resolve('node_modules/.bin/tsx'), [path.resolve('scripts/verify-draw.ts'), target, ...args]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );

describe('lottery drop: entries and the draw', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let shop: DropShop;

  beforeAll(async () => {
    // 500 entrants from one test address: the per-address limit has its own test below.
    ctx = createTestContext(testConfig({ DROP_RATE_LIMIT_PER_IP: '1000000' }));
    worker = await startTestWorker(ctx.deps);
    shop = await dropShop(ctx, 1_000);
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  it('draws exactly 20 winners of 500 entrants; the published draw recomputes and the verifier catches tampering, consistent tampering against the values published earlier', async () => {
    const users = await makeUsers(ctx.deps, 500);
    // Registration stays open 40 s: 500 entries (each saves a card) must all get in first, on a loaded CI too.
    const drop = await createDrop(ctx, shop, { quantity: 20, opensIn: 1, closesIn: 40, claimWindowSeconds: 120 });
    await untilOpen(drop);

    const entries = await inBatches(users, 16, async (userId) => {
      const res = await enter(ctx, drop.id, bearer(ctx.deps, userId));
      expect(res.status).toBe(201);
      return res.body as { id: string; status: string };
    });
    expect(entries.every((e) => e.status === 'entered')).toBe(true);
    expect((await ctx.http.get(`/v1/drops/${drop.id}`)).body.entries_count).toBe(500);

    const claiming = await waitForDropStatus(ctx, drop.id, 'claiming', 60_000);
    expect(claiming).toMatchObject({ entries_count: 500, entries_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });

    const res = await ctx.http.get(`/v1/drops/${drop.id}/draw`);
    expect(res.status).toBe(200);
    const draw = res.body as { seed: string; seed_commitment: string; entries_hash: string; ranking: string[]; winners: string[]; quantity: number };
    expect(draw.seed_commitment).toBe(drop.seed_commitment);
    expect(draw.winners).toHaveLength(20);
    expect(new Set(draw.ranking)).toEqual(new Set(entries.map((e) => e.id)));

    // Recomputed here from the published seed alone, with node:crypto, as anyone could.
    const score = (id: string) => createHmac('sha256', draw.seed).update(id).digest('hex');
    const recomputed = [...entries.map((e) => e.id)].sort((a, b) => (score(a) < score(b) ? -1 : 1));
    expect(draw.ranking).toEqual(recomputed);
    expect(draw.winners).toEqual(recomputed.slice(0, 20));

    // Postgres holds the same outcome: 20 won with a window, 480 waitlisted in rank order.
    const rows = (await ctx.deps.db('drop_entries').where({ drop_id: drop.id }).orderBy('rank').select('id', 'status', 'rank', 'claim_expires_at')) as Array<{ id: string; status: string; rank: number; claim_expires_at: Date | null }>;
    expect(rows.map((r) => r.id)).toEqual(recomputed);
    expect(rows.filter((r) => r.status === 'won').map((r) => r.rank)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(rows.filter((r) => r.status === 'waitlisted')).toHaveLength(480);
    expect(rows.filter((r) => r.claim_expires_at !== null)).toHaveLength(20);

    // Every entrant is told: 20 won, 480 waitlisted.
    const told = async () => {
      const rows = (await ctx.deps.db('notifications').whereRaw("data->>'drop_id' = ?", [drop.id]).groupBy('type').select('type').count('* as n')) as Array<{ type: string; n: string }>;
      return Object.fromEntries(rows.map((t) => [t.type, Number(t.n)]));
    };
    await eventually(async () => (await told()).drop_waitlisted === 480, 30_000, 'every entrant told');
    expect(await told()).toEqual({ drop_won: 20, drop_waitlisted: 480 });

    // Operators see the phase in the Status search attribute and the counts in the current details.
    const handle = (await ctx.deps.temporal.client()).workflow.getHandle(`drop:${drop.id}`);
    // (The workflow moves on once the entrants have been told, a moment after the draw commits.)
    await eventually(async () => (await handle.describe()).typedSearchAttributes.get({ name: 'Status', type: 'KEYWORD' } as never) === 'claiming', 20_000, 'Status claiming');
    const description = await handle.describe();
    expect(await description.staticSummary()).toMatch(/^Lottery drop of 20 × variant /);
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toContain('**Phase:** claiming');
    expect(metadata.currentDetails).toContain('**Entries:** 500');
    expect(metadata.currentDetails).toContain('**Claimed:** 0 of 20; **remaining:** 20');
    expect(metadata.currentDetails).toContain('**Waitlisted:** 480');

    // The caller's own entry.
    const winner = entries.findIndex((e) => e.id === draw.winners[0]);
    const me = await ctx.http.get(`/v1/drops/${drop.id}/entries/me`).set('Authorization', bearer(ctx.deps, users[winner]!));
    expect(me.body).toMatchObject({ status: 'won', rank: 1, claim_expires_at: expect.any(String) });
    const last = entries.findIndex((e) => e.id === draw.ranking[499]);
    const waiting = await ctx.http.get(`/v1/drops/${drop.id}/entries/me`).set('Authorization', bearer(ctx.deps, users[last]!));
    expect(waiting.body).toMatchObject({ status: 'waitlisted', rank: 500, waitlist_position: 480 });

    // The verifier script, run as a user would, on the saved draw and on tampered copies.
    const dir = mkdtempSync(path.join(tmpdir(), 'draw-'));
    const save = (name: string, body: unknown) => {
      const file = path.join(dir, name);
      writeFileSync(file, JSON.stringify(body));
      return file;
    };
    const honest = await verifier(save('draw.json', draw));
    expect(honest).toMatchObject({ code: 0, out: expect.stringContaining('VERIFIED') });

    const swapped = [...draw.ranking];
    [swapped[3], swapped[300]] = [swapped[300]!, swapped[3]!];
    const tamperedRanking = await verifier(save('ranking.json', { ...draw, ranking: swapped, winners: swapped.slice(0, 20) }));
    expect(tamperedRanking.code).toBe(1);
    expect(tamperedRanking.out).toMatch(/MISMATCH ranking/);

    // By drop id, fetched from a running API, as `npm run verify-draw -- <drop id>` does.
    const server = await listen(ctx.app);
    try {
      expect(await verifier(drop.id, ['--api', server.url])).toMatchObject({ code: 0, out: expect.stringContaining('VERIFIED') });
    } finally {
      await server.close();
    }

    const tamperedSeed = await verifier(save('seed.json', { ...draw, seed: 'f'.repeat(64) }));
    expect(tamperedSeed.code).toBe(1);
    expect(tamperedSeed.out).toMatch(/MISMATCH seed_commitment/);

    // Tampered consistently (another seed with its own commitment; an entry left out and the hash recomputed):
    // each checks out against itself, and is caught against the values published earlier (creation, close).
    const earlier = ['--commitment', drop.seed_commitment, '--entries-hash', claiming.entries_hash!, '--quantity', '20'];
    const mine = draw.ranking[123]!;
    expect(await verifier(save('draw.json', draw), [...earlier, '--entry', mine])).toMatchObject({
      code: 0,
      out: expect.stringContaining('checked against independently known values: seed_commitment, entries_hash, quantity, entry, winners'),
    });
    const seed2 = 'e'.repeat(64);
    const reseeded = rankEntries(seed2, draw.ranking);
    const reseededFile = save('reseeded.json', { ...draw, seed: seed2, seed_commitment: seedCommitment(seed2), ranking: reseeded, winners: reseeded.slice(0, 20) });
    expect(await verifier(reseededFile)).toMatchObject({ code: 0, out: expect.stringContaining('WARNING: checked only against the response itself') });
    const caughtSeed = await verifier(reseededFile, earlier);
    expect(caughtSeed.code).toBe(1);
    expect(caughtSeed.out).toMatch(/MISMATCH seed_commitment \[independent\]/);
    const fewer = rankEntries(draw.seed, draw.ranking.filter((id) => id !== mine));
    const fewerFile = save('fewer.json', { ...draw, entries_hash: entriesHash(fewer), ranking: fewer, winners: fewer.slice(0, 20) });
    expect((await verifier(fewerFile)).code).toBe(0);
    const caughtEntry = await verifier(fewerFile, [...earlier, '--entry', mine]);
    expect(caughtEntry.code).toBe(1);
    expect(caughtEntry.out).toMatch(/MISMATCH entries_hash \[independent\]/);
    expect(caughtEntry.out).toMatch(/MISMATCH entry \[independent\]/);
  }, 120_000);

  it('takes one entry per account (409 already_entered), only while registration is open (422 registration_closed)', async () => {
    const drop = await createDrop(ctx, shop, { quantity: 1, opensIn: 2, closesIn: 8, claimWindowSeconds: 1 });
    const early = await makeUser(ctx.deps);
    expectProblem(await enter(ctx, drop.id, early.auth), 422, 'registration_closed');

    await untilOpen(drop);
    const user = await makeUser(ctx.deps);
    const first = await enter(ctx, drop.id, user.auth);
    expect(first.status).toBe(201);
    expectProblem(await enter(ctx, drop.id, user.auth), 409, 'already_entered');
    // Two at once from one account: exactly one entry.
    const racer = await makeUser(ctx.deps);
    const raced = await Promise.all([enter(ctx, drop.id, racer.auth), enter(ctx, drop.id, racer.auth)]);
    expect(raced.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(Number((await ctx.deps.db('drop_entries').where({ drop_id: drop.id }).count('* as n').first())!.n)).toBe(2);

    // Before the draw there is nothing to publish or claim.
    expectProblem(await ctx.http.get(`/v1/drops/${drop.id}/draw`), 409, 'draw_pending');
    expectProblem(await claim(ctx, drop.id, user.auth), 409, 'draw_pending');

    await waitForDropStatus(ctx, drop.id, ['drawing', 'claiming', 'closed', 'sold_out']);
    expectProblem(await enter(ctx, drop.id, (await makeUser(ctx.deps)).auth), 422, 'registration_closed');
  }, 60_000);

  it('refuses bad entries with 400 (no Idempotency-Key, bad payment method, unknown fields), 404 unknown drop, 409 on a first-come drop', async () => {
    const drop = await createDrop(ctx, shop, { quantity: 1, opensIn: 0, closesIn: 30 });
    const user = await makeUser(ctx.deps);
    const post = (body: unknown, key: string | null = randomUUID()) => {
      const r = ctx.http.post(`/v1/drops/${drop.id}/entries`).set('Authorization', user.auth);
      return (key ? r.set('Idempotency-Key', key) : r).send(body as object);
    };
    expectProblem(await post({ payment_method: 'pm_card_visa' }, null), 400, 'idempotency_key_required');
    expectProblem(await post({ payment_method: 'card' }), 400, 'validation_failed');
    expectProblem(await post({}), 400, 'validation_failed');
    expectProblem(await post({ payment_method: 'pm_card_visa', extra: 1 }), 400, 'validation_failed');
    expectProblem(await enter(ctx, randomUUID(), user.auth), 404, 'not_found');
    const fcfs = await createDrop(ctx, shop, { mode: 'fcfs', opensIn: 0, closesIn: null });
    expectProblem(await enter(ctx, fcfs.id, user.auth), 409, 'not_a_lottery');
    expectProblem(await ctx.http.get(`/v1/drops/${drop.id}/entries/me`).set('Authorization', user.auth), 404, 'not_found');
    expectProblem(await claim(ctx, drop.id, user.auth, randomUUID(), { shipping_address: { line1: 'x' } }), 400, 'validation_failed');
  });

  it('saves the card at entry: a card that cannot be saved is 402 and makes no entry', async () => {
    const drop = await createDrop(ctx, shop, { quantity: 1, opensIn: 0, closesIn: 30 });
    const user = await makeUser(ctx.deps);
    expectProblem(await enter(ctx, drop.id, user.auth, 'pm_card_chargeDeclined'), 402, 'payment_declined');
    expect(await ctx.deps.db('drop_entries').where({ drop_id: drop.id, user_id: user.id }).first()).toBeUndefined();
    const ok = await enter(ctx, drop.id, user.auth, 'pm_card_visa');
    expect(ok.status).toBe(201);
    const { payment_key } = await ctx.deps.db('drop_entries').where({ id: ok.body.id }).first('payment_key');
    expect(await ctx.deps.db('payments').where({ business_key: payment_key }).first('kind', 'status', 'payment_method')).toEqual({ kind: 'setup', status: 'succeeded', payment_method: 'pm_card_visa' });
  });
});

describe('lottery drop: rate limits', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ DROP_RATE_LIMIT_PER_ACCOUNT: '3', DROP_RATE_LIMIT_PER_IP: '5', DROP_RATE_WINDOW_SECONDS: '60', TRUST_PROXY: 'true' }));
    worker = await startTestWorker(ctx.deps);
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  it('answers 429 with Retry-After past the per-account and the per-address limits', async () => {
    const shop = await dropShop(ctx, 10);
    const drop = await createDrop(ctx, shop, { quantity: 1, opensIn: 0, closesIn: 30 });
    const from = (ip: string, auth: string) =>
      ctx.http.post(`/v1/drops/${drop.id}/entries`).set('X-Forwarded-For', ip).set('Authorization', auth).set('Idempotency-Key', randomUUID()).send({ payment_method: 'pm_card_visa' });

    // One account from many addresses: 3 tries (1 entry, 2 duplicates), then 429.
    const user = await makeUser(ctx.deps);
    const perAccount = [];
    for (let i = 0; i < 4; i++) perAccount.push((await from(`10.1.0.${i + 1}`, user.auth)).status);
    expect(perAccount).toEqual([201, 409, 409, 429]);

    // Many accounts from one address: 5 entries, then 429 for everyone behind it.
    const ip = `10.2.${Math.floor(Math.random() * 250)}.1`;
    const perIp = [];
    for (let i = 0; i < 6; i++) perIp.push(await from(ip, (await makeUser(ctx.deps)).auth));
    expect(perIp.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 429]);
    expectProblem(perIp[5]!, 429, 'rate_limited');
    expect(Number(perIp[5]!.headers['retry-after'])).toBeGreaterThan(0);
  });
});
