import { randomUUID } from 'node:crypto';
import supertest from 'supertest';
import { createApp } from '../../src/api/app';
import { renderInvoicePdf } from '../../src/billing/invoicePdf';
import { invoiceView } from '../../src/billing/invoiceViews';
import { refundCharge, resumeCreditNote } from '../../src/billing/refunds';
import { hotStockKey } from '../../src/commerce/hotStock';
import { DomainError } from '../../src/domain/errors';
import { PaymentRequestError } from '../../src/payments/gateway';
import { createTestContext, startTestWorker, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { createStore, createVariant, inventoryOf } from '../commerce/fixtures';
import { chargedBooking, chargedOrder, gatewayMoney, withRefund } from './refundFixtures';

/**
 * Partial refunds and credit notes with real Postgres, Redis, Temporal (the checkout) and the simulated gateway:
 * refunds adding up to the charge and never beyond it (also under a race of many at once, and against raw SQL),
 * the credit note's number and tax, idempotent retries, a provider that does not answer or refuses, restocking
 * returned units, the order cancellation refunding what is left, who may refund, and bad requests.
 */

const operatorEmail = uniqueEmail('operator');
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let owner: TestUser;
let operator: TestUser;
let storeId: string;

beforeAll(async () => {
  ctx = createTestContext(testConfig({ OPERATOR_EMAILS: operatorEmail }));
  worker = await startTestWorker(ctx.deps);
  owner = await makeUser(ctx.deps, { role: 'merchant' });
  operator = await makeUser(ctx.deps, { email: operatorEmail });
  storeId = await createStore(ctx, owner, 'Refunds');
});
afterAll(async () => {
  await worker.stop();
  await ctx.close();
});

const db = () => ctx.deps.db;
const refundOrder = (orderId: string, body: object, auth = owner.auth, key: string = randomUUID(), http = ctx.http) =>
  http.post(`/v1/orders/${orderId}/refunds`).set('Authorization', auth).set('Idempotency-Key', key).send(body);
const refundBooking = (bookingId: string, body: object, auth: string, key: string = randomUUID()) =>
  ctx.http.post(`/v1/bookings/${bookingId}/refunds`).set('Authorization', auth).set('Idempotency-Key', key).send(body);

async function chargeOf(kind: 'order' | 'booking', id: string) {
  const c = await db()('seller_charges').where({ source_kind: kind, source_id: id }).first();
  return { ...c, captured_cents: Number(c.captured_cents), refunded_cents: Number(c.refunded_cents), fee_cents: Number(c.fee_cents) };
}
async function notesOf(chargeId: string) {
  const rows = await db()('credit_notes').where({ charge_id: chargeId }).orderBy('created_at').orderBy('number');
  return rows.map((r: Record<string, unknown>) => ({ ...r, amount_cents: Number(r.amount_cents), tax_cents: Number(r.tax_cents) })) as Array<Record<string, unknown> & { amount_cents: number; tax_cents: number; status: string; number: string; id: string }>;
}
async function refundEntries(chargeId: string) {
  const rows = (await db()('balance_entries').where({ charge_id: chargeId }).whereIn('kind', ['refund', 'refund_reversal']).orderBy('id').select('kind', 'amount_cents', 'available_at')) as Array<{ kind: string; amount_cents: string; available_at: Date }>;
  return rows.map((r) => ({ kind: r.kind, amount_cents: Number(r.amount_cents), available_at: r.available_at }));
}
async function ledgerRefunds(chargeId: string) {
  const rows = (await db()('ledger_transactions').where({ seller_charge_id: chargeId, kind: 'refund' }).select('amount_cents', 'credit_note_id', 'provider_id')) as Array<{ amount_cents: string; credit_note_id: string; provider_id: string }>;
  return rows.map((r) => ({ amount_cents: Number(r.amount_cents), credit_note_id: r.credit_note_id, provider_id: r.provider_id }));
}
const sum = (xs: Array<{ amount_cents: number }>) => xs.reduce((s, x) => s + x.amount_cents, 0);

describe('partial refunds', () => {
  it('add up to the charge, each a numbered credit note with its balance entry and ledger line; one more beyond the remainder is 422 and changes nothing', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 2_000);
    const order = await chargedOrder(ctx, storeId, [[v, 3]]);
    expect(order.totalCents).toBe(6_000);
    const charge = await chargeOf('order', order.id);
    expect(charge.captured_cents).toBe(6_000);

    const first = await refundOrder(order.id, { amount_cents: 1_500, reason: 'Scratched' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ invoice_id: charge.invoice_id, amount_cents: 1_500, tax_cents: 0, reason: 'Scratched', status: 'succeeded', currency: 'EUR' });
    const prefix = owner.id.replace(/-/g, '').slice(0, 8).toUpperCase();
    expect(first.body.number).toMatch(new RegExp(`^${prefix}-CN-\\d{6}$`));
    const second = await refundOrder(order.id, { amount_cents: 2_500, reason: 'Late delivery' });
    expect(second.status).toBe(201);
    // Gapless per issuer: the next credit note takes the next number.
    expect(Number(second.body.number.slice(-6))).toBe(Number(first.body.number.slice(-6)) + 1);

    expect((await chargeOf('order', order.id)).refunded_cents).toBe(4_000);
    const before = { notes: await notesOf(charge.id), entries: await refundEntries(charge.id), gateway: await gatewayMoney(ctx.deps, order.paymentKey) };
    expect(before.gateway).toMatchObject({ captured: 6_000, refunded: 4_000 });
    expect(before.entries.map((e) => [e.kind, e.amount_cents])).toEqual([['refund', -1_500], ['refund', -2_500]]);
    // Available at once (a refund debits the available balance, even after a payout).
    for (const e of before.entries) expect(e.available_at.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    expect((await ledgerRefunds(charge.id)).map((l) => l.amount_cents).sort()).toEqual([1_500, 2_500]);

    const over = await refundOrder(order.id, { amount_cents: 2_001, reason: 'Too much' });
    expectProblem(over, 422, 'refund_exceeds_remaining');
    expect(over.body).toMatchObject({ remaining_cents: 2_000 });
    expect(await notesOf(charge.id)).toEqual(before.notes);
    expect(await refundEntries(charge.id)).toEqual(before.entries);
    expect(await gatewayMoney(ctx.deps, order.paymentKey)).toEqual(before.gateway);
    expect((await chargeOf('order', order.id)).refunded_cents).toBe(4_000);

    // Exactly the remainder is fine; then nothing is left.
    expect((await refundOrder(order.id, { amount_cents: 2_000, reason: 'Rest' })).status).toBe(201);
    expectProblem(await refundOrder(order.id, { amount_cents: 1, reason: 'One more' }), 422, 'refund_exceeds_remaining');
    expect(await gatewayMoney(ctx.deps, order.paymentKey)).toMatchObject({ captured: 6_000, refunded: 6_000 });
    // The platform fee is not refunded: the seller bears it; the fee entry stands.
    const fee = await db()('balance_entries').where({ charge_id: charge.id, kind: 'platform_fee' }).select('amount_cents');
    expect(fee.map((f: { amount_cents: string }) => Number(f.amount_cents))).toEqual(charge.fee_cents > 0 ? [-charge.fee_cents] : []);
  });

  it('credit notes take the receipt’s tax in proportion (half-even), the last one what is left; the invoice lists them and so does its PDF', async () => {
    // 10,000 net + 20 % = 12,000 captured, 2,000 of it tax.
    const b = await chargedBooking(ctx.deps, 10_000, 2_000);
    const provider = b.scene.provider.owner;
    const a = await refundBooking(b.id, { amount_cents: 3_000, reason: 'Half an hour late' }, provider.auth);
    expect(a.status).toBe(201);
    expect(a.body.tax_cents).toBe(500); // 3,000 × 2,000 / 12,000
    const c = await refundBooking(b.id, { amount_cents: 4_001, reason: 'Parts missing' }, operator.auth);
    expect(c.status).toBe(201);
    expect(c.body.tax_cents).toBe(667); // 666.83 → 667
    const last = await refundBooking(b.id, { amount_cents: 4_999, reason: 'Cancelled the rest' }, provider.auth);
    expect(last.status).toBe(201);
    expect(last.body.tax_cents).toBe(2_000 - 500 - 667); // the rest: the notes add up to the receipt's tax

    const invoice = (await ctx.http.get(`/v1/invoices/${a.body.invoice_id}`).set('Authorization', b.customer.auth)).body;
    expect(invoice.credit_notes.map((n: { number: string; amount_cents: number; tax_cents: number }) => [n.amount_cents, n.tax_cents])).toEqual([
      [3_000, 500],
      [4_001, 667],
      [4_999, 833],
    ]);
    expect(invoice.credit_notes[0]).toEqual(a.body);
    // The invoice itself never changed.
    expect(invoice).toMatchObject({ total_cents: 12_000, tax_cents: 2_000, status: 'finalized' });
    // The PDF lists them (pdfkit writes text hex-encoded and splits kerned runs: look for unkerned words).
    const pdf = (await renderInvoicePdf((await invoiceView(db(), a.body.invoice_id))!, { compress: false })).toString('latin1');
    const shown = [...pdf.matchAll(/\[([^\]]*)\] TJ/g)].map((m) => [...m[1]!.matchAll(/<([0-9a-f]+)>/g)].map((h) => h[1]).join('')).join('|');
    const hex = (text: string) => Buffer.from(text.replace(/€/g, '\x80'), 'latin1').toString('hex');
    for (const text of [a.body.number, last.body.number, 'missing', '€40.01', '€8.33']) expect(shown).toContain(hex(text));
  });

  it('a race of 20 refunds of 30 % each never refunds more than was captured: 3 succeed, the rest are 422, the gateway and ledger agree', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 1_000);
    const order = await chargedOrder(ctx, storeId, [[v, 10]]);
    const charge = await chargeOf('order', order.id);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => refundOrder(order.id, { amount_cents: 3_000, reason: `Race ${i}` })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 422)).toHaveLength(17);
    for (const r of results.filter((x) => x.status === 422)) expect(r.body.code).toBe('refund_exceeds_remaining');

    const notes = await notesOf(charge.id);
    expect(notes.every((n) => n.status === 'succeeded')).toBe(true);
    expect(sum(notes)).toBe(9_000);
    expect(sum(notes)).toBeLessThanOrEqual(charge.captured_cents);
    expect((await chargeOf('order', order.id)).refunded_cents).toBe(sum(notes));
    const gateway = await gatewayMoney(ctx.deps, order.paymentKey);
    expect(gateway.refunded).toBe(sum(notes));
    expect(sum(gateway.refunds.map((r) => ({ amount_cents: r.amount })))).toBe(sum(notes));
    expect(sum(await ledgerRefunds(charge.id))).toBe(sum(notes));
    expect(sum(await refundEntries(charge.id))).toBe(-sum(notes));
    // Numbers: distinct and consecutive (the refused ones gave theirs back).
    const numbers = notes.map((n) => Number(n.number.slice(-6))).sort((x, y) => x - y);
    expect(numbers[2]! - numbers[0]!).toBe(2);
  });

  it('Postgres refuses refunded above captured whatever SQL tries', async () => {
    const b = await chargedBooking(ctx.deps, 5_000, 0);
    const charge = await chargeOf('booking', b.id);
    await expect(db()('seller_charges').where({ id: charge.id }).update({ refunded_cents: charge.captured_cents + 1 })).rejects.toMatchObject({
      code: '23514',
      constraint: 'seller_charges_refund_within_captured',
    });
    await expect(db().raw('UPDATE seller_charges SET refunded_cents = refunded_cents + captured_cents + 1 WHERE id = ?', [charge.id])).rejects.toMatchObject({ code: '23514' });
    expect((await chargeOf('booking', b.id)).refunded_cents).toBe(0);
  });
});

describe('idempotency', () => {
  it('the same key and body answer the same credit note (replayed); another body under the key is 422; a new key is a new refund', async () => {
    const b = await chargedBooking(ctx.deps, 8_000, 0);
    const provider = b.scene.provider.owner;
    const key = randomUUID();
    const first = await refundBooking(b.id, { amount_cents: 1_000, reason: 'Goodwill' }, provider.auth, key);
    expect(first.status).toBe(201);
    const again = await refundBooking(b.id, { amount_cents: 1_000, reason: 'Goodwill' }, provider.auth, key);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expectProblem(await refundBooking(b.id, { amount_cents: 2_000, reason: 'Goodwill' }, provider.auth, key), 422, 'idempotency_key_reused');
    const charge = await chargeOf('booking', b.id);
    expect(charge.refunded_cents).toBe(1_000);
    expect(await gatewayMoney(ctx.deps, b.paymentKey)).toMatchObject({ refunded: 1_000 });
    expect((await refundBooking(b.id, { amount_cents: 1_000, reason: 'Goodwill' }, provider.auth)).status).toBe(201);
    expect((await chargeOf('booking', b.id)).refunded_cents).toBe(2_000);
  });

  it('the service itself keeps one credit note per key (the API’s record gone): same request → same note, another → 422', async () => {
    const b = await chargedBooking(ctx.deps, 4_000, 0);
    const req = { source: { kind: 'booking' as const, id: b.id }, amountCents: 700, reason: 'Late', idempotencyKey: `test:${randomUUID()}`, actorUserId: null };
    const [x, y] = await Promise.all([refundCharge(ctx.deps, req), refundCharge(ctx.deps, req)]);
    expect(x!.id).toBe(y!.id);
    await expect(refundCharge(ctx.deps, { ...req, amountCents: 701 })).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect((await chargeOf('booking', b.id)).refunded_cents).toBe(700);
    expect(await gatewayMoney(ctx.deps, b.paymentKey)).toMatchObject({ refunded: 700 });
  });
});

describe('the provider', () => {
  it('does not answer: 503, the credit note stays pending with its amount reserved; the same key resumes and the money moves once', async () => {
    const b = await chargedBooking(ctx.deps, 6_000, 0);
    let down = true;
    const payments = withRefund(ctx.deps.payments, async (input, inner) => {
      if (down) {
        // The request reached the provider, the answer was lost: the retry must not refund twice.
        await inner.refund(input);
        throw new Error('socket hang up');
      }
      return inner.refund(input);
    });
    const http = supertest(createApp({ ...ctx.deps, payments }));
    const key = randomUUID();
    const body = { amount_cents: 2_500, reason: 'Broken part' };
    const provider = b.scene.provider.owner;
    const lost = await http.post(`/v1/bookings/${b.id}/refunds`).set('Authorization', provider.auth).set('Idempotency-Key', key).send(body);
    expectProblem(lost, 503, 'payment_provider_unavailable');
    expect(lost.headers['retry-after']).toBeDefined();
    const charge = await chargeOf('booking', b.id);
    expect(charge.refunded_cents).toBe(2_500); // reserved: nothing else can refund it meanwhile
    expect((await notesOf(charge.id)).map((n) => n.status)).toEqual(['pending']);
    expect(await refundEntries(charge.id)).toMatchObject([{ kind: 'refund', amount_cents: -2_500 }]);
    expectProblem(await http.post(`/v1/bookings/${b.id}/refunds`).set('Authorization', provider.auth).set('Idempotency-Key', randomUUID()).send({ ...body, amount_cents: 3_501 }), 422, 'refund_exceeds_remaining');

    down = false;
    const resumed = await http.post(`/v1/bookings/${b.id}/refunds`).set('Authorization', provider.auth).set('Idempotency-Key', key).send(body);
    expect(resumed.status).toBe(201);
    expect(resumed.body).toMatchObject({ status: 'succeeded', amount_cents: 2_500 });
    const gateway = await gatewayMoney(ctx.deps, b.paymentKey);
    expect(gateway.refunds.map((r) => r.amount)).toEqual([2_500]);
    expect(await ledgerRefunds(charge.id)).toEqual([{ amount_cents: 2_500, credit_note_id: resumed.body.id, provider_id: gateway.refunds[0]!.id }]);
    expect((await chargeOf('booking', b.id)).refunded_cents).toBe(2_500);
  });

  it('refuses: 502 refund_failed, the note failed, its amount back on the charge and the balance (a reversal entry); a new key refunds it', async () => {
    const b = await chargedBooking(ctx.deps, 6_000, 0);
    let refuse = true;
    const payments = withRefund(ctx.deps.payments, async (input, inner) => {
      if (refuse) throw new PaymentRequestError('The charge is disputed.', 'charge_disputed');
      return inner.refund(input);
    });
    const http = supertest(createApp({ ...ctx.deps, payments }));
    const provider = b.scene.provider.owner;
    const key = randomUUID();
    const body = { amount_cents: 6_000, reason: 'All of it' };
    const failed = await http.post(`/v1/bookings/${b.id}/refunds`).set('Authorization', provider.auth).set('Idempotency-Key', key).send(body);
    expectProblem(failed, 502, 'refund_failed');
    expect(failed.body).toMatchObject({ failure_code: 'charge_disputed' });
    const charge = await chargeOf('booking', b.id);
    expect(charge.refunded_cents).toBe(0);
    const [note] = await notesOf(charge.id);
    expect(note).toMatchObject({ id: failed.body.credit_note_id, status: 'failed', failure_code: 'charge_disputed' });
    expect(await refundEntries(charge.id)).toMatchObject([
      { kind: 'refund', amount_cents: -6_000 },
      { kind: 'refund_reversal', amount_cents: 6_000 },
    ]);
    // The same key is the same (failed) refund; the provider is not asked again.
    refuse = false;
    expectProblem(await http.post(`/v1/bookings/${b.id}/refunds`).set('Authorization', provider.auth).set('Idempotency-Key', key).send(body), 502, 'refund_failed');
    expect((await gatewayMoney(ctx.deps, b.paymentKey)).refunded).toBe(0);
    // The failed note's tax went back too: a new refund of everything takes all of it.
    const ok = await http.post(`/v1/bookings/${b.id}/refunds`).set('Authorization', provider.auth).set('Idempotency-Key', randomUUID()).send(body);
    expect(ok.status).toBe(201);
    expect((await gatewayMoney(ctx.deps, b.paymentKey)).refunded).toBe(6_000);
    expect((await chargeOf('booking', b.id)).refunded_cents).toBe(6_000);
    expect(sum(await refundEntries(charge.id))).toBe(-6_000);
  });

  it('a pending credit note is settled by resumeCreditNote (reconciliation), once', async () => {
    const b = await chargedBooking(ctx.deps, 3_000, 0);
    const lost = { ...ctx.deps, payments: withRefund(ctx.deps.payments, async () => Promise.reject(new Error('ETIMEDOUT'))) };
    await expect(refundCharge(lost, { source: { kind: 'booking', id: b.id }, amountCents: 1_000, reason: 'Late', idempotencyKey: 'k', actorUserId: null })).rejects.toBeInstanceOf(DomainError);
    const [note] = await notesOf((await chargeOf('booking', b.id)).id);
    expect(note!.status).toBe('pending');
    const [x, y] = await Promise.all([resumeCreditNote(ctx.deps, note!.id), resumeCreditNote(ctx.deps, note!.id)]);
    expect([x!.status, y!.status]).toEqual(['succeeded', 'succeeded']);
    expect((await gatewayMoney(ctx.deps, b.paymentKey)).refunds.map((r) => r.amount)).toEqual([1_000]);
    expect(await ledgerRefunds((await chargeOf('booking', b.id)).id)).toHaveLength(1);
  });
});

describe('restocking returned units', () => {
  it('puts the named units back on sale, never more than the order sold; the cancellation restocks only the rest', async () => {
    const v1 = await createVariant(ctx, owner, storeId, 10, 1_000);
    const v2 = await createVariant(ctx, owner, storeId, 10, 500);
    const order = await chargedOrder(ctx, storeId, [
      [v1, 3],
      [v2, 2],
    ]);
    expect(await inventoryOf(ctx, v1)).toMatchObject({ sold: 3 });
    const res = await refundOrder(order.id, { amount_cents: 2_000, reason: 'Returned two', items: [{ variant_id: v1, quantity: 2 }] });
    expect(res.status).toBe(201);
    expect(await inventoryOf(ctx, v1)).toEqual({ total_stock: 10, reserved: 0, sold: 1 });
    expect(await inventoryOf(ctx, v2)).toMatchObject({ sold: 2 });

    const charge = await chargeOf('order', order.id);
    const notesBefore = await notesOf(charge.id);
    const tooMany = await refundOrder(order.id, { amount_cents: 1_000, reason: 'Returned two more', items: [{ variant_id: v1, quantity: 2 }] });
    expectProblem(tooMany, 422, 'restock_exceeds_sold');
    expect(tooMany.body).toMatchObject({ variant_id: v1, restockable: 1 });
    const stranger = await createVariant(ctx, owner, storeId, 10);
    expectProblem(await refundOrder(order.id, { amount_cents: 100, reason: 'Not in it', items: [{ variant_id: stranger, quantity: 1 }] }), 422, 'restock_exceeds_sold');
    // Refused: nothing changed (no note, no money, no stock).
    expect(await notesOf(charge.id)).toEqual(notesBefore);
    expect((await chargeOf('order', order.id)).refunded_cents).toBe(2_000);
    expect(await inventoryOf(ctx, v1)).toMatchObject({ sold: 1 });

    // Cancelling refunds what is left (one credit note) and restocks only what the refund did not.
    const cancelled = await ctx.http.post(`/v1/orders/${order.id}/status`).set('Authorization', owner.auth).send({ status: 'cancelled', reason: 'customer asked' });
    expect(cancelled.status).toBe(200);
    expect(await inventoryOf(ctx, v1)).toEqual({ total_stock: 10, reserved: 0, sold: 0 });
    expect(await inventoryOf(ctx, v2)).toEqual({ total_stock: 10, reserved: 0, sold: 0 });
    const notes = await notesOf(charge.id);
    expect(notes.map((n) => [n.amount_cents, n.reason, n.status])).toEqual([
      [2_000, 'Returned two', 'succeeded'],
      [2_000, 'Order cancelled', 'succeeded'],
    ]);
    expect(await gatewayMoney(ctx.deps, order.paymentKey)).toMatchObject({ captured: 4_000, refunded: 4_000 });
    const lines = await db()('order_items').where({ order_id: order.id }).select('quantity', 'restocked_quantity');
    for (const l of lines) expect(l.restocked_quantity).toBe(l.quantity);
    // Postgres keeps the count within what was sold.
    await expect(db()('order_items').where({ order_id: order.id }).increment('restocked_quantity', 1)).rejects.toMatchObject({ code: '23514' });
  });

  it('gives a hot variant’s units back to its Redis counter', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 1_000);
    const order = await chargedOrder(ctx, storeId, [[v, 4]]);
    await db()('variants').where({ id: v }).update({ hot: true });
    await ctx.deps.redis.set(hotStockKey(v), 6, 'EX', 60);
    expect((await refundOrder(order.id, { amount_cents: 3_000, reason: 'Returned', items: [{ variant_id: v, quantity: 3 }] })).status).toBe(201);
    expect(Number(await ctx.deps.redis.get(hotStockKey(v)))).toBe(9);
    expect(await inventoryOf(ctx, v)).toMatchObject({ sold: 1 });
  });
});

describe('cancelling an order refunds everything', () => {
  it('after capture: one credit note "Order cancelled" for the whole charge; cancelling again is 409 and refunds nothing', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 2_000);
    const order = await chargedOrder(ctx, storeId, [[v, 2]]);
    const res = await ctx.http.post(`/v1/orders/${order.id}/status`).set('Authorization', owner.auth).send({ status: 'cancelled' });
    expect(res.status).toBe(200);
    const charge = await chargeOf('order', order.id);
    expect(charge.refunded_cents).toBe(4_000);
    const notes = await notesOf(charge.id);
    expect(notes.map((n) => [n.amount_cents, n.reason, n.status, n.created_by])).toEqual([[4_000, 'Order cancelled', 'succeeded', owner.id]]);
    expect(await gatewayMoney(ctx.deps, order.paymentKey)).toMatchObject({ refunded: 4_000 });
    expectProblem(await ctx.http.post(`/v1/orders/${order.id}/status`).set('Authorization', owner.auth).send({ status: 'cancelled' }), 409, 'illegal_transition');
    expect(await notesOf(charge.id)).toHaveLength(1);
    expectProblem(await refundOrder(order.id, { amount_cents: 1, reason: 'After' }), 422, 'refund_exceeds_remaining');
  });

  it('racing partial refunds: the cancellation refunds exactly what they left, the total is the charge, never more', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 1_000);
    const order = await chargedOrder(ctx, storeId, [[v, 10]]);
    const [cancel, ...partials] = await Promise.all([
      ctx.http.post(`/v1/orders/${order.id}/status`).set('Authorization', owner.auth).send({ status: 'cancelled' }),
      ...Array.from({ length: 6 }, (_, i) => refundOrder(order.id, { amount_cents: 3_000, reason: `Partial ${i}` })),
    ]);
    expect(cancel!.status).toBe(200);
    for (const p of partials) expect([201, 422]).toContain(p.status);
    const charge = await chargeOf('order', order.id);
    const notes = await notesOf(charge.id);
    expect(notes.every((n) => n.status === 'succeeded')).toBe(true);
    expect(notes.filter((n) => n.reason === 'Order cancelled').length).toBeLessThanOrEqual(1);
    expect(sum(notes)).toBe(10_000);
    expect(charge.refunded_cents).toBe(10_000);
    expect(await gatewayMoney(ctx.deps, order.paymentKey)).toMatchObject({ captured: 10_000, refunded: 10_000 });
    expect(await inventoryOf(ctx, v)).toMatchObject({ sold: 0 });
  });

  it('a refused cancellation refund leaves the order as it was; cancelling again tries anew and succeeds', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 1_500);
    const order = await chargedOrder(ctx, storeId, [[v, 2]]);
    let refuse = true;
    const payments = withRefund(ctx.deps.payments, async (input, inner) => {
      if (refuse) throw new PaymentRequestError('Try later.', 'processing_error');
      return inner.refund(input);
    });
    const http = supertest(createApp({ ...ctx.deps, payments }));
    const cancel = () => http.post(`/v1/orders/${order.id}/status`).set('Authorization', owner.auth).send({ status: 'cancelled' });
    expectProblem(await cancel(), 502, 'refund_failed');
    expect((await db()('orders').where({ id: order.id }).first('status', 'cancelling_since'))).toEqual({ status: 'confirmed', cancelling_since: null });
    expect(await inventoryOf(ctx, v)).toMatchObject({ sold: 2 });
    refuse = false;
    expect((await cancel()).status).toBe(200);
    const charge = await chargeOf('order', order.id);
    expect((await notesOf(charge.id)).map((n) => n.status)).toEqual(['failed', 'succeeded']);
    expect(charge.refunded_cents).toBe(3_000);
    expect(await gatewayMoney(ctx.deps, order.paymentKey)).toMatchObject({ refunded: 3_000 });
    expect(await inventoryOf(ctx, v)).toMatchObject({ sold: 0 });
  });
});

describe('who may refund, and bad requests', () => {
  it('the seller or an operator; another merchant, the shopper and unknown ids get 404; nothing charged is 409', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 1_000);
    const order = await chargedOrder(ctx, storeId, [[v, 1]]);
    const other = await makeUser(ctx.deps, { role: 'merchant' });
    expectProblem(await refundOrder(order.id, { amount_cents: 100, reason: 'x' }, other.auth), 404, 'not_found');
    expectProblem(await refundOrder(order.id, { amount_cents: 100, reason: 'x' }, order.shopper.auth), 404, 'not_found');
    expectProblem(await refundOrder(randomUUID(), { amount_cents: 100, reason: 'x' }), 404, 'not_found');
    expect((await chargeOf('order', order.id)).refunded_cents).toBe(0);
    expect((await refundOrder(order.id, { amount_cents: 100, reason: 'By the operator' }, operator.auth)).status).toBe(201);

    const b = await chargedBooking(ctx.deps, 2_000, 0);
    expectProblem(await refundBooking(b.id, { amount_cents: 100, reason: 'x' }, owner.auth), 404, 'not_found');
    expectProblem(await refundBooking(b.id, { amount_cents: 100, reason: 'x' }, b.customer.auth), 404, 'not_found');
    const unpaid = await chargedBooking(ctx.deps, 2_000, 0, false);
    expectProblem(await refundBooking(unpaid.id, { amount_cents: 100, reason: 'x' }, unpaid.scene.provider.owner.auth), 409, 'not_refundable');
    expect((await ctx.http.post(`/v1/orders/${order.id}/refunds`).set('Idempotency-Key', randomUUID()).send({ amount_cents: 1, reason: 'x' })).status).toBe(401);
  });

  it('bad bodies and a missing Idempotency-Key are 400 and change nothing', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 1_000);
    const order = await chargedOrder(ctx, storeId, [[v, 1]]);
    for (const body of [
      {},
      { amount_cents: 0, reason: 'x' },
      { amount_cents: -5, reason: 'x' },
      { amount_cents: 1.5, reason: 'x' },
      { amount_cents: '100', reason: 'x' },
      { amount_cents: 100 },
      { amount_cents: 100, reason: '   ' },
      { amount_cents: 100, reason: 'x'.repeat(501) },
      { amount_cents: 100, reason: 'a\u0000b' },
      { amount_cents: 100, reason: 'x', extra: true },
      { amount_cents: 100, reason: 'x', items: [] },
      { amount_cents: 100, reason: 'x', items: [{ variant_id: 'nope', quantity: 1 }] },
      { amount_cents: 100, reason: 'x', items: [{ variant_id: v, quantity: 0 }] },
    ]) {
      expectProblem(await refundOrder(order.id, body), 400, 'validation_failed');
    }
    expectProblem(await ctx.http.post(`/v1/orders/${order.id}/refunds`).set('Authorization', owner.auth).send({ amount_cents: 100, reason: 'x' }), 400, 'idempotency_key_required');
    expectProblem(await ctx.http.post(`/v1/orders/not-a-uuid/refunds`).set('Authorization', owner.auth).set('Idempotency-Key', randomUUID()).send({ amount_cents: 100, reason: 'x' }), 400, 'validation_failed');
    const b = await chargedBooking(ctx.deps, 2_000, 0);
    expectProblem(await refundBooking(b.id, { amount_cents: 100, reason: 'x', items: [{ variant_id: v, quantity: 1 }] }, b.scene.provider.owner.auth), 400, 'validation_failed');
    // The service checks the same for callers other than the routes.
    const base = { source: { kind: 'booking' as const, id: b.id }, amountCents: 100, reason: 'x', idempotencyKey: randomUUID(), actorUserId: null };
    for (const bad of [{ amountCents: 0 }, { amountCents: 1.5 }, { reason: ' ' }, { restock: [{ variant_id: v, quantity: 1 }] }]) {
      await expect(refundCharge(ctx.deps, { ...base, ...bad })).rejects.toMatchObject({ kind: 'invalid', code: 'validation_failed' });
    }
    expect((await chargeOf('booking', b.id)).refunded_cents).toBe(0);
    expect((await chargeOf('order', order.id)).refunded_cents).toBe(0);
    expect(await db()('credit_notes').where({ charge_id: (await chargeOf('order', order.id)).id })).toHaveLength(0);
  });
});
