import { randomUUID } from 'node:crypto';
import type { InvoiceIssuer } from '../../src/billing/contract';
import { createDraftInvoice, finalizeInvoice, issueInvoice } from '../../src/billing/invoices';
import { formatInvoiceNumber, issuerPrefix } from '../../src/billing/invoiceNumbers';
import { createTestContext, type TestContext } from '../helpers/context';
import { makeUser, makeUsers } from '../helpers/fixtures';

/**
 * Invoice numbers with real Postgres: finalizations racing for real (Promise.all over separate pooled
 * connections) get 1..N per issuer without gaps or duplicates; a finalization that rolls back gives its number back.
 */

let ctx: TestContext;
let customer: string;
const settings = { TAX_RATES_BPS: { default: 1_900 } };

beforeAll(async () => {
  ctx = createTestContext();
  customer = (await makeUser(ctx.deps)).id;
});
afterAll(() => ctx.close());

const draft = (issuer: InvoiceIssuer, unit = 1_000) =>
  createDraftInvoice(ctx.deps.db, { issuer, customerUserId: customer, currency: 'EUR', source: { kind: 'order', id: randomUUID() }, lines: [{ description: 'Thing', quantity: 1, unitAmountCents: unit }] }, settings);

const seller = async (): Promise<InvoiceIssuer & { kind: 'seller' }> => ({ kind: 'seller', userId: (await makeUsers(ctx.deps, 1, 'merchant'))[0]! });
const expected = (issuer: InvoiceIssuer, n: number) => Array.from({ length: n }, (_, i) => formatInvoiceNumber(issuerPrefix(issuer), i + 1));

it('formats <PREFIX>-000001: PF for the platform, a seller’s first 8 hex digits upper-cased', () => {
  expect(issuerPrefix({ kind: 'platform' })).toBe('PF');
  expect(issuerPrefix({ kind: 'seller', userId: '3f9a0c12-aaaa-4bbb-8ccc-000000000000' })).toBe('3F9A0C12');
  expect(formatInvoiceNumber('PF', 7)).toBe('PF-000007');
  expect(formatInvoiceNumber('PF', 1_234_567)).toBe('PF-1234567');
});

it('20 concurrent finalizations of one issuer’s drafts get numbers 1..20: no gap, no duplicate', async () => {
  const issuer = await seller();
  const drafts = await Promise.all(Array.from({ length: 20 }, () => draft(issuer)));
  const finalized = await Promise.all(drafts.map((d) => finalizeInvoice(ctx.deps.db, d.id)));
  expect(finalized.map((f) => f.number).sort()).toEqual(expected(issuer, 20));
  expect(finalized.every((f) => f.status === 'finalized' && f.issued_at instanceof Date)).toBe(true);
  const counter = await ctx.deps.db('invoice_number_counters').where({ issuer_key: issuer.userId }).first();
  expect(counter).toMatchObject({ prefix: issuerPrefix(issuer), next_number: 21 });
});

it('two issuers finalizing interleaved, concurrently, are each gapless', async () => {
  const [a, b] = [await seller(), await seller()];
  const drafts = await Promise.all(Array.from({ length: 24 }, (_, i) => draft(i % 2 ? a : b)));
  const finalized = await Promise.all(drafts.map((d) => finalizeInvoice(ctx.deps.db, d.id)));
  const numbersOf = (issuer: typeof a) => finalized.filter((f) => f.issuer_user_id === issuer.userId).map((f) => f.number).sort();
  expect(numbersOf(a)).toEqual(expected(a, 12));
  expect(numbersOf(b)).toEqual(expected(b, 12));
});

it('the platform numbers its invoices PF-… in the same way (issueInvoice: create + finalize at once, concurrently)', async () => {
  const before = ((await ctx.deps.db('invoice_number_counters').where({ issuer_key: 'platform' }).first()) as { next_number: number } | undefined)?.next_number ?? 1;
  const issued = await Promise.all(
    Array.from({ length: 8 }, () =>
      issueInvoice(ctx.deps.db, { issuer: { kind: 'platform' }, customerUserId: customer, currency: 'USD', source: { kind: 'fees', id: randomUUID() }, lines: [{ description: 'Platform fees', quantity: 1, unitAmountCents: 250 }] }, settings),
    ),
  );
  expect(issued.map((i) => i.number).sort()).toEqual(Array.from({ length: 8 }, (_, i) => formatInvoiceNumber('PF', before + i)));
});

it('a finalization that rolls back does not burn its number', async () => {
  const issuer = await seller();
  const [first, second] = [await draft(issuer), await draft(issuer)];
  await expect(
    ctx.deps.db.transaction(async (trx) => {
      const f = await finalizeInvoice(trx, first.id);
      expect(f.number).toBe(expected(issuer, 1)[0]);
      throw new Error('the charge failed after numbering');
    }),
  ).rejects.toThrow('the charge failed');
  expect(await ctx.deps.db('invoices').where({ id: first.id }).first()).toMatchObject({ status: 'draft', number: null, issued_at: null });
  expect((await finalizeInvoice(ctx.deps.db, second.id)).number).toBe(expected(issuer, 1)[0]);
  expect((await finalizeInvoice(ctx.deps.db, first.id)).number).toBe(expected(issuer, 2)[1]);
});

it('finalizing twice, even concurrently, returns the same number and takes one', async () => {
  const issuer = await seller();
  const d = await draft(issuer);
  const results = await Promise.all(Array.from({ length: 6 }, () => finalizeInvoice(ctx.deps.db, d.id)));
  expect(new Set(results.map((r) => r.number))).toEqual(new Set(expected(issuer, 1)));
  expect((await finalizeInvoice(ctx.deps.db, d.id)).number).toBe(expected(issuer, 1)[0]);
  const next = await finalizeInvoice(ctx.deps.db, (await draft(issuer)).id);
  expect(next.number).toBe(expected(issuer, 2)[1]);
});
