import PDFDocument from 'pdfkit';
import { formatMoney } from '../notifications/email/format';
import type { InvoiceJson } from './invoiceViews';

/**
 * An invoice as a PDF (GET /v1/invoices/{id}/pdf), drawn with pdfkit's built-in Helvetica (no font files, no
 * network): issuer, customer, number and date, the lines table, subtotal, tax and total in the invoice's currency.
 * A draft says DRAFT where the number goes; a void invoice says VOID. The document's Title is "Invoice <number>".
 * Credit notes against it (refunds) are listed under the totals: number, date, reason, amount and tax, status.
 * The standard fonts cover WinAnsi (Latin-1 and €); other characters in names or descriptions print as WinAnsi
 * can (a later font file would lift that).
 */

export interface PdfOptions {
  /** Deflate the content streams (default true; tests turn it off to read the text). */
  compress?: boolean;
}

const DATE = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' });

export function renderInvoicePdf(invoice: InvoiceJson, options: PdfOptions = {}): Promise<Buffer> {
  const label = invoice.number ?? 'DRAFT';
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    compress: options.compress ?? true,
    info: { Title: `Invoice ${label}`, Author: invoice.issuer.name, Subject: `Invoice ${label} to ${invoice.customer.name}`, Creator: 'Pledgeflow' },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const money = (cents: number) => formatMoney(cents, invoice.currency);
  const left = 50;
  const right = doc.page.width - 50;

  doc.font('Helvetica-Bold').fontSize(20).text(invoice.status === 'void' ? `Invoice ${label} (VOID)` : `Invoice ${label}`, left, 50);
  doc.moveDown(0.5).font('Helvetica').fontSize(10);
  const issued = invoice.issued_at ? DATE.format(new Date(invoice.issued_at)) : 'not issued (draft)';
  doc.text(`Date: ${issued}`);
  doc.text(`Currency: ${invoice.currency}`);
  doc.moveDown();
  const top = doc.y;
  doc.font('Helvetica-Bold').text('From', left, top).font('Helvetica').text(invoice.issuer.name || '-');
  if (invoice.issuer.user_id) doc.fillColor('#666').text(`Seller ${invoice.issuer.user_id}`).fillColor('black');
  doc.font('Helvetica-Bold').text('Bill to', 320, top).font('Helvetica').text(invoice.customer.name, 320);
  doc.fillColor('#666').text(`Customer ${invoice.customer.user_id}`, 320).fillColor('black');
  doc.moveDown(2);

  // Lines: description | qty | unit | amount | tax
  const cols = [left, 300, 350, 430, right - 60];
  const row = (cells: string[], bold = false) => {
    const y = doc.y;
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica');
    doc.text(cells[0]!, cols[0], y, { width: cols[1]! - cols[0]! - 10 });
    const bottom = doc.y;
    cells.slice(1).forEach((c, i) => doc.text(c, cols[i + 1], y, { width: (cols[i + 2] ?? right) - cols[i + 1]! - 5, align: 'right' }));
    doc.y = Math.max(bottom, doc.y) + 4;
    doc.x = left;
  };
  row(['Description', 'Qty', 'Unit', 'Amount', 'Tax'], true);
  doc.moveTo(left, doc.y).lineTo(right, doc.y).stroke();
  doc.moveDown(0.3);
  for (const l of invoice.lines) row([l.description, String(l.quantity), money(l.unit_amount_cents), money(l.amount_cents), money(l.tax_cents)]);
  doc.moveTo(left, doc.y).lineTo(right, doc.y).stroke();
  doc.moveDown(0.5);

  const total = (name: string, cents: number, bold = false) => {
    const y = doc.y;
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').text(name, 350, y, { width: 80 });
    doc.text(money(cents), 430, y, { width: right - 430, align: 'right' });
    doc.x = left;
  };
  total('Subtotal', invoice.subtotal_cents);
  total('Tax', invoice.tax_cents);
  total('Total', invoice.total_cents, true);
  creditNotes(doc, invoice, money, left);
  doc.moveDown(2).font('Helvetica').fontSize(8).fillColor('#666');
  doc.text('Tax is added on top of each line, rounded per line half-even to the minor unit. A finalized invoice never changes; corrections are credit notes.', left, doc.y, { width: right - left });
  doc.end();
  return done;
}

/** The invoice's credit notes under its totals (a finalized invoice never changes: its refunds are these). */
function creditNotes(doc: PDFKit.PDFDocument, invoice: InvoiceJson, money: (cents: number) => string, left: number): void {
  if (!invoice.credit_notes.length) return;
  doc.moveDown(1.5).font('Helvetica-Bold').fontSize(12).text('Credit notes', left, doc.y);
  doc.font('Helvetica').fontSize(10);
  for (const n of invoice.credit_notes) {
    const status = n.status === 'succeeded' ? '' : ` (${n.status})`;
    doc.text(`${n.number}  ${DATE.format(new Date(n.created_at))}  ${n.reason}: -${money(n.amount_cents)} (tax ${money(n.tax_cents)})${status}`, left, doc.y);
  }
  const refunded = invoice.credit_notes.filter((n) => n.status !== 'failed').reduce((s, n) => s + n.amount_cents, 0);
  doc.font('Helvetica-Bold').text(`Total after credit notes: ${money(invoice.total_cents - refunded)}`, left, doc.y);
}
