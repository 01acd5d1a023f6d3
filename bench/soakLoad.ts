import type { BenchEnvironment } from './harness';
import { bulkUsers, createBenchStore, postJson } from './harness';
import type { SoakClient } from './soakClient';

/**
 * The soak's mixed load, all over HTTP as users make it: pledges into campaigns whose deadlines pass during the
 * soak (three meet their goal, one cannot), carts and checkouts (some abandoned, some declined), the merchant
 * moving orders along or cancelling them, lottery drops (entries, the draw, claims, skipped claim windows) and
 * first-come drops (joins, admission, checkouts of the admitted carts), each drop's windows short enough to pass
 * during the soak. Each lane runs until `loadEnd`.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const chance = (p: number) => Math.random() < p;
const at = (ms: number) => new Date(ms).toISOString();
const ADDRESS = { line1: '1 Soak Street', city: 'Lisbon', postal_code: '1000-001', country: 'PT' };
const DECLINED = 'pm_card_chargeDeclined';

export interface SoakWorld {
  creator: { id: string; auth: string };
  merchant: { id: string; auth: string };
  storeId: string;
  /** Variants the carts buy from. */
  cartVariants: string[];
  lotteryVariant: string;
  fcfsVariant: string;
  campaigns: Array<{ id: string; endsAt: number; meant: 'succeed' | 'fail' }>;
  users: Array<{ id: string; auth: string }>;
  nextUser(): { id: string; auth: string };
}

/** Accounts (bulk), a store with its products, and the campaigns (through the API, launched). */
export async function buildWorld(env: BenchEnvironment, loadMs: number): Promise<SoakWorld> {
  const { services, baseUrl } = env;
  const [creator] = await bulkUsers(services, 1, 'creator');
  const [merchant] = await bulkUsers(services, 1, 'merchant');
  // Every pledge and shopper is a new account: ~1,500 a minute were used on a quiet machine; room for four times that.
  const users = await bulkUsers(services, Math.max(10_000, Math.ceil((loadMs / 60_000) * 6_000)));
  let next = 0;
  const storeId = await createBenchStore(baseUrl, merchant!.auth, 'Soak store');
  const product = await postJson<{ variants: Array<{ id: string }> }>(
    `${baseUrl}/v1/stores/${storeId}/products`,
    {
      name: 'Soak tee',
      base_price_cents: 2_500,
      // ~45 units per variant a minute were sold on a quiet machine: stock for three times that, so it rarely runs out.
      variants: Array.from({ length: 5 }, (_, v) => ({ sku: `TEE-${v}`, attributes: { size: `${v}` }, price_modifier_cents: v * 100, inventory_count: Math.ceil((loadMs / 60_000) * 150) + 100 })),
    },
    { auth: merchant!.auth },
  );
  const lottery = await postJson<{ variants: Array<{ id: string }> }>(`${baseUrl}/v1/stores/${storeId}/products`, { name: 'Soak lottery sneaker', base_price_cents: 9_000, inventory_count: 400 }, { auth: merchant!.auth });
  const fcfs = await postJson<{ variants: Array<{ id: string }> }>(`${baseUrl}/v1/stores/${storeId}/products`, { name: 'Soak first-come sneaker', base_price_cents: 8_000, inventory_count: 400 }, { auth: merchant!.auth });

  const t0 = Date.now();
  const specs: Array<{ share: number; goal: number; meant: 'succeed' | 'fail' }> = [
    { share: 0.35, goal: 1_000, meant: 'succeed' },
    { share: 0.5, goal: 1_000_000_000, meant: 'fail' },
    { share: 0.65, goal: 1_000, meant: 'succeed' },
    { share: 0.85, goal: 1_000, meant: 'succeed' },
  ];
  const campaigns: SoakWorld['campaigns'] = [];
  for (const [i, s] of specs.entries()) {
    const endsAt = t0 + Math.max(20_000, s.share * loadMs);
    const c = await postJson<{ id: string }>(
      `${baseUrl}/v1/campaigns`,
      { title: `Soak campaign ${i}`, description: 'Pledged into during the chaos soak', category: 'technology', goal_cents: s.goal, currency: 'USD', ends_at: at(endsAt) },
      { auth: creator!.auth },
    );
    await postJson(`${baseUrl}/v1/campaigns/${c.id}/launch`, {}, { auth: creator!.auth, expect: 200 });
    campaigns.push({ id: c.id, endsAt, meant: s.meant });
  }
  return {
    creator: creator!,
    merchant: merchant!,
    storeId,
    cartVariants: product.variants.map((v) => v.id),
    lotteryVariant: lottery.variants[0]!.id,
    fcfsVariant: fcfs.variants[0]!.id,
    campaigns,
    users,
    nextUser: () => {
      if (next >= users.length) throw new Error('the soak ran out of accounts: raise the pool in buildWorld');
      return users[next++]!;
    },
  };
}

/** Runs `lanes` copies of `task` back to back until `until`. */
async function lanes(n: number, until: number, task: () => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (Date.now() < until) await task();
    }),
  );
}

/** Backers pledge into live campaigns; a few with a card that declines; some pledges are cancelled later. */
export function pledgeLoad(api: SoakClient, w: SoakWorld, until: number): Promise<void> {
  return lanes(3, until, async () => {
    // Not in the last seconds before a deadline: a pledge then is a race the soak does not mean to measure.
    const live = w.campaigns.filter((c) => Date.now() < c.endsAt - 3_000);
    if (!live.length) return void (await sleep(1_000));
    const c = pick(live);
    const backer = w.nextUser();
    const declined = chance(0.08);
    const amount = 500 + Math.floor(Math.random() * 50) * 100;
    const res = await api.call<{ id?: string }>('pledge', 'POST', `/v1/campaigns/${c.id}/pledges`, {
      auth: backer.auth,
      body: { amount_cents: amount, payment_method: declined ? DECLINED : 'pm_card_visa' },
      idempotencyKey: true,
    });
    if (res.status === 201 && res.body.id && chance(0.1) && Date.now() < c.endsAt - 5_000) {
      await api.call('pledge_cancel', 'DELETE', `/v1/pledges/${res.body.id}`, { auth: backer.auth });
    }
  });
}

/** Shoppers fill carts and check out (some abandon the cart, some pay with a declining card); orders go to `orders`. */
export function storeLoad(api: SoakClient, w: SoakWorld, until: number, orders: string[]): Promise<void> {
  return lanes(4, until, async () => {
    const shopper = w.nextUser();
    const cart = await api.call<{ id?: string }>('cart_create', 'POST', '/v1/carts', { auth: shopper.auth, body: { store_id: w.storeId } });
    if (cart.status !== 201 || !cart.body.id) return void (await sleep(500));
    let held = 0;
    for (let i = 0, n = 1 + Math.floor(Math.random() * 2); i < n; i++) {
      const added = await api.call('cart_add', 'POST', `/v1/carts/${cart.body.id}/items`, {
        auth: shopper.auth,
        body: { variant_id: pick(w.cartVariants), quantity: 1 + Math.floor(Math.random() * 2) },
      });
      if (added.status === 200) held++;
    }
    // Sold out for now (every add 409): wait for holds to come back rather than spin through accounts.
    if (!held) return void (await sleep(1_000));
    // Abandoned carts: their holds must come back to stock by themselves (RESERVATION_TTL, hold-expiry sweepers).
    if (chance(0.15)) return;
    const order = await checkout(api, shopper.auth, cart.body.id, chance(0.1) ? DECLINED : 'pm_card_visa');
    if (order) orders.push(order);
  });
}

async function checkout(api: SoakClient, auth: string, cartId: string, paymentMethod: string): Promise<string | undefined> {
  const res = await api.call<{ id?: string }>('checkout', 'POST', '/v1/checkout', {
    auth,
    body: { cart_id: cartId, shipping_address: ADDRESS, payment_method: paymentMethod },
    idempotencyKey: true,
  });
  return res.status === 201 ? res.body.id : undefined;
}

/** The merchant moves orders along (processing, shipped, delivered) or cancels one in four (refund + restock). */
export function orderStatusLoad(api: SoakClient, w: SoakWorld, until: number, orders: string[], refundFailed: Array<{ order_id: string; at: string }>): Promise<void> {
  const later: Array<{ id: string; tries: number }> = [];
  return lanes(1, until, async () => {
    const next = orders.length ? { id: orders.shift()!, tries: 0 } : later.shift();
    if (!next) return void (await sleep(300));
    const steps = chance(0.25) ? ['cancelled'] : chance(0.5) ? ['processing', 'shipped'] : ['processing', 'shipped', 'delivered'];
    for (const status of steps) {
      const res = await api.call('order_status', 'POST', `/v1/orders/${next.id}/status`, { auth: w.merchant.auth, body: { status } });
      // An order still being confirmed (the capture follows the answer) cannot move yet: try it again later.
      if (res.status === 409 && next.tries < 5) {
        later.push({ id: next.id, tries: next.tries + 1 });
        break;
      }
      // API.md: a cancel whose refund failed changed nothing and may be retried shortly: note it, retry once.
      if (res.status === 502 && status === 'cancelled') {
        refundFailed.push({ order_id: next.id, at: new Date().toISOString() });
        await sleep(2_000);
        await api.call('order_cancel_retry_after_502', 'POST', `/v1/orders/${next.id}/status`, { auth: w.merchant.auth, body: { status } });
      }
      if (res.status !== 200) break;
    }
    await sleep(100);
  });
}

interface DropJson {
  id: string;
  status: string;
  opens_at: string;
}

async function dropWhen(api: SoakClient, dropId: string, done: (status: string) => boolean, timeoutMs: number): Promise<string> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const d = await api.call<DropJson>('drop_read', 'GET', `/v1/drops/${dropId}`);
    if (d.status === 200 && done(d.body.status)) return d.body.status;
    if (Date.now() > giveUp) return d.body.status ?? `http ${d.status}`;
    await sleep(1_000);
  }
}

/**
 * A drop made by the merchant (recorded in `drops`), returned once its opens_at has passed; none when fewer than
 * 30 s of load are left (it could not run its course) or the API refused it.
 */
async function openDrop(api: SoakClient, w: SoakWorld, until: number, drops: string[], body: Record<string, unknown>): Promise<DropJson | undefined> {
  if (until - Date.now() < 30_000) return void (await sleep(Math.max(0, until - Date.now())));
  const drop = await api.call<DropJson>('drop_create', 'POST', `/v1/stores/${w.storeId}/drops`, { auth: w.merchant.auth, body });
  if (drop.status !== 201) return void (await sleep(2_000));
  drops.push(drop.body.id);
  const ms = Date.parse(drop.body.opens_at) - Date.now();
  if (ms > 0) await sleep(ms + 50);
  return drop.body;
}

/**
 * Lottery drops, one after another: 24 entrants for 6 units, registration 12 s, claim windows of 10 s; four
 * winners in five claim, the others let their window pass (the waitlist is promoted into their units).
 */
export function lotteryLoad(api: SoakClient, w: SoakWorld, until: number, drops: string[]): Promise<void> {
  return lanes(1, until, async () => {
    const now = Date.now();
    const drop = await openDrop(api, w, until, drops, { variant_id: w.lotteryVariant, quantity: 6, mode: 'lottery', opens_at: at(now + 2_000), closes_at: at(now + 14_000), claim_window_seconds: 10, price_cents: 3_000 });
    if (!drop) return;
    const entrants = Array.from({ length: 24 }, () => w.nextUser());
    await Promise.all(
      entrants.map(async (e, i) => {
        await sleep(i * 200);
        await api.call('drop_entry', 'POST', `/v1/drops/${drop.id}/entries`, { auth: e.auth, body: { payment_method: 'pm_card_visa' }, idempotencyKey: true });
      }),
    );
    const drawn = await dropWhen(api, drop.id, (s) => s !== 'scheduled' && s !== 'open' && s !== 'drawing', 60_000);
    if (drawn !== 'claiming') return;
    // Each entrant watches their entry until the drop is over; winners claim (or not), once.
    const skipping = new Set(entrants.filter(() => chance(0.2)));
    let over = false;
    const watch = Promise.all(
      entrants.map(async (e) => {
        while (!over) {
          const me = await api.call<{ status?: string; claim_expires_at?: string }>('drop_entry_read', 'GET', `/v1/drops/${drop.id}/entries/me`, { auth: e.auth });
          if (me.body.status === 'won') {
            if (skipping.has(e)) return;
            const triedAt = Date.now();
            const claimed = await api.call('drop_claim', 'POST', `/v1/drops/${drop.id}/claim`, { auth: e.auth, body: { shipping_address: ADDRESS }, idempotencyKey: true });
            // First tried inside the window, refused only after retrying through an outage: worth a line in the report.
            if (claimed.status === 410 && me.body.claim_expires_at && triedAt < Date.parse(me.body.claim_expires_at)) {
              api.observations.add(claimed.attempts > 1 ? 'claim_tried_in_window_refused_410_after_503s' : 'claim_tried_in_window_refused_410');
            }
            return;
          }
          if (me.body.status && me.body.status !== 'entered' && me.body.status !== 'waitlisted') return;
          await sleep(1_500);
        }
      }),
    );
    await dropWhen(api, drop.id, (s) => s === 'sold_out' || s === 'closed', 90_000);
    over = true;
    await watch;
  });
}

/**
 * First-come drops, one after another: 16 shoppers join a room for 8 units admitted 4 a second; three admitted
 * shoppers in four check their held cart out, the rest let the hold lapse (the next in line gets the unit).
 */
export function fcfsLoad(api: SoakClient, w: SoakWorld, until: number, drops: string[], orders: string[]): Promise<void> {
  return lanes(1, until, async () => {
    const now = Date.now();
    const drop = await openDrop(api, w, until, drops, { variant_id: w.fcfsVariant, quantity: 8, mode: 'fcfs', opens_at: at(now + 2_000), closes_at: at(now + 25_000), admission_per_second: 4, price_cents: 4_000 });
    if (!drop) return;
    const closesAt = now + 25_000;
    await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const shopper = w.nextUser();
        await sleep(i * 100);
        const joined = await api.call<{ token?: string }>('drop_queue_join', 'POST', `/v1/drops/${drop.id}/queue`, { auth: shopper.auth });
        if (joined.status !== 201 || !joined.body.token) return;
        while (Date.now() < closesAt) {
          const place = await api.call<{ admitted?: boolean; cart_id?: string }>('drop_queue_read', 'GET', `/v1/drops/${drop.id}/queue/${joined.body.token}`, { auth: shopper.auth });
          if (place.body.cart_id) {
            if (chance(0.75)) {
              const order = await checkout(api, shopper.auth, place.body.cart_id, 'pm_card_visa');
              if (order) orders.push(order);
            }
            return;
          }
          if (place.status !== 200) return;
          await sleep(1_000);
        }
      }),
    );
    await dropWhen(api, drop.id, (s) => s === 'sold_out' || s === 'closed', 60_000);
  });
}
