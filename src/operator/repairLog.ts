import type { Knex } from 'knex';
import type { Logger } from '../logger';

/** One repair a reconciliation made: what kind, on what (an id, a key, a shard), and how many rows it moved. */
export interface Repair {
  domain: 'commerce' | 'bookings';
  kind: string;
  subject: string;
  count?: number;
  detail?: Record<string, unknown>;
}

/** The reconciliation run making the repairs: its workflow, which the operators follow into the Temporal Web UI. */
export interface RepairRun {
  workflowId: string;
}

/**
 * Keeps each repair for the operators' "needs attention" list (src/operator/attention.ts). The repair has already
 * been made and counted when this runs: failing to keep it is logged, never allowed to undo or fail the repair.
 */
export function repairLog(db: Knex, logger: Logger, run: RepairRun | undefined) {
  return async (repair: Repair): Promise<void> => {
    if (!run) return; // called outside a reconciliation run (a script, a unit): nothing to link it to
    try {
      await db('reconciliation_repairs').insert({
        domain: repair.domain,
        kind: repair.kind,
        subject: repair.subject,
        count: repair.count ?? 1,
        workflow_id: run.workflowId,
        detail: JSON.stringify(repair.detail ?? {}),
      });
    } catch (err) {
      logger.error({ err, repair }, 'a reconciliation repair was made but could not be kept for the operators');
    }
  };
}
