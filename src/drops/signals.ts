import type { SignalDefinition } from '@temporalio/common';
import { dropWorkflowId } from './contract';
import type { DropsDeps } from './deps';

/**
 * Tells the drop's workflow (`drop:<id>`) to look again now. Best effort: it looks again at its next timer or
 * poll anyway, so a Temporal hiccup only costs time; `unsent` says in the log what waits for that.
 */
export async function signalDrop(deps: Pick<DropsDeps, 'config' | 'temporal' | 'logger'>, dropId: string, signal: SignalDefinition<[]>, unsent: string): Promise<void> {
  try {
    await deps.temporal.withDeadline(deps.config.TEMPORAL_UPDATE_TIMEOUT, (client) => client.workflow.getHandle(dropWorkflowId(dropId)).signal(signal));
  } catch (err) {
    deps.logger.warn({ err, dropId }, unsent);
  }
}
