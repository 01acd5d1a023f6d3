import { randomUUID } from 'node:crypto';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { freePort } from '../helpers/server';
import { eventually } from '../helpers/wait';
import { holdLock, waitUntilBlocked, type HeldLock } from '../commerce/checkoutLocks';
import { entryEnv, startEntry, type Running } from '../startup/processHelpers';
import { chargedBooking, gatewayMoney, type ChargedBooking } from './refundFixtures';

/**
 * A refund whose API process is SIGKILLed mid-way, at two fixed points (a row lock the test holds stops it there
 * every run): before the provider answered (inside the simulated provider's own transaction, on the payment
 * intent's row), and after the provider refunded but before our records heard of it (on the payments row). Either
 * way the credit note is left pending with its amount reserved, and the client's retry with the same
 * Idempotency-Key (once the dead request's key lease ran out) finishes it: the money moves exactly once.
 */

const LEASE_SECONDS = '2';

describe('refund with a killed API process', () => {
  let ctx: TestContext;
  let api: Running | undefined;
  let lock: HeldLock | undefined;

  beforeAll(() => {
    ctx = createTestContext(testConfig({ IDEMPOTENCY_LEASE_SECONDS: LEASE_SECONDS }));
  });
  afterEach(async () => {
    await lock?.release();
    if (api && api.child.exitCode === null && api.child.signalCode === null) api.child.kill('SIGKILL');
  });
  afterAll(() => ctx.close());

  async function startApi(appName: string): Promise<number> {
    const port = await freePort();
    const databaseUrl = new URL(ctx.deps.config.DATABASE_URL);
    databaseUrl.searchParams.set('application_name', appName);
    api = startEntry(
      'api',
      entryEnv({
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL: ctx.deps.config.REDIS_URL,
        TEMPORAL_ADDRESS: ctx.deps.config.TEMPORAL_ADDRESS,
        HOST: '127.0.0.1',
        PORT: String(port),
        WEB_CONCURRENCY: '1',
        LOG_LEVEL: 'warn',
        IDEMPOTENCY_LEASE_SECONDS: LEASE_SECONDS,
        // The same secret, so the tokens the test issues are valid there too.
        JWT_SECRET: ctx.deps.config.JWT_SECRET,
      }),
    );
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, 60_000, 'the API process listening', 250);
    return port;
  }

  /** Sends the refund to the child API, stops it at `lockSql`, SIGKILLs it there; returns the request's key and body. */
  async function refundKilledAt(b: ChargedBooking, lockSql: string, bindings: string[]) {
    const appName = `refund-crash-${randomUUID().slice(0, 8)}`;
    const port = await startApi(appName);
    lock = await holdLock(ctx.deps.db, lockSql, bindings);
    const key = randomUUID();
    const body = { amount_cents: 2_000, reason: 'Parts missing' };
    const sent = fetch(`http://127.0.0.1:${port}/v1/bookings/${b.id}/refunds`, {
      method: 'POST',
      headers: { Authorization: b.scene.provider.owner.auth, 'Idempotency-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }).catch((err: unknown) => err as Error);
    const answered = sent.then(async (r) => {
      if (!('status' in r)) return; // killed: no answer, as intended
      const res = r as Response;
      throw new Error(`the refund answered before reaching the lock: ${res.status} ${await res.text()}\n${api!.output().stderr}`);
    });
    await Promise.race([waitUntilBlocked(ctx.deps.db, lock, 'the refund stopped at the lock', { applicationName: appName, timeoutMs: 30_000 }), answered]);
    answered.catch(() => undefined);
    api!.child.kill('SIGKILL');
    expect((await api!.exited).signal).toBe('SIGKILL');
    expect(await sent).not.toHaveProperty('status'); // the client never got an answer (fetch failed)
    await lock.release();
    await eventually(
      async () => ((await ctx.deps.db.raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ?', [appName])) as { rows: Array<{ n: number }> }).rows[0]!.n === 0,
      30_000,
      'the killed process’s sessions gone',
    );
    return { key, body };
  }

  async function state(b: ChargedBooking) {
    const charge = await ctx.deps.db('seller_charges').where({ source_kind: 'booking', source_id: b.id }).first('id', 'refunded_cents');
    const notes = await ctx.deps.db('credit_notes').where({ charge_id: charge.id }).select('id', 'status', 'amount_cents');
    const ledger = await ctx.deps.db('ledger_transactions').where({ seller_charge_id: charge.id, kind: 'refund' }).select('amount_cents');
    return { refunded: Number(charge.refunded_cents), notes: notes.map((n: { status: string }) => n.status), ledger: ledger.length, gateway: (await gatewayMoney(ctx.deps, b.paymentKey)).refunds.map((r) => r.amount) };
  }

  /** The client retries with the same key until the dead request's lease is over (409 request_in_progress meanwhile). */
  async function retry(b: ChargedBooking, key: string, body: object) {
    return eventually(
      async () => {
        const res = await ctx.http.post(`/v1/bookings/${b.id}/refunds`).set('Authorization', b.scene.provider.owner.auth).set('Idempotency-Key', key).send(body);
        return res.status !== 409 && res;
      },
      30_000,
      'the retry past the dead request’s lease',
      250,
    );
  }

  it('killed after the provider refunded, before our records knew: the retry records the same refund, nothing refunded twice', async () => {
    const b = await chargedBooking(ctx.deps, 6_000, 0);
    const { key, body } = await refundKilledAt(b, 'SELECT id FROM payments WHERE business_key = ? FOR UPDATE', [b.paymentKey]);
    // The provider refunded; our credit note does not know yet and keeps the amount reserved.
    expect(await state(b)).toEqual({ refunded: 2_000, notes: ['pending'], ledger: 0, gateway: [2_000] });

    const res = await retry(b, key, body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount_cents: 2_000 });
    expect(await state(b)).toEqual({ refunded: 2_000, notes: ['succeeded'], ledger: 1, gateway: [2_000] });
  }, 120_000);

  it('killed before the provider answered: the provider did nothing; the retry refunds once', async () => {
    const b = await chargedBooking(ctx.deps, 6_000, 0);
    const { provider_payment_id: intentId } = await ctx.deps.db('payments').where({ business_key: b.paymentKey }).first('provider_payment_id');
    const { key, body } = await refundKilledAt(b, 'SELECT id FROM sim_payment_intents WHERE id = ? FOR UPDATE', [intentId]);
    expect(await state(b)).toEqual({ refunded: 2_000, notes: ['pending'], ledger: 0, gateway: [] });

    const res = await retry(b, key, body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', amount_cents: 2_000 });
    expect(await state(b)).toEqual({ refunded: 2_000, notes: ['succeeded'], ledger: 1, gateway: [2_000] });
  }, 120_000);
});
