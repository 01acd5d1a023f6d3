import { randomUUID } from 'node:crypto';
import { sellerBalances } from '../../src/billing/balances';
import { PAYOUT_RUN_WORKFLOW, payoutBusinessKey, payoutsWorkflowId } from '../../src/billing/contract';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { eventually } from '../helpers/wait';
import { startWorkerProcess, type Running } from '../startup/processHelpers';
import { holdLock, waitUntilBlocked, type HeldLock } from '../commerce/checkoutLocks';
import { makeSeller, payoutsOf, recordSale, transfersTo, type TestSeller } from './payoutFixtures';

/**
 * A worker process is SIGKILLed in the middle of two sellers' payouts, each stopped at a chosen step by a row lock
 * the test holds in an open transaction (only that payout's rows), so the kill lands at the same step every run:
 *
 * - `transferring`: inside the gateway's transfer (an uncommitted transfer with the payout's key);
 * - `recording`: after the gateway transferred, before the payout's outcome was recorded (an uncommitted ledger
 *   line with the payout's key, which the recording transaction inserts after marking the payout paid).
 *
 * A new worker then takes over: each payout is paid exactly once, one gateway transfer for its key, one ledger
 * line, one payout entry, and the balance says so.
 */

const CHILD_APP = `payout-crash-${randomUUID().slice(0, 8)}`;

describe('payouts with a killed worker', () => {
  let ctx: TestContext;
  let child: Running | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  const locks: HeldLock[] = [];
  const runKey = `run-${randomUUID()}`;
  let transferring: TestSeller;
  let recording: TestSeller;
  const atKill: Record<string, unknown> = {};
  const db = () => ctx.deps.db;
  const key = (s: { id: string }) => payoutBusinessKey(s.id, 'EUR', runKey);

  async function killChild(): Promise<void> {
    child!.child.kill('SIGKILL');
    expect((await child!.exited).signal).toBe('SIGKILL');
  }

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ PAYMENT_STEP_TIMEOUT: '5s' }));
    transferring = await makeSeller(ctx);
    recording = await makeSeller(ctx);
    await recordSale(db(), transferring.id, { capturedCents: 12_000, feeCents: 1_200 });
    await recordSale(db(), recording.id, { capturedCents: 8_000, feeCents: 800 });

    locks.push(
      await holdLock(db(), `INSERT INTO sim_transfers (id, destination, amount_cents, currency, status, business_key) VALUES (?, ?, 1, 'eur', 'paid', ?)`, [
        `tr_twin_${randomUUID().slice(0, 8)}`,
        transferring.accountId!,
        key(transferring),
      ]),
    );
    locks.push(
      await holdLock(db(), `INSERT INTO ledger_transactions (kind, amount_cents, currency, provider, provider_id, business_key) VALUES ('payout', 1, 'EUR', 'simulated', 'twin', ?)`, [
        key(recording),
      ]),
    );

    // The worker is a separate OS process, so it can really be killed (no graceful shutdown).
    child = startWorkerProcess(ctx.deps.config, { appName: CHILD_APP, settings: { PAYMENT_STEP_TIMEOUT: '5s' } });
    const client = await ctx.deps.temporal.client();
    await client.workflow.start(PAYOUT_RUN_WORKFLOW, {
      taskQueue: ctx.deps.config.TASK_QUEUE,
      workflowId: `test-payout-crash-${randomUUID()}`,
      args: [{ runKey, sellerUserIds: [transferring.id, recording.id] }],
    });
    for (const lock of locks) await waitUntilBlocked(db(), lock, 'the worker process waiting on a payout step', { applicationName: CHILD_APP, timeoutMs: 90_000 });

    await killChild();
    for (const lock of locks) await lock.release();
    await eventually(
      async () => Number(((await db().raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ?', [CHILD_APP])) as { rows: Array<{ n: number }> }).rows[0]!.n) === 0,
      30_000,
      'the killed worker’s sessions gone',
    );
    for (const s of [transferring, recording]) {
      atKill[s === transferring ? 'transferring' : 'recording'] = {
        payouts: (await payoutsOf(db(), s.id)).map((p) => p.status),
        transfers: (await transfersTo(db(), s.accountId!)).map((t) => t.status),
      };
    }
    worker = await startTestWorker(ctx.deps);
  }, 150_000);

  afterAll(async () => {
    for (const lock of locks) await lock.release().catch(() => undefined);
    if (child && child.child.exitCode === null && child.child.signalCode === null) await killChild();
    await worker?.stop();
    await ctx?.close();
  });

  async function expectPaidOnce(s: TestSeller, amount: number): Promise<void> {
    const client = await ctx.deps.temporal.client();
    await client.workflow.getHandle(payoutsWorkflowId(s.id)).result();
    const payouts = await payoutsOf(db(), s.id);
    expect(payouts.map((p) => [p.amount_cents, p.status, p.business_key])).toEqual([[amount, 'paid', key(s)]]);
    expect((await transfersTo(db(), s.accountId!)).map((t) => [t.amount_cents, t.status, t.business_key])).toEqual([[amount, 'paid', key(s)]]);
    expect(await db()('ledger_transactions').where({ business_key: key(s) }).select('payout_id', 'amount_cents')).toEqual([{ payout_id: payouts[0]!.id, amount_cents: amount }]);
    expect(await db()('balance_entries').where({ payout_id: payouts[0]!.id }).select('kind', 'amount_cents')).toEqual([{ kind: 'payout', amount_cents: -amount }]);
    expect(await sellerBalances(db(), s.id)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: 0, paid_out_cents: amount }]);
  }

  it('killed inside the gateway’s transfer: nothing transferred then; the new worker transfers once and records it', async () => {
    expect(atKill.transferring).toEqual({ payouts: ['scheduled'], transfers: [] });
    await expectPaidOnce(transferring, 10_800);
  });

  it('killed after the gateway transferred, before the outcome was recorded: the retry finds that transfer, no second one', async () => {
    expect(atKill.recording).toEqual({ payouts: ['scheduled'], transfers: ['paid'] });
    await expectPaidOnce(recording, 7_200);
  });
});
