import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../config';
import { RECONCILE_COMMERCE_WORKFLOW } from '../commerce/contract';
import { RECONCILE_BOOKINGS_WORKFLOW } from '../bookings/reconciliation';
import { CLOSE_FEE_INVOICES_WORKFLOW, PAYOUT_RUN_WORKFLOW, RECONCILE_BILLING_WORKFLOW } from '../billing/contract';

/**
 * Recurring jobs are Temporal Schedules (visible, pausable and triggerable in the Web UI), created once and
 * left alone when they already exist so an operator's pause survives a redeploy.
 */
export async function ensureSchedules(client: Client, config: Config): Promise<string[]> {
  const created: string[] = [];
  const schedules: ScheduleOptions[] = [
    {
      scheduleId: `${config.TASK_QUEUE}:maintenance-purge`,
      spec: { intervals: [{ every: '1 hour' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'purgeExpiredRecords',
        taskQueue: config.TASK_QUEUE,
        workflowId: `${config.TASK_QUEUE}:maintenance-purge`,
        staticSummary: 'Purge expired idempotency keys',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      scheduleId: `${config.TASK_QUEUE}:commerce-reconcile`,
      spec: { intervals: [{ every: config.RECONCILE_INTERVAL }] },
      action: {
        type: 'startWorkflow',
        workflowType: RECONCILE_COMMERCE_WORKFLOW,
        taskQueue: config.TASK_QUEUE,
        workflowId: `${config.TASK_QUEUE}:commerce-reconcile`,
        args: [{}],
        staticSummary: 'Void orphaned authorizations, release stale reservations, correct hot stock counters',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      scheduleId: `${config.TASK_QUEUE}:bookings-reconcile`,
      spec: { intervals: [{ every: config.RECONCILE_INTERVAL }] },
      action: {
        type: 'startWorkflow',
        workflowType: RECONCILE_BOOKINGS_WORKFLOW,
        taskQueue: config.TASK_QUEUE,
        workflowId: `${config.TASK_QUEUE}:bookings-reconcile`,
        staticSummary: 'Release stale holds, void orphaned booking authorizations, settle unsettled booking money',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      // Weekly by default: pays every seller what is available (one `payouts:<seller>` per seller with money due).
      scheduleId: `${config.TASK_QUEUE}:payouts`,
      spec: { cronExpressions: [config.PAYOUT_SCHEDULE_CRON] },
      action: {
        type: 'startWorkflow',
        workflowType: PAYOUT_RUN_WORKFLOW,
        taskQueue: config.TASK_QUEUE,
        workflowId: `${config.TASK_QUEUE}:payouts`,
        staticSummary: "Pay out every seller's available balance",
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      // Monthly, just after midnight UTC on the 1st: the platform's fee invoices of the month that ended are finalized.
      scheduleId: `${config.TASK_QUEUE}:close-fee-invoices`,
      spec: { cronExpressions: ['5 0 1 * *'] },
      action: {
        type: 'startWorkflow',
        workflowType: CLOSE_FEE_INVOICES_WORKFLOW,
        taskQueue: config.TASK_QUEUE,
        workflowId: `${config.TASK_QUEUE}:close-fee-invoices`,
        staticSummary: "Finalize last month's platform fee invoices",
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
    {
      scheduleId: `${config.TASK_QUEUE}:billing-reconcile`,
      spec: { cronExpressions: ['30 3 * * *'] },
      action: {
        type: 'startWorkflow',
        workflowType: RECONCILE_BILLING_WORKFLOW,
        taskQueue: config.TASK_QUEUE,
        workflowId: `${config.TASK_QUEUE}:billing-reconcile`,
        staticSummary: 'Prove ledger = invoices = gateway records; report any difference',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    },
  ];
  for (const schedule of schedules) {
    try {
      await client.schedule.create(schedule);
      created.push(schedule.scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
  }
  return created;
}
