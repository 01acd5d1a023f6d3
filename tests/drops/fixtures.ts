import { randomUUID } from 'node:crypto';
import type { DropJson } from '../../src/drops/repository';
import type { DropStatus } from '../../src/drops/types';
import type { TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
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
  return eventually(
    async () => {
      const res = await ctx.http.get(`/v1/drops/${dropId}`);
      return wanted.includes(res.body.status) ? (res.body as DropJson) : undefined;
    },
    timeoutMs,
    `drop ${dropId} to be ${wanted.join(' or ')}`,
    100,
  );
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
