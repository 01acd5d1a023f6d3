import { z } from 'zod';
import { pageQuery, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { PAYOUT_ACCOUNT_STATUSES, PAYOUT_STATUSES } from '../../billing/contract';
import { listMyPayouts, myBalance } from '../../billing/balanceViews';
import { listMyFeeInvoices } from '../../billing/invoiceViews';
import { payoutAccountFor, startPayoutAccount } from '../../billing/payoutAccounts';
import { InvoiceListSchema } from './invoiceRoutes';
import type { Role } from '../../domain/roles';

/**
 * A seller's money (API.md, "Billing"): balance per currency, payouts, the platform's fee invoices, and the payout
 * account payouts go to. Sellers only (creators, merchants, providers; operators pass every role check and see
 * their own, i.e. nothing), and each caller only ever sees their own: there is no id to ask for someone else's.
 */

const SELLERS: readonly Role[] = ['creator', 'merchant', 'provider'];
const described = (description: string) => ({ description });

const CurrencyBalanceSchema = z
  .object({
    currency: z.string().openapi({ description: 'ISO 4217' }),
    pending_cents: z.number().int().openapi({ description: 'Σ entries not yet available (within the payout delay, or awaiting an outcome)' }),
    available_cents: z.number().int().openapi({ description: 'Σ entries available now: what the next payout moves; negative after a refund that followed a payout' }),
    paid_out_cents: z.number().int().openapi({ description: 'Σ paid payouts' }),
  })
  .openapi('CurrencyBalance');

const BalanceSchema = z
  .object({
    currency: z.string().nullable().openapi({ description: 'The first currency of `data` (null when there is nothing yet); its numbers follow' }),
    pending_cents: z.number().int(),
    available_cents: z.number().int(),
    paid_out_cents: z.number().int(),
    data: z.array(CurrencyBalanceSchema).openapi({ description: 'One balance per currency, by currency' }),
  })
  .openapi('Balance');

const PayoutSchema = z
  .object({
    id: z.uuid(),
    amount_cents: z.number().int(),
    currency: z.string(),
    status: z.enum(PAYOUT_STATUSES),
    arrival_at: z.iso.datetime().nullable().openapi({ description: 'When the money reached the payout account (paid payouts)' }),
    failure_code: z.string().nullable().openapi({ description: 'Why a failed payout was refused; its money is back in the available balance' }),
    created_at: z.iso.datetime(),
  })
  .openapi('Payout');

const SellerPayoutAccountSchema = z
  .object({
    status: z.enum(PAYOUT_ACCOUNT_STATUSES),
    account_id: z.string().optional(),
    onboarding_url: z.url().optional().openapi({ description: "While pending: the payment provider's hosted onboarding page (short-lived; POST again for a fresh one)" }),
  })
  .openapi('SellerPayoutAccount');

const PayoutAccountBody = z.object({
  country: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .optional()
    .openapi({ description: 'ISO 3166-1 alpha-2; required to open the account (creators and merchants; a provider’s country is its own)' }),
});

export function registerBalanceRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;

  api.route(
    {
      method: 'get',
      path: '/v1/me/balance',
      operationId: 'getMyBalance',
      summary: 'Your balance as a seller, per currency: pending, available, paid out',
      tags: ['billing'],
      auth: SELLERS,
      responses: { 200: { description: 'The balance', schema: BalanceSchema } },
    },
    async ({ principal }) => ({ status: 200, body: await myBalance(db, requirePrincipal(principal)) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/payouts',
      operationId: 'listMyPayouts',
      summary: 'Your payouts, newest first',
      tags: ['billing'],
      auth: SELLERS,
      query: z.object(pageQuery),
      responses: { 200: { description: 'A page of payouts', schema: z.object({ data: z.array(PayoutSchema), next_cursor: z.string().nullable() }).openapi('PayoutList') } },
    },
    async ({ query, principal }) => ({ status: 200, body: await listMyPayouts(db, requirePrincipal(principal), query) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/fees',
      operationId: 'listMyFeeInvoices',
      summary: "The platform's monthly fee invoices to you, newest first; the current month's is a draft that grows with each charge",
      tags: ['billing'],
      auth: SELLERS,
      query: z.object(pageQuery),
      responses: { 200: { description: 'A page of fee invoices (as GET /v1/me/invoices lists them)', schema: InvoiceListSchema } },
    },
    async ({ query, principal }) => ({ status: 200, body: await listMyFeeInvoices(db, requirePrincipal(principal), query) }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/me/payout-account',
      operationId: 'startMyPayoutAccount',
      summary: 'Open your payout account, or resume its onboarding: ready, or pending with the hosted onboarding url',
      tags: ['billing'],
      auth: SELLERS,
      body: PayoutAccountBody,
      responses: {
        200: { description: 'The account you had, looked at again (a fresh onboarding url while pending)', schema: SellerPayoutAccountSchema },
        201: { description: 'The account, opened now', schema: SellerPayoutAccountSchema },
        400: described('`validation_failed`: a malformed country, or none when the account is still to be opened'),
        409: described('`onboarding_closed`: a provider that was rejected or expired'),
        422: described('`payout_account_refused`: the payment provider refused the account (e.g. an unsupported country)'),
        503: described('`payment_unavailable`: the payment provider could not be reached; retry'),
      },
    },
    async ({ body, principal }) => {
      const { created, account } = await startPayoutAccount(deps, requirePrincipal(principal), body ?? {});
      return { status: created ? 201 : 200, body: account };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/payout-account',
      operationId: 'getMyPayoutAccount',
      summary: 'Your payout account and whether payouts can be sent to it (`missing` until you open one)',
      tags: ['billing'],
      auth: SELLERS,
      responses: {
        200: { description: 'The account', schema: SellerPayoutAccountSchema },
        503: described('`payment_unavailable`: the payment provider could not be reached; retry'),
      },
    },
    async ({ principal }) => ({ status: 200, body: await payoutAccountFor(deps, requirePrincipal(principal)) }),
  );
}
