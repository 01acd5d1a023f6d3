import type { Knex } from 'knex';
import { PLATFORM_ISSUER_KEY, type InvoiceIssuer } from './contract';

/**
 * Invoice numbers: `<PREFIX>-000001`, `<PREFIX>-000002`, ... per issuer, without gaps or duplicates.
 * The prefix is `PF` for the platform and, for a seller, the first 8 hex digits of their user id upper-cased
 * (`3F9A0C12-000001`). Two sellers may share a prefix: numbers are unique per issuer (UNIQUE (issuer_key, number)),
 * and an invoice always names its issuer. 'P' is not a hex digit, so no seller prefix is ever the platform's.
 * Six digits are padding, not a limit: the millionth invoice reads `PF-1000000`.
 *
 * The counter row (`invoice_number_counters`) is taken in the finalizing transaction: `UPDATE ... RETURNING` locks
 * it until that transaction ends, so concurrent finalizations of one issuer queue on it and each gets the next
 * number; a transaction that rolls back gives its number back with it (no gap).
 */

export const issuerPrefix = (issuer: InvoiceIssuer): string =>
  issuer.kind === 'platform' ? 'PF' : issuer.userId.replace(/-/g, '').slice(0, 8).toUpperCase();

export const formatInvoiceNumber = (prefix: string, n: number): string => `${prefix}-${String(n).padStart(6, '0')}`;

/** The next number of the issuer; call it in the transaction that stores the number (the counter stays locked until it ends). */
export async function takeInvoiceNumber(trx: Knex.Transaction, issuerKey: string, prefix: string): Promise<string> {
  await trx.raw('INSERT INTO invoice_number_counters (issuer_key, prefix, next_number) VALUES (?, ?, 1) ON CONFLICT (issuer_key) DO NOTHING', [issuerKey, prefix]);
  const { rows } = (await trx.raw(
    'UPDATE invoice_number_counters SET next_number = next_number + 1 WHERE issuer_key = ? RETURNING next_number - 1 AS taken, prefix',
    [issuerKey],
  )) as { rows: Array<{ taken: number; prefix: string }> };
  const row = rows[0]!;
  return formatInvoiceNumber(row.prefix, row.taken);
}

export const isPlatformKey = (issuerKey: string) => issuerKey === PLATFORM_ISSUER_KEY;
