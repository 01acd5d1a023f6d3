import type { Knex } from 'knex';
import { CLOSE_FEE_INVOICES_WORKFLOW, feeInvoiceSourceId } from '../../src/billing/contract';
import { addFeeLine, closeFeeInvoices, nextFeeMonth } from '../../src/billing/feeInvoices';
import { finalizeInvoice } from '../../src/billing/invoices';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';

/**
 * The platform's monthly fee invoices with real Postgres: a draft per seller and UTC month that grows by one line per
 * fee (the platform's rate on top), closed once its month has ended (numbered from the platform's counter); a line
 * for a month already closed goes to the next open one; a close racing a line, both orders, and many at once; the
 * closeFeeInvoices workflow on a real worker.
 */

let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
beforeAll(async () => {
  ctx = createTestContext(testConfig({ TAX_RATES_BPS: 'default=0,platform=2000' }));
  worker = await startTestWorker(ctx.deps);
});
afterAll(async () => {
  await worker?.stop();
  await ctx.close();
});

const db = () => ctx.deps.db;
const settings = () => ctx.deps.config;
const seller = async () => (await makeUser(ctx.deps, { role: 'merchant' })).id;
const add = (sellerUserId: string, at: string, feeCents: number, currency = 'USD', trx?: Knex.Transaction) => {
  const input = { sellerUserId, currency, description: `Platform fee: order ${feeCents}`, feeCents, at: new Date(at) };
  return trx ? addFeeLine(trx, input, settings()) : db().transaction((t) => addFeeLine(t, input, settings()));
};
const feeInvoice = (sellerUserId: string, month: string, suffix = '') =>
  db()('invoices').where({ issuer_key: 'platform', source_kind: 'fees', source_id: feeInvoiceSourceId(sellerUserId, month) + suffix }).first();
const linesOf = async (invoiceId: string) => (await db()('invoice_lines').where({ invoice_id: invoiceId }).orderBy('position')).map((l) => [l.position, l.unit_amount_cents, l.tax_cents]);

/** Resolves once some session of this database waits on a lock (the racing statement has reached the row). */
const someoneWaitsOnALock = () =>
  eventually(async () => Number((await db().raw(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n) > 0, 10_000, 'a lock wait', 20);

describe('fee invoices', () => {
  it('a draft per month grows by one line per fee with the platform’s tax on top; the close finalizes ended months only; a late line goes to the next open month', async () => {
    const s = await seller();
    await add(s, '2026-10-03T10:00:00Z', 62);
    await add(s, '2026-10-31T23:59:59.999Z', 250);
    await add(s, '2026-10-15T00:00:00Z', 39);
    await add(s, '2026-11-01T00:00:00Z', 500);
    const oct = await feeInvoice(s, '2026-10');
    expect(oct).toMatchObject({ status: 'draft', issuer_kind: 'platform', customer_user_id: s, currency: 'USD', subtotal_cents: 351, tax_cents: 12 + 50 + 8, total_cents: 421 });
    expect(await linesOf(oct.id)).toEqual([
      [1, 62, 12], // 12.4
      [2, 250, 50],
      [3, 39, 8], // 7.8
    ]);
    expect(await feeInvoice(s, '2026-11')).toMatchObject({ status: 'draft', subtotal_cents: 500, tax_cents: 100 });

    // Closing at the start of November: October is finalized (a platform number), November stays open.
    const closed = await closeFeeInvoices(db(), new Date('2026-11-01T00:00:00Z'));
    expect(closed.invoiceIds).toContain(oct.id);
    const octClosed = await feeInvoice(s, '2026-10');
    expect(octClosed).toMatchObject({ status: 'finalized', subtotal_cents: 351, total_cents: 421 });
    expect(octClosed.number).toMatch(/^PF-\d{6,}$/);
    expect((await feeInvoice(s, '2026-11')).status).toBe('draft');
    // Closing again finalizes nothing more of this seller's.
    expect((await closeFeeInvoices(db(), new Date('2026-11-01T00:00:00Z'))).invoiceIds).not.toContain(oct.id);

    // A fee earned in October but recorded now goes to November (the close is the watermark); October never changes.
    await add(s, '2026-10-20T12:00:00Z', 77);
    expect(await linesOf(octClosed.id)).toHaveLength(3);
    expect(await feeInvoice(s, '2026-11')).toMatchObject({ status: 'draft', subtotal_cents: 577 });
    // Both closed: the next late line goes to December.
    await closeFeeInvoices(db(), new Date('2026-12-01T00:00:00Z'));
    await add(s, '2026-10-21T12:00:00Z', 5);
    expect(await feeInvoice(s, '2026-12')).toMatchObject({ status: 'draft', subtotal_cents: 5, tax_cents: 1 });
    expect(nextFeeMonth('2026-12')).toBe('2027-01');
  });

  it('another currency in the same month is its own fee invoice', async () => {
    const s = await seller();
    await add(s, '2026-09-10T00:00:00Z', 100);
    await add(s, '2026-09-11T00:00:00Z', 200, 'EUR');
    await add(s, '2026-09-12T00:00:00Z', 300);
    expect(await feeInvoice(s, '2026-09')).toMatchObject({ currency: 'USD', subtotal_cents: 400 });
    expect(await feeInvoice(s, '2026-09', ':EUR')).toMatchObject({ currency: 'EUR', subtotal_cents: 200 });
  });
});

describe('a close racing a line', () => {
  it('a line first makes the close wait: the close then includes it', async () => {
    const s = await seller();
    await add(s, '2026-08-10T00:00:00Z', 100);
    const trx = await db().transaction();
    await add(s, '2026-08-20T00:00:00Z', 50, 'USD', trx);
    const closing = closeFeeInvoices(db(), new Date('2026-09-01T00:00:00Z'));
    await someoneWaitsOnALock();
    await trx.commit();
    await closing;
    const aug = await feeInvoice(s, '2026-08');
    expect(aug).toMatchObject({ status: 'finalized', subtotal_cents: 150, tax_cents: 30 });
    expect(await linesOf(aug.id)).toEqual([
      [1, 100, 20],
      [2, 50, 10],
    ]);
  });

  it('a close first makes the line wait: the line then goes to the next month', async () => {
    const s = await seller();
    await add(s, '2026-07-10T00:00:00Z', 100);
    const jul = await feeInvoice(s, '2026-07');
    const trx = await db().transaction();
    await finalizeInvoice(trx, jul.id);
    const adding = add(s, '2026-07-20T00:00:00Z', 50);
    await someoneWaitsOnALock();
    await trx.commit();
    await adding;
    expect(await feeInvoice(s, '2026-07')).toMatchObject({ status: 'finalized', subtotal_cents: 100 });
    expect(await linesOf(jul.id)).toEqual([[1, 100, 20]]);
    expect(await feeInvoice(s, '2026-08')).toMatchObject({ status: 'draft', subtotal_cents: 50 });
  });

  it('many lines and closes at once: every fee on exactly one invoice, every finalized invoice the sum of its lines', async () => {
    const s = await seller();
    const fees = Array.from({ length: 30 }, (_, i) => i + 1);
    await Promise.all([
      ...fees.map((f) => add(s, '2026-05-15T00:00:00Z', f)),
      closeFeeInvoices(db(), new Date('2026-06-01T00:00:00Z')),
      closeFeeInvoices(db(), new Date('2026-06-01T00:00:00Z')),
    ]);
    const invoices = await db()('invoices').where({ issuer_key: 'platform', source_kind: 'fees', customer_user_id: s });
    const lines = await db()('invoice_lines').whereIn('invoice_id', invoices.map((i) => i.id));
    expect(lines.map((l) => l.unit_amount_cents).sort((a, b) => a - b)).toEqual(fees);
    for (const i of invoices) {
      const own = lines.filter((l) => l.invoice_id === i.id);
      expect(i.subtotal_cents).toBe(own.reduce((sum, l) => sum + Number(l.amount_cents), 0));
      expect(i.tax_cents).toBe(own.reduce((sum, l) => sum + Number(l.tax_cents), 0));
    }
    // May holds what came before its close; the rest went to June, still open.
    expect(invoices.map((i) => i.source_id).sort()).toEqual(
      invoices.length === 1 ? [feeInvoiceSourceId(s, '2026-05')] : [feeInvoiceSourceId(s, '2026-05'), feeInvoiceSourceId(s, '2026-06')],
    );
    await closeFeeInvoices(db(), new Date('2026-06-01T00:00:00Z'));
    expect((await feeInvoice(s, '2026-05')).status).toBe('finalized');
  });
});

describe('workflow closeFeeInvoices', () => {
  it('finalizes the drafts of the months ended before its `before`, on a real worker', async () => {
    const s = await seller();
    await add(s, '2026-03-10T00:00:00Z', 120);
    await add(s, '2026-04-10T00:00:00Z', 80);
    const client = await ctx.deps.temporal.client();
    const result = await client.workflow.execute(CLOSE_FEE_INVOICES_WORKFLOW, {
      taskQueue: ctx.deps.config.TASK_QUEUE,
      workflowId: `close-fee-invoices-test-${s}`,
      args: [{ before: '2026-04-01T00:00:00Z' }],
    });
    expect(result).toMatchObject({ before: '2026-04-01T00:00:00Z' });
    expect((result as { finalized: number }).finalized).toBeGreaterThanOrEqual(1);
    expect((await feeInvoice(s, '2026-03')).status).toBe('finalized');
    expect((await feeInvoice(s, '2026-04')).status).toBe('draft');
  });
});
