import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  makeContinueAsNewFunc,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../../activities';
import { deadlineChangeError, formatMoney, percentFunded, type Outcome } from '../../domain/campaigns';
import { CampaignStatus } from '../../temporal/searchAttributes';
import { paymentsTaskQueue } from '../../temporal/taskQueues';
import { CAMPAIGN_ALREADY_DECIDED, type CampaignLifecycleInput, type CampaignLifecycleResult, INVALID_DEADLINE, type LifecyclePhase, type SettlementProgress, cancelCampaignUpdate, extendDeadlineUpdate, lifecycleStateQuery } from '../../campaigns/contract';

/**
 * One campaign's life: `campaign:<id>`, started by launch. It owns the campaign's timers (start, deadline)
 * and the decision; pledges never signal into it (a campaign may have 100k of them, far past history
 * limits), so totals are read from Postgres by activities at the moments they matter.
 */

const DEFAULT_BATCH_SIZE = 200;

const { activateCampaign, markCampaignLive, setCampaignDeadline, decideCampaign, markCampaignSettled } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

export async function campaignLifecycle(input: CampaignLifecycleInput): Promise<CampaignLifecycleResult> {
  const { campaignId } = input;
  // Resolved here, not at module load: the payments queue is named after the queue this run is on.
  const { settlePledgeBatch } = proxyActivities<Pick<PaymentQueueActivities, 'settlePledgeBatch'>>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1s', maximumInterval: '30s' },
  });

  let phase: LifecyclePhase = input.phase ?? 'starting';
  let endsAt = new Date(input.endsAt);
  let deadlineVersion = 0;
  let cancelled = false;
  let cancelReason: string | undefined;
  let progress: SettlementProgress | undefined = input.settlement ? { ...input.settlement } : undefined;
  let decision: { outcome: Outcome; settlement: 'collect' | 'void' } | undefined = progress
    ? { outcome: progress.outcome, settlement: progress.action }
    : undefined;
  const totals = { pledgedCents: progress?.pledgedCents ?? 0, backerCount: progress?.backerCount ?? 0 };
  const batchSize = input.batchSize ?? DEFAULT_BATCH_SIZE;

  // Once the decision step has begun, neither the deadline nor a cancel may change what it decides.
  const decisionStarted = () => phase === 'deciding' || phase === 'settling' || phase === 'settled';

  const setTotals = (t: { pledgedCents: number; backerCount: number }) => {
    totals.pledgedCents = t.pledgedCents;
    totals.backerCount = t.backerCount;
  };

  const showDetails = () => {
    const money = `${formatMoney(totals.pledgedCents, input.currency)} of ${formatMoney(input.goalCents, input.currency)}`;
    const funded = `${percentFunded(totals.pledgedCents, input.goalCents)}%`;
    const lines = [
      `**Phase:** ${phase}${decision ? ` (${decision.outcome})` : ''}${cancelled && !decision ? ' (cancel requested)' : ''}`,
      ...(cancelReason ? [`**Cancel reason:** ${cancelReason}`] : []),
      `**Pledged:** ${money} (${funded}), ${totals.backerCount} backers`,
      `**Deadline:** ${endsAt.toISOString()}`,
    ];
    if (progress) {
      lines.push(
        `**Settlement (${progress.action}):** ${progress.processed} processed, ${progress.collected} collected, ${progress.failed} failed, ${progress.voided} voided`,
      );
    }
    setCurrentDetails(lines.join('\n\n'));
  };

  const setStatus = (status: string) => upsertSearchAttributes([{ key: CampaignStatus, value: status }]);

  setHandler(lifecycleStateQuery, () => ({
    phase,
    endsAt: endsAt.toISOString(),
    cancelled,
    ...(decision ? { outcome: decision.outcome } : {}),
    pledgedCents: totals.pledgedCents,
    backerCount: totals.backerCount,
    processed: progress?.processed ?? 0,
    collected: progress?.collected ?? 0,
    failed: progress?.failed ?? 0,
    voided: progress?.voided ?? 0,
  }));

  setHandler(
    extendDeadlineUpdate,
    async ({ endsAt: requested }) => {
      // The timer moves at once, so the old deadline cannot fire while the new one is being saved.
      endsAt = new Date(requested);
      deadlineVersion += 1;
      showDetails();
      // Persisting is conditional on moving later, so out-of-order saves of two extensions keep the latest.
      setTotals(await setCampaignDeadline({ campaignId, endsAt: endsAt.toISOString() }));
      showDetails();
      return { ends_at: endsAt.toISOString() };
    },
    {
      validator: ({ endsAt: requested }) => {
        if (decisionStarted()) throw alreadyDecided();
        const next = new Date(requested);
        if (Number.isNaN(next.getTime())) throw invalidDeadline('The new deadline is not a valid date.');
        const error = deadlineChangeError(endsAt, next, new Date());
        if (error) throw invalidDeadline(error);
      },
    },
  );

  setHandler(
    cancelCampaignUpdate,
    async ({ reason }) => {
      cancelled = true;
      cancelReason = reason;
      showDetails();
      // Answer with the decision itself, so the caller knows the campaign is cancelled, not just asked to be.
      // A campaign found already decided at activation ends without a decision of this run's: refuse then.
      await condition(() => decision !== undefined || phase === 'settled');
      if (!decision) throw alreadyDecided();
      return { status: decision.outcome };
    },
    {
      validator: (_input: { reason?: string }) => {
        if (decisionStarted()) throw alreadyDecided();
      },
    },
  );

  if (phase === 'starting') {
    // The launch request normally did this already; a launch that died before committing did not.
    const activated = await activateCampaign({ campaignId });
    setTotals(activated);
    if (activated.status !== 'scheduled' && activated.status !== 'live') {
      // Settled or decided without this workflow (e.g. a draft cancelled before a retried launch ran it).
      phase = 'settled';
      showDetails();
      await condition(allHandlersFinished);
      return { outcome: null, processed: 0, collected: 0, failed: 0, voided: 0 };
    }
    const startsAt = input.startsAt ? new Date(input.startsAt) : undefined;
    phase = startsAt && startsAt.getTime() > Date.now() ? 'scheduled' : 'live';
  }

  if (phase === 'scheduled') {
    setStatus('scheduled');
    showDetails();
    const startsAt = new Date(input.startsAt!);
    await condition(() => cancelled, Math.max(1, startsAt.getTime() - Date.now()));
    if (!cancelled) {
      setTotals(await markCampaignLive({ campaignId }));
      phase = 'live';
    }
  }

  if (phase === 'live') {
    setStatus('live');
    showDetails();
    // The deadline is data an Update can move: wait for it, a cancel, or a new deadline (then re-arm).
    while (!cancelled) {
      const msLeft = endsAt.getTime() - Date.now();
      if (msLeft <= 0) break;
      const version = deadlineVersion;
      await condition(() => cancelled || deadlineVersion !== version, msLeft);
    }
  }

  if (phase === 'scheduled' || phase === 'live') {
    phase = 'deciding';
    showDetails();
    const decided = await decideCampaign({ campaignId, cancelled });
    setTotals(decided);
    decision = { outcome: decided.outcome, settlement: decided.settlement };
    setStatus(decided.outcome);
  }

  if (phase === 'deciding' || phase === 'settling') {
    phase = 'settling';
    const p: SettlementProgress = (progress ??= {
      action: decision!.settlement,
      outcome: decision!.outcome,
      afterPledgeId: null,
      processed: 0,
      collected: 0,
      failed: 0,
      voided: 0,
      pledgedCents: totals.pledgedCents,
      backerCount: totals.backerCount,
    });
    showDetails();
    for (;;) {
      const batch = await settlePledgeBatch({ campaignId, action: p.action, afterPledgeId: p.afterPledgeId, batchSize });
      p.afterPledgeId = batch.lastPledgeId ?? p.afterPledgeId;
      p.processed += batch.processed;
      p.collected += batch.collected;
      p.failed += batch.failed;
      p.voided += batch.voided;
      showDetails();
      if (batch.done) break;
      if (workflowInfo().continueAsNewSuggested) {
        // Updates in flight would be lost with this run; validators already refuse new ones.
        await condition(allHandlersFinished);
        const next = makeContinueAsNewFunc<typeof campaignLifecycle>({ typedSearchAttributes: workflowInfo().typedSearchAttributes });
        return next({ ...input, endsAt: endsAt.toISOString(), batchSize, phase: 'settling', settlement: { ...p } });
      }
    }
    await markCampaignSettled({ campaignId });
    phase = 'settled';
    setStatus('settled');
    showDetails();
  }

  await condition(allHandlersFinished);
  return {
    outcome: decision?.outcome ?? null,
    processed: progress?.processed ?? 0,
    collected: progress?.collected ?? 0,
    failed: progress?.failed ?? 0,
    voided: progress?.voided ?? 0,
  };
}

function invalidDeadline(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: INVALID_DEADLINE, message, nonRetryable: true });
}

function alreadyDecided(): ApplicationFailure {
  return ApplicationFailure.create({
    type: CAMPAIGN_ALREADY_DECIDED,
    message: 'The campaign has already been decided; its deadline and status can no longer change.',
    nonRetryable: true,
  });
}
