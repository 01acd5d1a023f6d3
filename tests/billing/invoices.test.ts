import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { loadConfig } from '../../src/config';
import type { InvoiceIssuer } from '../../src/billing/contract';
import { createDraftInvoice, finalizeInvoice, invoiceLines, issueInvoice, voidInvoice } from '../../src/billing/invoices';
import { renderInvoicePdf } from '../../src/billing/invoicePdf';
import { invoiceView } from '../../src/billing/invoiceViews';
import { DomainError } from '../../src/domain/errors';
import { lineAmounts } from '../../src/domain/invoiceMath';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';

/**
 * Invoices with real Postgres: drafts (tax from TAX_RATES_BPS, one invoice per charge), the database keeping a
 * finalized invoice frozen whatever SQL tries, voiding, and the routes (who may see what, the PDF, bad ids).
 */

const operatorEmail = uniqueEmail('operator');
let ctx: TestContext;
let operator: TestUser;
let buyer: TestUser;
let seller: TestUser;
let stranger: TestUser;
const settings = () => ({ TAX_RATES_BPS: { default: 1_900, platform: 2_000, [seller.id]: 700 } });

beforeAll(async () => {
  ctx = createTestContext(testConfig({ OPERATOR_EMAILS: operatorEmail }));
  operator = await makeUser(ctx.deps, { email: operatorEmail });
  buyer = await makeUser(ctx.deps, { name: 'Bea Buyer' });
  seller = await makeUser(ctx.deps, { role: 'merchant', name: 'Sam Seller' });
  stranger = await makeUser(ctx.deps, { role: 'merchant' });
});
afterAll(() => ctx.close());

const sellerIssuer = (): InvoiceIssuer => ({ kind: 'seller', userId: seller.id });
const draftInput = (over: Partial<Parameters<typeof createDraftInvoice>[1]> = {}) => ({
  issuer: sellerIssuer(),
  customerUserId: buyer.id,
  currency: 'eur',
  source: { kind: 'order' as const, id: randomUUID() },
  lines: [
    { description: 'Blue mug', quantity: 3, unitAmountCents: 1_250 },
    { description: 'Shipping', quantity: 1, unitAmountCents: 499 },
  ],
  ...over,
});
const db = () => ctx.deps.db;
const frozen = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: 'PF013' });

describe('TAX_RATES_BPS', () => {
  it('parses default, platform and per-seller rates; refuses malformed entries at start-up', () => {
    const id = randomUUID();
    expect(loadConfig({ TAX_RATES_BPS: `default=1900, platform=2000,${id.toUpperCase()}=700` }).TAX_RATES_BPS).toEqual({ default: 1_900, platform: 2_000, [id]: 700 });
    expect(loadConfig({}).TAX_RATES_BPS).toEqual({ default: 0 });
    for (const bad of ['default=10001', 'default=19%', 'seller=700', 'default=1,default=2', 'default=-1', `${id}=1.5`]) {
      expect(() => loadConfig({ TAX_RATES_BPS: bad })).toThrow(/TAX_RATES_BPS/);
    }
  });
});

describe('drafts', () => {
  it('computes lines and totals at the issuer’s rate (a seller’s own, the platform’s, the default)', async () => {
    const own = await createDraftInvoice(db(), draftInput(), settings());
    expect(own).toMatchObject({ status: 'draft', number: null, currency: 'EUR', subtotal_cents: 4_249, tax_cents: 262 + 35, total_cents: 4_546, issuer_key: seller.id });
    expect(await invoiceLines(db(), own.id)).toMatchObject([
      { position: 1, quantity: 3, unit_amount_cents: 1_250, amount_cents: 3_750, tax_rate_bps: 700, tax_cents: 262 }, // 262.5 → 262 (even)
      { position: 2, quantity: 1, unit_amount_cents: 499, amount_cents: 499, tax_rate_bps: 700, tax_cents: 35 }, // 34.93 → 35
    ]);
    const platform = await createDraftInvoice(db(), draftInput({ issuer: { kind: 'platform' }, source: { kind: 'fees', id: randomUUID() } }), settings());
    expect(platform).toMatchObject({ issuer_kind: 'platform', issuer_user_id: null, issuer_key: 'platform', tax_cents: 750 + 100 }); // 99.8 → 100
    const other = await createDraftInvoice(db(), draftInput({ issuer: { kind: 'seller', userId: stranger.id } }), settings());
    expect(other.tax_cents).toBe(712 + 95); // the default 19 %: 712.5 → 712 (even); 94.81 → 95
  });

  it('one charge is invoiced once: createDraft twice, or concurrently, returns the one invoice with its lines once', async () => {
    const input = draftInput();
    const results = await Promise.all(Array.from({ length: 5 }, () => createDraftInvoice(db(), input, settings())));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(await db()('invoices').where({ source_kind: 'order', source_id: input.source.id })).toHaveLength(1);
    expect(await invoiceLines(db(), results[0]!.id)).toHaveLength(2);
    await expect(createDraftInvoice(db(), { ...input, customerUserId: stranger.id }, settings())).rejects.toMatchObject({ code: 'invoice_source_mismatch' });
  });

  it('refuses bad input as validation_failed (no lines, zero quantity, fractional cents, bad currency)', async () => {
    for (const over of [{ lines: [] }, { lines: [{ description: 'x', quantity: 0, unitAmountCents: 1 }] }, { lines: [{ description: 'x', quantity: 1, unitAmountCents: 1.5 }] }, { currency: 'EURO' }]) {
      await expect(createDraftInvoice(db(), draftInput(over), settings())).rejects.toMatchObject({ code: 'validation_failed' });
    }
  });

  it('Postgres recomputes every line’s half-even tax and agrees with src/domain/invoiceMath.ts', async () => {
    const samples = fc.sample(fc.tuple(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000 })), 300);
    const { rows } = (await db().raw(
      `SELECT q, u, r, div(q::numeric * u * r, 10000) + CASE WHEN 2 * mod(q::numeric * u * r, 10000) > 10000 THEN 1
         WHEN 2 * mod(q::numeric * u * r, 10000) = 10000 AND mod(div(q::numeric * u * r, 10000), 2) = 1 THEN 1 ELSE 0 END AS tax
       FROM unnest(?::int[], ?::bigint[], ?::int[]) AS s(q, u, r)`,
      [samples.map((s) => s[0]), samples.map((s) => s[1]), samples.map((s) => s[2])],
    )) as { rows: Array<{ q: number; u: number; r: number; tax: string }> };
    for (const row of rows) expect(Number(row.tax)).toBe(lineAmounts(row.q, row.u, row.r).tax_cents);
    // and the table's CHECK refuses a line whose tax is rounded otherwise (262.5 up instead of to even)
    const d = await createDraftInvoice(db(), draftInput(), settings());
    await expect(
      db()('invoice_lines').insert({ invoice_id: d.id, position: 3, description: 'x', quantity: 3, unit_amount_cents: 1_250, amount_cents: 3_750, tax_rate_bps: 700, tax_cents: 263 }),
    ).rejects.toMatchObject({ code: '23514' });
  });

  it('finalization refuses totals that are not the sums of the lines (written around the service)', async () => {
    const d = await createDraftInvoice(db(), draftInput(), settings());
    await db()('invoices').where({ id: d.id }).update({ subtotal_cents: 1, tax_cents: 0, total_cents: 1 });
    await expect(finalizeInvoice(db(), d.id)).rejects.toMatchObject({ code: '23514' });
  });
});

describe('a finalized invoice never changes', () => {
  let id: string;
  beforeEach(async () => {
    id = (await issueInvoice(db(), draftInput(), settings())).id;
  });

  it('refuses raw SQL updates of totals, number, currency, customer and issued_at', async () => {
    await frozen(db().raw('UPDATE invoices SET subtotal_cents = subtotal_cents + 1, total_cents = total_cents + 1 WHERE id = ?', [id]));
    await frozen(db().raw(`UPDATE invoices SET number = 'X-1' WHERE id = ?`, [id]));
    await frozen(db().raw(`UPDATE invoices SET currency = 'USD' WHERE id = ?`, [id]));
    await frozen(db().raw('UPDATE invoices SET customer_user_id = ? WHERE id = ?', [stranger.id, id]));
    await frozen(db().raw('UPDATE invoices SET issued_at = now() - interval \'1 day\' WHERE id = ?', [id]));
    await frozen(db().raw(`UPDATE invoices SET status = 'draft', number = NULL, issued_at = NULL WHERE id = ?`, [id]));
    await frozen(db().raw('DELETE FROM invoices WHERE id = ?', [id]));
  });

  it('refuses updates, deletes and inserts of its lines', async () => {
    await frozen(db().raw('UPDATE invoice_lines SET description = ? WHERE invoice_id = ?', ['changed', id]));
    await frozen(db().raw('UPDATE invoice_lines SET quantity = 1, amount_cents = 1250, tax_cents = 88 WHERE invoice_id = ? AND position = 1', [id]));
    await frozen(db().raw('DELETE FROM invoice_lines WHERE invoice_id = ? AND position = 2', [id]));
    await frozen(db()('invoice_lines').insert({ invoice_id: id, position: 3, description: 'extra', quantity: 1, unit_amount_cents: 0, amount_cents: 0, tax_rate_bps: 0, tax_cents: 0 }));
    expect(await invoiceLines(db(), id)).toHaveLength(2);
  });

  it('may be voided (keeping its number), and is frozen again as void', async () => {
    const before = await db()('invoices').where({ id }).first();
    const voided = await voidInvoice(db(), id);
    expect(voided).toMatchObject({ status: 'void', number: before.number, total_cents: before.total_cents });
    expect(voided.voided_at).toBeInstanceOf(Date);
    expect((await voidInvoice(db(), id)).voided_at).toEqual(voided.voided_at);
    await frozen(db().raw(`UPDATE invoices SET status = 'finalized', voided_at = NULL WHERE id = ?`, [id]));
    await frozen(db().raw('DELETE FROM invoice_lines WHERE invoice_id = ?', [id]));
    await frozen(db().raw('UPDATE invoices SET voided_at = now() WHERE id = ?', [id]));
  });

  it('a draft cannot be voided (409 invoice_not_finalized); a draft’s lines may still change and it may be deleted', async () => {
    const d = await createDraftInvoice(db(), draftInput(), settings());
    await expect(voidInvoice(db(), d.id)).rejects.toMatchObject({ kind: 'conflict', code: 'invoice_not_finalized' });
    await expect(voidInvoice(db(), randomUUID())).rejects.toBeInstanceOf(DomainError);
    await db()('invoice_lines').where({ invoice_id: d.id, position: 2 }).update({ description: 'Express shipping' });
    await db()('invoices').where({ id: d.id }).delete();
    expect(await db()('invoice_lines').where({ invoice_id: d.id })).toHaveLength(0);
  });
});

describe('a line racing a finalization', () => {
  const extraLine = (invoiceId: string) => ({ invoice_id: invoiceId, position: 3, description: 'late line', quantity: 1, unit_amount_cents: 100, amount_cents: 100, tax_rate_bps: 0, tax_cents: 0 });
  const settled = async (p: Promise<unknown>) => {
    let done = false;
    p.then(() => (done = true), () => (done = true));
    await new Promise((r) => setTimeout(r, 300));
    return done;
  };

  it('a line written first makes the finalization wait, which then refuses totals that miss it', async () => {
    const d = await createDraftInvoice(db(), draftInput(), settings());
    const writer = await db().transaction();
    await writer('invoice_lines').insert(extraLine(d.id));
    const finalizing = finalizeInvoice(db(), d.id);
    expect(await settled(finalizing)).toBe(false); // waiting for the writer
    await writer.commit();
    await expect(finalizing).rejects.toMatchObject({ code: '23514' });
    expect(await db()('invoices').where({ id: d.id }).first()).toMatchObject({ status: 'draft', number: null });
  });

  it('a finalization first makes the line wait, which is then refused (PF013)', async () => {
    const d = await createDraftInvoice(db(), draftInput(), settings());
    const finalizer = await db().transaction();
    await finalizeInvoice(finalizer, d.id);
    const writing = db()('invoice_lines').insert(extraLine(d.id));
    const write = writing.then((r) => r); // start the query now
    expect(await settled(write)).toBe(false); // waiting for the finalizer
    await finalizer.commit();
    await expect(write).rejects.toMatchObject({ code: 'PF013' });
    expect(await invoiceLines(db(), d.id)).toHaveLength(2);
  });
});

describe('routes', () => {
  const get = (path: string, who: TestUser) => ctx.http.get(path).set('Authorization', who.auth);

  it('GET /v1/invoices/{id}: buyer, issuer and operator 200; anyone else 404; bad ids 400', async () => {
    const inv = await issueInvoice(db(), draftInput(), settings());
    for (const who of [buyer, seller, operator]) {
      const res = await get(`/v1/invoices/${inv.id}`, who);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: inv.id,
        number: inv.number,
        issuer: { kind: 'seller', user_id: seller.id, name: 'Sam Seller' },
        customer: { user_id: buyer.id, name: 'Bea Buyer' },
        status: 'finalized',
        lines: [
          { description: 'Blue mug', quantity: 3, unit_amount_cents: 1_250, amount_cents: 3_750, tax_cents: 262 },
          { description: 'Shipping', quantity: 1, unit_amount_cents: 499, amount_cents: 499, tax_cents: 35 },
        ],
        subtotal_cents: 4_249,
        tax_cents: 297,
        total_cents: 4_546,
        currency: 'EUR',
        issued_at: inv.issued_at!.toISOString(),
        created_at: inv.created_at.toISOString(),
        voided_at: null,
        credit_notes: [],
      });
    }
    expectProblem(await get(`/v1/invoices/${inv.id}`, stranger), 404, 'not_found');
    expectProblem(await get(`/v1/invoices/${randomUUID()}`, operator), 404, 'not_found');
    expectProblem(await get('/v1/invoices/not-a-uuid', buyer), 400, 'validation_failed');
    expectProblem(await get('/v1/invoices/not-a-uuid/pdf', buyer), 400, 'validation_failed');
    expect((await ctx.http.get(`/v1/invoices/${inv.id}`)).status).toBe(401);
  });

  it('a draft is shown to its issuer and operators, not to its buyer (JSON and PDF)', async () => {
    const d = await createDraftInvoice(db(), draftInput(), settings());
    expect((await get(`/v1/invoices/${d.id}`, seller)).body).toMatchObject({ status: 'draft', number: null, issued_at: null });
    expect((await get(`/v1/invoices/${d.id}`, operator)).status).toBe(200);
    expectProblem(await get(`/v1/invoices/${d.id}`, buyer), 404, 'not_found');
    expectProblem(await get(`/v1/invoices/${d.id}/pdf`, buyer), 404, 'not_found');
    const pdf = await get(`/v1/invoices/${d.id}/pdf`, seller).buffer(true);
    expect(pdf.status).toBe(200);
    expect((pdf.body as Buffer).toString('latin1')).toContain('Invoice DRAFT');
  });

  it('a platform invoice: its buyer and operators see it; no seller issued it', async () => {
    const inv = await issueInvoice(db(), draftInput({ issuer: { kind: 'platform' }, source: { kind: 'subscription', id: randomUUID() } }), settings());
    expect(inv.number).toMatch(/^PF-\d{6,}$/);
    expect((await get(`/v1/invoices/${inv.id}`, buyer)).body.issuer).toEqual({ kind: 'platform', name: 'Pledgeflow' });
    expect((await get(`/v1/invoices/${inv.id}`, operator)).status).toBe(200);
    expectProblem(await get(`/v1/invoices/${inv.id}`, seller), 404, 'not_found');
  });

  it('GET /v1/invoices/{id}/pdf: a PDF with the number (buyer, issuer, operator; stranger 404)', async () => {
    const inv = await issueInvoice(db(), draftInput(), settings());
    for (const who of [buyer, seller, operator]) {
      const res = await get(`/v1/invoices/${inv.id}/pdf`, who).buffer(true);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/pdf');
      const bytes = res.body as Buffer;
      expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      // the document Title (an info string, never compressed) names the invoice
      expect(bytes.toString('latin1')).toContain(`Invoice ${inv.number}`);
    }
    expectProblem(await get(`/v1/invoices/${inv.id}/pdf`, stranger), 404, 'not_found');
  });

  it('renderInvoicePdf draws the lines and totals (uncompressed text, hex-encoded by pdfkit)', async () => {
    const inv = await issueInvoice(db(), draftInput(), settings());
    const pdf = (await renderInvoicePdf((await invoiceView(db(), inv.id))!, { compress: false })).toString('latin1');
    // the standard fonts encode WinAnsi: € is 0x80
    const hex = (s: string) => Buffer.from(s.replace(/€/g, '\x80'), 'latin1').toString('hex');
    // pdfkit splits kerned runs; look for words that are never kerned apart in Helvetica
    const shown = [...pdf.matchAll(/\[([^\]]*)\] TJ/g)].map((m) => [...m[1]!.matchAll(/<([0-9a-f]+)>/g)].map((h) => h[1]).join('')).join('|');
    for (const text of [inv.number!, 'Blue mug', 'Sam Seller', 'Bea Buyer', '€45.46', '€42.49', '€2.97']) expect(shown).toContain(hex(text));
  });

  it('GET /v1/me/invoices: as buyer (issued only), as=seller (drafts too), newest first with cursors', async () => {
    const me = await makeUser(ctx.deps);
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push(await issueInvoice(db(), draftInput({ customerUserId: me.id }), settings()));
    const hidden = await createDraftInvoice(db(), draftInput({ customerUserId: me.id }), settings());
    const page1 = await get('/v1/me/invoices?limit=2', me);
    expect(page1.status).toBe(200);
    expect(page1.body.data.map((i: { id: string }) => i.id)).toEqual([mine[2]!.id, mine[1]!.id]);
    const page2 = await get(`/v1/me/invoices?limit=2&cursor=${page1.body.next_cursor}`, me);
    expect(page2.body).toMatchObject({ data: [{ id: mine[0]!.id, number: mine[0]!.number, status: 'finalized' }], next_cursor: null });
    const asSeller = await get('/v1/me/invoices?as=seller&limit=100', seller);
    expect(asSeller.body.data.map((i: { id: string }) => i.id)).toContain(hidden.id);
    expect((await get('/v1/me/invoices?as=seller', me)).body).toEqual({ data: [], next_cursor: null });
    expectProblem(await get('/v1/me/invoices?cursor=nope', me), 400, 'validation_failed');
    expectProblem(await get('/v1/me/invoices?as=admin', me), 400, 'validation_failed');
    expectProblem(await get('/v1/me/invoices?limit=101', me), 400, 'validation_failed');
  });
});
