import type { Db } from '../infra/db';
import { renderInvoicePdf } from './invoicePdf';
import { invoiceView } from './invoiceViews';

/** An issued invoice's PDF as an email attachment (`invoice-<number>.pdf`); none for a draft or an unknown id. */
export async function invoicePdfAttachment(db: Db, invoiceId: string): Promise<{ filename: string; content: Buffer; contentType: string } | undefined> {
  const invoice = await invoiceView(db, invoiceId);
  if (!invoice || !invoice.number) return undefined;
  return { filename: `invoice-${invoice.number}.pdf`, content: await renderInvoicePdf(invoice), contentType: 'application/pdf' };
}
