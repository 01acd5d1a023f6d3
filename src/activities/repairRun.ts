import { Context } from '@temporalio/activity';
import type { RepairRun } from '../operator/repairLog';

/** The reconciliation run the current activity works for: its repairs are kept with its workflow id. */
export function thisRun(): RepairRun | undefined {
  const workflowId = Context.current().info.workflowExecution?.workflowId;
  return workflowId ? { workflowId } : undefined;
}
