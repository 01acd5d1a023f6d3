import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { claim, dropShop, lotteryHelpers, type DropShop, type LotteryHelpers } from './fixtures';

/**
 * A winner claims inside the window while no worker runs: the claim's checkout cannot run and the answer is 503
 * with Retry-After. The unit stays held for that claim, so the retry with the same Idempotency-Key after the
 * window has passed still makes the order (found by bench:soak: it answered 410 claim_expired).
 */
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
let shop: DropShop;
let helpers: LotteryHelpers;

beforeAll(async () => {
  ctx = createTestContext(testConfig({ DROP_RATE_LIMIT_PER_IP: '1000000', TEMPORAL_UPDATE_TIMEOUT: '2s', RESERVATION_TTL: '60s' }));
  worker = await startTestWorker(ctx.deps);
  shop = await dropShop(ctx, 10, 3_000);
  helpers = lotteryHelpers(ctx, shop);
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  await ctx.close();
});

it('honours a claim made in its window whose checkout had to wait for the workers', async () => {
  const { drop, entrants } = await helpers.drawnLottery(2, 1, 6);
  const winner = entrants[0]!;
  await worker!.stop();
  worker = undefined;

  const key = randomUUID();
  const first = await claim(ctx, drop.id, winner.auth, key);
  expect(first.status).toBe(503);
  expect(first.headers['retry-after']).toMatch(/^\d+$/);

  // The window passes while the workers are away.
  const entry = await helpers.entryOf(drop.id, winner);
  await new Promise((r) => setTimeout(r, Math.max(0, new Date(entry.claim_expires_at).getTime() - Date.now()) + 500));
  worker = await startTestWorker(ctx.deps);

  const retried = await claim(ctx, drop.id, winner.auth, key);
  expect(retried.status).toBe(201);
  expect(retried.body).toMatchObject({ status: 'confirmed', customer_id: winner.userId });
  expect((await helpers.entryOf(drop.id, winner)).status).toBe('claimed');
});
