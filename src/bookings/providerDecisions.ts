import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { approveProviderUpdate, PROVIDER_NOT_PENDING, providerWorkflowId, rejectProviderUpdate } from './contract';
import { renderProvider, type ProviderJson } from './providers';
import { loadProvider } from './rows';
import type { BookingsDeps } from './deps';

/**
 * An operator's decision on a pending provider, through the Updates of `provider:<id>`: the workflow owns the
 * onboarding's timers, so it is the one place that decides whether a decision is still allowed (its
 * validators refuse once the onboarding was decided or expired). The answer is the provider as the decision
 * left it.
 */

const notPending = (status: string) => refusals.conflict('provider_not_pending', `The provider is ${status}; only a pending onboarding can be decided.`);

export async function decideProvider(
  deps: Pick<BookingsDeps, 'db' | 'config' | 'temporal'>,
  operator: Principal,
  providerId: string,
  decision: { approve: true } | { approve: false; reason?: string | undefined },
): Promise<ProviderJson> {
  const { db, config } = deps;
  const row = await loadProvider(db, providerId);
  if (!row) throw refusals.notFound('provider');
  if (row.status !== 'pending') throw notPending(row.status);
  try {
    await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) => {
      const handle = client.workflow.getHandle(providerWorkflowId(row.id));
      return decision.approve
        ? handle.executeUpdate(approveProviderUpdate, { args: [{ operatorId: operator.id }] })
        : handle.executeUpdate(rejectProviderUpdate, { args: [{ operatorId: operator.id, ...(decision.reason ? { reason: decision.reason } : {}) }] });
    });
  } catch (err) {
    // Decided (or expired) between our read and the Update, or its workflow already ended.
    if (err instanceof WorkflowNotFoundError || (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === PROVIDER_NOT_PENDING)) {
      throw notPending((await loadProvider(db, row.id))?.status ?? row.status);
    }
    throw err;
  }
  return renderProvider((await loadProvider(db, row.id))!, operator);
}
