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
export async function createDrop(ctx: TestContext, shop: DropShop, spec: DropSpec = {}): Promise<Record<string, any>> {
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
export async function waitForDropStatus(ctx: TestContext, dropId: string, status: string | string[], timeoutMs = 30_000): Promise<Record<string, any>> {
  const wanted = Array.isArray(status) ? status : [status];
  return eventually(
    async () => {
      const res = await ctx.http.get(`/v1/drops/${dropId}`);
      return wanted.includes(res.body.status) ? (res.body as Record<string, any>) : undefined;
    },
    timeoutMs,
    `drop ${dropId} to be ${wanted.join(' or ')}`,
    100,
  );
}
