import { randomUUID } from 'node:crypto';
import type { DropJson } from '../../src/drops/repository';
import type { DropStatus } from '../../src/drops/contract';
import type { TestContext } from '../helpers/context';
import { bearer, makeUser, makeUsers, type TestUser } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { createStore, createVariant } from '../commerce/fixtures';

/**
 * Drop fixtures shared by the lottery and first-come tests, made through the API as a merchant would: a store
 * with a variant in stock, and drops on it whose times are seconds from now (the workflow's timers are real).
 */

export interface DropShop {
  owner: TestUser;
  storeId: string;
  variantId: string;
}

/** A merchant, a store and one variant with `stock` units at `priceCents`. */
export async function dropShop(ctx: TestContext, stock: number, priceCents = 5_000): Promise<DropShop> {
  const owner = await makeUser(ctx.deps, { role: 'merchant' });
  const storeId = await createStore(ctx, owner, 'Drops');
  const variantId = await createVariant(ctx, owner, storeId, stock, priceCents);
  return { owner, storeId, variantId };
}

export interface DropSpec {
  mode?: 'lottery' | 'fcfs';
  quantity?: number;
  /** Seconds from now (may be negative: already open). Default 1. */
  opensIn?: number;
  /** Seconds from now; default opensIn + 3 for a lottery, none for fcfs. */
  closesIn?: number | null;
  claimWindowSeconds?: number;
  priceCents?: number;
  admissionPerSecond?: number;
}

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** POST /v1/stores/{store}/drops; the 201 body (the drop, with seed_commitment). */
export async function createDrop(ctx: TestContext, shop: DropShop, spec: DropSpec = {}): Promise<DropJson> {
  const mode = spec.mode ?? 'lottery';
  const opensIn = spec.opensIn ?? 1;
  const closesIn = spec.closesIn === undefined ? (mode === 'lottery' ? opensIn + 3 : null) : spec.closesIn;
  const res = await ctx.http
    .post(`/v1/stores/${shop.storeId}/drops`)
    .set('Authorization', shop.owner.auth)
    .send({
      variant_id: shop.variantId,
      quantity: spec.quantity ?? 5,
      mode,
      opens_at: inSeconds(opensIn),
      ...(closesIn !== null ? { closes_at: inSeconds(closesIn) } : {}),
      ...(spec.claimWindowSeconds !== undefined ? { claim_window_seconds: spec.claimWindowSeconds } : {}),
      ...(spec.priceCents !== undefined ? { price_cents: spec.priceCents } : {}),
      ...(spec.admissionPerSecond !== undefined ? { admission_per_second: spec.admissionPerSecond } : {}),
    });
  expect(res.status).toBe(201);
  return res.body;
}

/** Waits until GET /v1/drops/{id} shows `status` (one of them); returns the drop. */
export async function waitForDropStatus(ctx: TestContext, dropId: string, status: DropStatus | DropStatus[], timeoutMs = 30_000): Promise<DropJson> {
  const wanted = Array.isArray(status) ? status : [status];
  let last: DropJson | undefined;
  try {
    return await eventually(
      async () => {
        last = (await ctx.http.get(`/v1/drops/${dropId}`)).body as DropJson;
        return wanted.includes(last.status) ? last : undefined;
      },
      timeoutMs,
      `drop ${dropId} to be ${wanted.join(' or ')}`,
      100,
    );
  } catch (err) {
    // Say where it stopped: the row's status and what the workflow is waiting on.
    const description = await (await ctx.deps.temporal.client()).workflow.getHandle(`drop:${dropId}`).describe().catch(() => undefined);
    const pending = description?.raw.pendingActivities?.map((a) => `${a.activityType?.name} attempt ${a.attempt} ${a.lastFailure?.message ?? ''}`);
    throw new Error(`${(err as Error).message}; drop is ${last?.status}, workflow ${description?.status.name}, pending ${JSON.stringify(pending)}`);
  }
}

/**
 * Waits until the drop's opens_at has passed. Entries are taken by the stored instants, so a test need not wait
 * for the workflow to have marked the drop open (which a busy worker may do late).
 */
export async function untilOpen(drop: { opens_at: string }): Promise<void> {
  const ms = Date.parse(drop.opens_at) - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms + 20));
}

/** Runs `task` over `items` with at most `limit` in flight; results in input order. */
export async function inBatches<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** POST /v1/drops/{id}/entries as `auth` (a fresh Idempotency-Key unless given). */
export const enter = (ctx: TestContext, dropId: string, auth: string, paymentMethod = 'pm_card_visa', key = randomUUID()) =>
  ctx.http.post(`/v1/drops/${dropId}/entries`).set('Authorization', auth).set('Idempotency-Key', key).send({ payment_method: paymentMethod });

export const claimAddress = { line1: '1 Drop St', city: 'Berlin', postal_code: '10115', country: 'DE' };

/** POST /v1/drops/{id}/claim as `auth`. */
export const claim = (ctx: TestContext, dropId: string, auth: string, key = randomUUID(), body: Record<string, unknown> = { shipping_address: claimAddress }) =>
  ctx.http.post(`/v1/drops/${dropId}/claim`).set('Authorization', auth).set('Idempotency-Key', key).send(body);

// ---------------------------------------------------------------------------------------------- lottery

export interface Entrant {
  auth: string;
  userId: string;
  entryId: string;
  rank: number;
}

export interface EntryState {
  rank: number;
  status: string;
  claim_expires_at: Date | null;
  promoted_at: Date | null;
  order_id: string | null;
}

/** Lottery steps and reads for the claim-phase tests, bound to one context and shop. */
export function lotteryHelpers(ctx: TestContext, shop: DropShop) {
  const entryOf = async (dropId: string, e: Entrant) => (await ctx.http.get(`/v1/drops/${dropId}/entries/me`).set('Authorization', e.auth)).body;
  const claimOk = async (dropId: string, e: Entrant) => {
    const res = await claim(ctx, dropId, e.auth);
    expect({ rank: e.rank, status: res.status }).toEqual({ rank: e.rank, status: 201 });
    return res.body as { id: string; total_cents: number; status: string };
  };
  return {
    /** A lottery with `n` entrants (price 3,000), drawn; the entrants in rank order (rank 1 first). */
    async drawnLottery(n: number, quantity: number, claimWindowSeconds: number) {
      const users = await makeUsers(ctx.deps, n);
      // Registration long enough for a loaded machine to take every entry.
      const drop = await createDrop(ctx, shop, { quantity, opensIn: 1, closesIn: 1 + Math.max(4, n / 4), claimWindowSeconds, priceCents: 3_000 });
      await untilOpen(drop);
      const entryIds = await inBatches(users, 8, async (userId) => {
        const res = await enter(ctx, drop.id, bearer(ctx.deps, userId));
        expect(res.status).toBe(201);
        return res.body.id as string;
      });
      await waitForDropStatus(ctx, drop.id, 'claiming', 60_000);
      const ranking = (await ctx.http.get(`/v1/drops/${drop.id}/draw`)).body.ranking as string[];
      const entrants: Entrant[] = ranking.map((entryId, i) => {
        const userId = users[entryIds.indexOf(entryId)]!;
        return { entryId, userId, auth: bearer(ctx.deps, userId), rank: i + 1 };
      });
      return { drop, entrants };
    },
    entryOf,
    /** Every entry of the drop in rank order, from Postgres. */
    statuses: async (dropId: string) =>
      (await ctx.deps.db('drop_entries').where({ drop_id: dropId }).orderBy('rank').select('rank', 'status', 'claim_expires_at', 'promoted_at', 'order_id')) as EntryState[],
    /** Notifications about the drop by type; fails if anyone was told the same thing twice. */
    async told(dropId: string) {
      const rows = (await ctx.deps
        .db('notifications')
        .whereRaw("data->>'drop_id' = ?", [dropId])
        .groupBy('type')
        .select('type', ctx.deps.db.raw("count(*) as n, count(distinct data->>'entry_id') as entries"))) as Array<{ type: string; n: string; entries: string }>;
      for (const r of rows) expect(Number(r.n)).toBe(Number(r.entries));
      return Object.fromEntries(rows.map((r) => [r.type, Number(r.n)]));
    },
    claimOk,
    /** Claims as soon as the entry shows it won (a promotion is seen by polling, as a client would). */
    async claimWhenWon(dropId: string, e: Entrant) {
      await eventually(async () => (await entryOf(dropId, e)).status === 'won', 40_000, `rank ${e.rank} promoted`, 100);
      return claimOk(dropId, e);
    },
  };
}

export type LotteryHelpers = ReturnType<typeof lotteryHelpers>;
