import type { Knex } from 'knex';
import { PLATFORM_ISSUER_KEY, type InvoiceIssuer } from './contract';

/**
 * Invoice numbers: `<PREFIX>-000001`, `<PREFIX>-000002`, ... per issuer, without gaps or duplicates.
 * The prefix is `PF` for the platform and, for a seller, the first 8 hex digits of their user id upper-cased
 * (`3F9A0C12-000001`). Two sellers may share a prefix: numbers are unique per issuer (UNIQUE (issuer_key, number)),
 * and an invoice always names its issuer. 'P' is not a hex digit, so no seller prefix is ever the platform's.
 * Six digits are padding, not a limit: the millionth invoice reads `PF-1000000`.
 *
 * The counter row (`invoice_number_counters`) is taken in the finalizing transaction: the upsert that moves it locks
 * it until that transaction ends, so concurrent finalizations of one issuer queue on it and each gets the next
 * number; a transaction that rolls back gives its number back with it (no gap).
 */

export const issuerPrefix = (issuer: InvoiceIssuer): string =>
  issuer.kind === 'platform' ? 'PF' : issuer.userId.replace(/-/g, '').slice(0, 8).toUpperCase();

export const formatInvoiceNumber = (prefix: string, n: number): string => `${prefix}-${String(n).padStart(6, '0')}`;

/** The next number of the issuer; call it in the transaction that stores the number (the counter stays locked until it ends). */
export async function takeInvoiceNumber(trx: Knex.Transaction, issuerKey: string, prefix: string): Promise<string> {
  // One statement: the first number creates the counter, every later one moves it (and locks it until commit).
  const { rows } = (await trx.raw(
    `INSERT INTO invoice_number_counters AS c (issuer_key, prefix, next_number) VALUES (?, ?, 2)
     ON CONFLICT (issuer_key) DO UPDATE SET next_number = c.next_number + 1
     RETURNING c.next_number - 1 AS taken, c.prefix`,
    [issuerKey, prefix],
  )) as { rows: Array<{ taken: number; prefix: string }> };
  const row = rows[0]!;
  return formatInvoiceNumber(row.prefix, row.taken);
}

/**
 * The next k numbers of the issuer in one statement (a batch of receipts): same counter, same lock until commit, same
 * gapless rule as takeInvoiceNumber. Returned in order.
 */
export async function takeInvoiceNumbers(trx: Knex.Transaction, issuerKey: string, prefix: string, k: number): Promise<string[]> {
  if (k <= 0) return [];
  const { rows } = (await trx.raw(
    `INSERT INTO invoice_number_counters AS c (issuer_key, prefix, next_number) VALUES (?, ?, ?::bigint + 1)
     ON CONFLICT (issuer_key) DO UPDATE SET next_number = c.next_number + ?::bigint
     RETURNING c.next_number - ?::bigint AS first, c.prefix`,
    [issuerKey, prefix, k, k, k],
  )) as { rows: Array<{ first: number | string; prefix: string }> };
  const row = rows[0]!;
  const first = Number(row.first);
  return Array.from({ length: k }, (_, i) => formatInvoiceNumber(row.prefix, first + i));
}

export const isPlatformKey = (issuerKey: string) => issuerKey === PLATFORM_ISSUER_KEY;
