import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { Metrics } from '../infra/metrics';
import type { Logger } from '../logger';
import { notifyMany } from '../notifications/notify';
import {
  BILLING_CHECKS,
  BILLING_DIFFERENCES_NOTIFICATION,
  BILLING_RECONCILIATION_DIFFERENCES_METRIC,
  type BillingCheck,
  type BillingCheckStep,
  type BillingDifference,
  type BillingReconcileScope,
  type ReconcileBillingResult,
} from './contract';
import { checkChargePage } from './reconciliationCharges';
import { addBillingStep, BILLING_SAMPLE_SIZE, describeBillingTally, emptyBillingTally, mergeByKind, tallyDifferences } from './reconciliationTally';
import { checkFeeInvoicePage, checkInvoiceNumberPage, checkPayoutPage, type CheckPageResult } from './reconciliationTotals';

/**
 * The billing reconciliation (issue 13; workflow `reconcileBilling` on the daily `billing-reconcile` schedule, and
 * GET /v1/operator/billing/reconciliation on demand): proves ledger = invoices = gateway records per charge
 * (reconciliationCharges.ts) and in aggregate (reconciliationTotals.ts). It only reads: a difference is reported,
 * never "fixed" (money is corrected by people, with credit notes, refunds or payouts that leave a trail).
 *
 * Reporting: every difference is logged at error level (`billing reconciliation found a difference`, with kind,
 * ids, expected, actual) and counted in `billing_reconciliation_differences_total{kind}`; a run that found any
 * tells the operators in their in-app inbox (and by email, through the outbox), once per run.
 */

export const BILLING_RECONCILE_BATCH = 500;

const DIFFERENCES_HELP = 'Differences the billing reconciliation found between balance entries, invoices, the ledger and the gateway, by kind';

export interface BillingReconciliationDeps {
  db: Db;
  logger: Logger;
  metrics: Metrics;
  config: Pick<Config, 'ISSUE_RECEIPTS' | 'OPERATOR_EMAILS'>;
}

/** Operators: granted by the operator command, or a verified OPERATOR_EMAILS address (src/accounts/authorization.ts). */
async function operatorIds(db: Db, operatorEmails: readonly string[]): Promise<string[]> {
  return (await db('users')
    .whereNotNull('operator_granted_at')
    .orWhere((q) => q.whereNotNull('email_verified_at').whereRaw('lower(email) = ANY(?::text[])', [operatorEmails.map((e) => e.toLowerCase())]))
    .orderBy('id')
    .pluck('id')) as string[];
}

export function createBillingReconciliation(deps: BillingReconciliationDeps) {
  const { db, logger } = deps;
  const counted = () => deps.metrics.counter(BILLING_RECONCILIATION_DIFFERENCES_METRIC, DIFFERENCES_HELP, ['kind']);

  function page(check: BillingCheck, scope: BillingReconcileScope, after: string | null, limit: number): Promise<CheckPageResult> {
    switch (check) {
      case 'charges':
        return checkChargePage(db, scope, { after, limit, receiptsRequired: deps.config.ISSUE_RECEIPTS });
      case 'fee_invoices':
        return checkFeeInvoicePage(db, scope, { after, limit });
      case 'payouts':
        return checkPayoutPage(db, scope, { after, limit });
      case 'invoice_numbers':
        return checkInvoiceNumberPage(db, scope, { after, limit });
    }
  }

  function report(check: BillingCheck, differences: BillingDifference[]): void {
    for (const difference of differences) {
      counted().inc({ kind: difference.kind });
      logger.error({ check, difference }, 'billing reconciliation found a difference');
    }
  }

  /** One page of one check: its differences reported (logged and counted) and returned. */
  async function checkPage(check: BillingCheck, scope: BillingReconcileScope, after: string | null, limit = BILLING_RECONCILE_BATCH): Promise<CheckPageResult> {
    const result = await page(check, scope, after, limit);
    report(check, result.differences);
    return result;
  }

  return {
    checkPage,

    /**
     * Up to `pages` pages of one check from `after` (bounded work for one activity), `beat` after each page with
     * the step so far; given such a step back (`resume`, a retried activity's last heartbeat) it goes on from there.
     * Counts and a sample come back; every difference was reported where found.
     */
    async checkPages(input: {
      check: BillingCheck;
      scope: BillingReconcileScope;
      after: string | null;
      pages: number;
      limit?: number;
      resume?: BillingCheckStep;
      beat?: (soFar: BillingCheckStep) => void;
    }): Promise<BillingCheckStep> {
      let step: BillingCheckStep = input.resume ?? { check: input.check, checked: 0, byKind: {}, sample: [], next: input.after };
      for (let i = 0; i < input.pages; i++) {
        const result = await checkPage(input.check, input.scope, step.next, input.limit);
        const found = tallyDifferences(result.differences);
        step = {
          check: input.check,
          checked: step.checked + result.checked,
          byKind: mergeByKind(step.byKind, found.byKind),
          sample: [...step.sample, ...found.sample].slice(0, BILLING_SAMPLE_SIZE),
          next: result.next,
        };
        input.beat?.(step);
        if (step.next === null) break;
      }
      return step;
    },

    /** Every check to the end, in this process (the on-demand check): the tally and the first `maxListed` differences. */
    async checkAll(scope: BillingReconcileScope = {}, maxListed = 1000): Promise<{ result: ReconcileBillingResult; differences: BillingDifference[] }> {
      let result = emptyBillingTally();
      const differences: BillingDifference[] = [];
      for (const check of BILLING_CHECKS) {
        let after: string | null = null;
        do {
          const found: CheckPageResult = await checkPage(check, scope, after);
          differences.push(...found.differences.slice(0, maxListed - differences.length));
          result = addBillingStep(result, { check, checked: found.checked, ...tallyDifferences(found.differences), next: found.next });
          after = found.next;
        } while (after !== null);
      }
      return { result, differences };
    },

    /**
     * Tells the operators about a run that found differences: one in-app notification each (email follows through
     * the outbox), deduplicated per run, so a retried step tells nobody twice. Without any operator the error log
     * and the metric are the report. How many were told.
     */
    async notifyOperators(input: { runKey: string; result: ReconcileBillingResult }): Promise<number> {
      const { runKey, result } = input;
      if (!result.differences) return 0;
      const summary = describeBillingTally(result);
      logger.error({ runKey, differences: result.differences, byKind: result.byKind }, `billing reconciliation: ${summary}`);
      const operators = await operatorIds(db, deps.config.OPERATOR_EMAILS);
      if (!operators.length) {
        logger.error({ runKey }, 'billing reconciliation found differences and there is no operator to tell; the log and the metric are the report');
        return 0;
      }
      return notifyMany(
        db,
        operators.map((userId) => ({
          userId,
          type: BILLING_DIFFERENCES_NOTIFICATION,
          title: `Billing reconciliation: ${result.differences} difference${result.differences === 1 ? '' : 's'}`,
          body: summary,
          data: { run: runKey, by_kind: result.byKind, checked: result.checked, sample: result.sample.slice(0, 5) },
          dedupeKey: `${BILLING_DIFFERENCES_NOTIFICATION}:${runKey}:${userId}`,
        })),
      );
    },
  };
}

export type BillingReconciliation = ReturnType<typeof createBillingReconciliation>;
