import { randomUUID } from 'node:crypto';
import {
  CART_RESERVATIONS_WORKFLOW,
  type CartReservationsInput,
  type CartReservationsWorkflow,
  cartActivitySignal,
  cartClosedSignal,
  cartReservationsStateQuery,
  cartWorkflowId,
} from '../../../src/commerce/contract';
import { eventually } from '../../helpers/wait';
import { type ActivityInput, type ActivityMock, type ActivityResult, deferred, historyEventTypes, pause, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * cart:<id> — a cart's reservation TTL — with releaseCartReservations mocked: the countdown from the last
 * cartActivity, the release at expiry (and again for holds not yet due), and cartClosed ending it only when
 * the checkout sold everything the cart still holds.
 */

type Release = ActivityResult<'releaseCartReservations'>;

function cartInput(ttlMs: number): CartReservationsInput {
  return { cartId: randomUUID(), storeId: randomUUID(), storeSlug: 'tiny-synths', customerId: randomUUID(), ttlMs };
}

/** releaseCartReservations answering `answers` in turn. */
function releases(...answers: Release[]) {
  let n = 0;
  return jest.fn(async (_: ActivityInput<'releaseCartReservations'>): Promise<Release> => answers[Math.min(n++, answers.length - 1)]!);
}

describe('cartReservations workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['releaseCartReservations'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = (input: CartReservationsInput, releaseCartReservations: ActivityMock<'releaseCartReservations'>) =>
    t.start<CartReservationsWorkflow>(CART_RESERVATIONS_WORKFLOW, { workflowId: cartWorkflowId(input.cartId), args: [input], mocks: { releaseCartReservations } });

  it('without activity the holds expire ttlMs after the start and go back to stock', async () => {
    const began = Date.now();
    const input = cartInput(200);
    const release = releases({ released: 2, msUntilNextExpiry: null });
    const handle = await start(input, release);

    await expect(handle.result()).resolves.toEqual({ outcome: 'expired', released: 2 });
    expect(release).toHaveBeenCalledTimes(1);
    expect(release).toHaveBeenCalledWith({ cartId: input.cartId });
    expect(t.call(handle.workflowId, 'releaseCartReservations').at - began).toBeGreaterThanOrEqual(200);
  });

  it('each cartActivity restarts the countdown from that moment', async () => {
    const input = cartInput(300);
    const release = releases({ released: 1, msUntilNextExpiry: null });
    const handle = await start(input, release);
    const first = await handle.query(cartReservationsStateQuery);

    await pause(150);
    const signalled = Date.now();
    await handle.signal(cartActivitySignal, { items: [{ variant_id: 'v1', quantity: 2 }] });
    const moved = await handle.query(cartReservationsStateQuery);
    expect(moved).toMatchObject({ activities: 1, items: [{ variant_id: 'v1', quantity: 2 }], closed: false });
    expect(Date.parse(moved.expiresAt)).toBeGreaterThan(Date.parse(first.expiresAt));

    await expect(handle.result()).resolves.toEqual({ outcome: 'expired', released: 1 });
    expect(release).toHaveBeenCalledTimes(1);
    expect(t.call(handle.workflowId, 'releaseCartReservations').at).toBeGreaterThanOrEqual(signalled + 300);
  });

  it('holds not yet due at the expiry are waited for (msUntilNextExpiry) and released in a second pass', async () => {
    const input = cartInput(100);
    const release = releases({ released: 1, msUntilNextExpiry: 200 }, { released: 2, msUntilNextExpiry: null });
    const handle = await start(input, release);

    await expect(handle.result()).resolves.toEqual({ outcome: 'expired', released: 3 });
    expect(release).toHaveBeenCalledTimes(2);
    const [one, two] = [t.call(handle.workflowId, 'releaseCartReservations', 0), t.call(handle.workflowId, 'releaseCartReservations', 1)];
    // msUntilNextExpiry plus the workflow's slack of 50 ms.
    expect(two.at - one.at).toBeGreaterThanOrEqual(250);
  });

  it('cartClosed with everything the cart holds sold ends it at once, releasing what is left', async () => {
    const input = cartInput(60_000);
    const release = releases({ released: 0, msUntilNextExpiry: null });
    const handle = await start(input, release);
    await handle.signal(cartActivitySignal, { items: [{ variant_id: 'v1', quantity: 2 }] });

    await handle.signal(cartClosedSignal, { sold: [{ variant_id: 'v1', quantity: 2 }] });
    await expect(handle.result()).resolves.toEqual({ outcome: 'closed', released: 0 });
    expect(release).toHaveBeenCalledTimes(1);
    expect(await handle.query(cartReservationsStateQuery)).toMatchObject({ closed: true, activities: 1 });
  });

  it('cartClosed that did not sell a line added meanwhile keeps the countdown; a later close that covers it ends the cart', async () => {
    const input = cartInput(60_000);
    const release = releases({ released: 0, msUntilNextExpiry: null });
    const handle = await start(input, release);
    await handle.signal(cartActivitySignal, { items: [{ variant_id: 'v1', quantity: 1 }, { variant_id: 'v2', quantity: 1 }] });

    await handle.signal(cartClosedSignal, { sold: [{ variant_id: 'v1', quantity: 1 }] });
    // A query answers after the signal's workflow task: by then any release would have been scheduled.
    expect(await handle.query(cartReservationsStateQuery)).toMatchObject({ closed: false });
    expect(await historyEventTypes(t.client, handle.workflowId)).not.toContain('ACTIVITY_TASK_SCHEDULED');

    await handle.signal(cartClosedSignal, { sold: [{ variant_id: 'v1', quantity: 1 }, { variant_id: 'v2', quantity: 3 }] });
    await expect(handle.result()).resolves.toEqual({ outcome: 'closed', released: 0 });
    expect(release).toHaveBeenCalledTimes(1);
  });

  it('cartClosed from an older sender (no payload) ends the cart only once no hold is left', async () => {
    const input = cartInput(60_000);
    const release = releases({ released: 1, msUntilNextExpiry: 30_000 }, { released: 0, msUntilNextExpiry: null });
    const handle = await start(input, release);

    await handle.signal(cartClosedSignal);
    await eventually(() => release.mock.calls.length === 1);
    expect(await handle.query(cartReservationsStateQuery)).toMatchObject({ closed: false });

    await handle.signal(cartClosedSignal);
    await expect(handle.result()).resolves.toEqual({ outcome: 'closed', released: 1 });
    expect(release).toHaveBeenCalledTimes(2);
  });

  it('cart activity during the closing release keeps the cart open', async () => {
    const input = cartInput(60_000);
    const gate = deferred();
    let calls = 0;
    const release = jest.fn(async (_: ActivityInput<'releaseCartReservations'>): Promise<Release> => {
      if (calls++ === 0) await gate.promise;
      return { released: 0, msUntilNextExpiry: null };
    });
    const handle = await start(input, release);

    await handle.signal(cartClosedSignal, { sold: [] });
    await eventually(() => release.mock.calls.length === 1);
    await handle.signal(cartActivitySignal, { items: [{ variant_id: 'v3', quantity: 1 }] });
    gate.resolve();
    await eventually(async () => (await historyEventTypes(t.client, handle.workflowId)).includes('ACTIVITY_TASK_COMPLETED'));
    // The query is answered after the release's result was handled.
    expect(await handle.query(cartReservationsStateQuery)).toMatchObject({ closed: false, activities: 1 });
    expect((await handle.describe()).status.name).toBe('RUNNING');

    await handle.signal(cartClosedSignal, { sold: [{ variant_id: 'v3', quantity: 1 }] });
    await expect(handle.result()).resolves.toEqual({ outcome: 'closed', released: 0 });
    expect(release).toHaveBeenCalledTimes(2);
  });
});
