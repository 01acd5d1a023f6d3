import { registerAccount } from '../helpers/api';
import { eventually } from '../helpers/wait';
import { createStore, createVariant, placeOrder } from '../commerce/fixtures';
import { signIn } from './backerKit';
import { webHarness } from './harness';

/**
 * The money pages in Chromium against the real stack: a shopper's order is paid through the API (the checkout's
 * charge issues the merchant's receipt and adds the platform's fee line); the shopper finds the receipt in My
 * invoices, opens it (lines, tax, totals) and downloads its PDF through the token-carrying client; the merchant
 * sees the sale pending in the balance and the month's fee invoice as a growing draft. axe and the console are
 * checked on every page.
 */
const web = webHarness({ TAX_RATES_BPS: 'default=1900' });

jest.setTimeout(180_000);

describe('money pages in Chromium', () => {
  it('a buyer finds the receipt of a paid order, opens it and downloads its PDF; the seller sees balance and fee invoice', async () => {
    const merchant = await registerAccount(web.ctx.http, { role: 'merchant', name: 'Mo Merchant' });
    const buyer = await registerAccount(web.ctx.http, { name: 'Bea Buyer' });
    const storeId = await createStore(web.ctx, merchant, 'Mugs and more');
    const variantId = await createVariant(web.ctx, merchant, storeId, 10, 2_000);
    const order = await placeOrder(web.ctx, buyer, storeId, [[variantId, 2]]);
    // €40.00 + 19 % tax = €47.60, captured at checkout; the receipt is issued with the charge.
    expect(order.total_cents).toBe(4_760);
    const receipt = await eventually(
      () => web.ctx.deps.db('invoices').where({ source_kind: 'order', source_id: order.id, status: 'finalized' }).first('id', 'number'),
      60_000,
      'the order receipt',
    );

    const page = await web.newPage();
    await signIn(page, buyer, '/me/invoices');
    await page.getByRole('heading', { name: 'My invoices', level: 1 }).waitFor();
    const row = page.getByRole('row').filter({ hasText: receipt.number });
    await row.getByRole('cell', { name: 'Mo Merchant' }).waitFor();
    await row.getByRole('cell', { name: '€47.60' }).waitFor();
    await web.check(page, 'my-invoices');

    await row.getByRole('link', { name: receipt.number }).click();
    await page.getByRole('heading', { name: `Invoice ${receipt.number}`, level: 1 }).waitFor();
    await page.getByRole('cell', { name: '€40.00' }).first().waitFor();
    await page.getByRole('cell', { name: '€7.60' }).waitFor();
    expect(await page.getByTestId('invoice-total').textContent()).toBe('€47.60');
    await page.getByText('No refunds against this invoice.').waitFor();
    await web.check(page, 'invoice');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download PDF' }).click()]);
    expect(download.suggestedFilename()).toBe(`invoice-${receipt.number}.pdf`);
    const chunks: Buffer[] = [];
    for await (const chunk of (await download.createReadStream())!) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).subarray(0, 5).toString('latin1')).toBe('%PDF-');

    // The order page offers the same receipt: a link to the invoice, and its PDF through the client (a plain link would answer 401).
    await page.goto(`/orders/${order.id}`);
    await page.getByRole('link', { name: receipt.number }).waitFor();
    const [fromOrder] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download PDF' }).click()]);
    expect(fromOrder.suggestedFilename()).toBe(`invoice-${receipt.number}.pdf`);
    const orderChunks: Buffer[] = [];
    for await (const chunk of (await fromOrder.createReadStream())!) orderChunks.push(chunk as Buffer);
    expect(Buffer.concat(orderChunks).subarray(0, 5).toString('latin1')).toBe('%PDF-');

    const seller = await web.newPage();
    await signIn(seller, merchant, '/me/money');
    await seller.getByRole('heading', { name: 'My money', level: 1 }).waitFor();
    // The sale waits for delivery: pending is what was captured minus the platform's fee.
    const charge = await web.ctx.deps.db('seller_charges').where({ source_kind: 'order', source_id: order.id }).first('captured_cents', 'fee_cents');
    expect(charge.fee_cents).toBeGreaterThan(0);
    const pending = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' }).format((charge.captured_cents - charge.fee_cents) / 100);
    expect(await seller.getByTestId('pending-EUR').textContent()).toBe(pending);
    // The month's fee invoice: the platform's draft to the merchant, this charge's fee line (plus the platform's tax) on it.
    const feeInvoice = await web.ctx.deps.db('invoices').where({ source_kind: 'fees', customer_user_id: merchant.id, status: 'draft' }).first('subtotal_cents', 'total_cents');
    expect(feeInvoice.subtotal_cents).toBe(charge.fee_cents);
    const fee = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' }).format(feeInvoice.total_cents / 100);
    await seller.getByTestId('fee-draft').filter({ hasText: fee }).waitFor();
    await seller.getByRole('cell', { name: 'Draft (not issued yet)' }).waitFor();
    await seller.getByText('No payouts yet').waitFor();
    await web.check(seller, 'seller-money');

    // The invoice at phone width: the lines table scrolls inside its own box, the totals stay readable.
    const phone = await web.newPage({ width: 390, height: 844 });
    await signIn(phone, buyer, `/invoices/${receipt.id}`);
    await phone.getByRole('heading', { name: `Invoice ${receipt.number}`, level: 1 }).waitFor();
    expect(await phone.getByTestId('invoice-total').textContent()).toBe('€47.60');
    await web.check(phone, 'invoice-phone');
  });

  // Last, once every page was seen, so one run reports them all.
  it('no page had a serious or critical axe violation or a console error', () => {
    expect(web.findings()).toEqual({ violations: [], errors: [] });
  });
});
