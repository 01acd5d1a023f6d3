import { useQuery } from '@tanstack/react-query';
import { api, type Schemas, type User } from '../../api/client';
import { unwrap } from '../../lib/problem';

export type InvoiceSummary = Schemas['InvoiceSummary'];
export type Invoice = Schemas['Invoice'];
export type Payout = Schemas['Payout'];
export type Balance = Schemas['Balance'];

/** Whether the user earns money on the platform: creators, merchants, providers (and operators, who pass every role check). */
export const isSeller = (user: User | undefined): boolean => user !== undefined && ['creator', 'merchant', 'provider', 'operator'].includes(user.role);

/** Money reads of the signed-in user (API.md, "Billing"); `enabled` waits for the session. */
export function useMyInvoices(enabled: boolean) {
  return useQuery({ queryKey: ['me', 'invoices'], enabled, queryFn: () => unwrap(api.GET('/v1/me/invoices', { params: { query: { limit: 100 } } })) });
}

export function useInvoice(id: string, enabled: boolean) {
  return useQuery({ queryKey: ['invoice', id], enabled, queryFn: () => unwrap(api.GET('/v1/invoices/{id}', { params: { path: { id } } })) });
}

export function useMyBalance(enabled: boolean) {
  return useQuery({ queryKey: ['me', 'balance'], enabled, queryFn: () => unwrap(api.GET('/v1/me/balance')) });
}

export function useMyPayouts(enabled: boolean) {
  return useQuery({ queryKey: ['me', 'payouts'], enabled, queryFn: () => unwrap(api.GET('/v1/me/payouts', { params: { query: { limit: 50 } } })) });
}

export function useMyFees(enabled: boolean) {
  return useQuery({ queryKey: ['me', 'fees'], enabled, queryFn: () => unwrap(api.GET('/v1/me/fees', { params: { query: { limit: 24 } } })) });
}

export function useMyPayoutAccount(enabled: boolean) {
  return useQuery({ queryKey: ['me', 'payout-account'], enabled, queryFn: () => unwrap(api.GET('/v1/me/payout-account')) });
}

/**
 * The invoice's PDF, saved as a file. The PDF route wants the bearer token (a plain link would answer 401), so
 * it is fetched through the API client and handed to the browser as an object URL on a `download` link.
 */
export async function downloadInvoicePdf(invoice: Pick<Invoice, 'id' | 'number'>): Promise<void> {
  const pdf = await unwrap(api.GET('/v1/invoices/{id}/pdf', { params: { path: { id: invoice.id } }, parseAs: 'blob' }));
  const url = URL.createObjectURL(pdf as Blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = `invoice-${invoice.number ?? 'draft'}.pdf`;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own copy once started; the URL is released a little later.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
