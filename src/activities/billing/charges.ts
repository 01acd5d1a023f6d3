import { Context } from '@temporalio/activity';
import type { CloseFeeInvoicesPage } from '../../billing/contract';
import { closeFeeInvoices } from '../../billing/feeInvoices';
import type { ActivityDeps } from '../../workers/deps';

const PAGE = 200;

/** Billing activities (charges and fee invoices). Main task queue (no provider calls). */
export function createChargeActivities(deps: Pick<ActivityDeps, 'db' | 'logger'>) {
  return {
    /** One page of the monthly close: up to PAGE fee drafts of months ended before `before` finalized. */
    async closeFeeInvoicePage(input: { before: string }): Promise<CloseFeeInvoicesPage> {
      const { finalized } = await closeFeeInvoices(deps.db, new Date(input.before), PAGE, () => Context.current().heartbeat());
      if (finalized) deps.logger.info({ finalized, before: input.before }, 'fee invoices finalized');
      return { finalized, more: finalized === PAGE };
    },
  };
}

/** Payments task queue: the steps that reach the payment provider (none for charges: they are recorded where captured). */
export function createChargePaymentActivities(_deps: ActivityDeps) {
  return {};
}
