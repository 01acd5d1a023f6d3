import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../config';
import { RECONCILE_COMMERCE_WORKFLOW } from '../commerce/contract';
import { RECONCILE_BOOKINGS_WORKFLOW } from '../bookings/reconciliation';

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
