import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { startWorkflowEnv, uniqueId, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/** The `maintenance-purge` schedule's workflow (type name as src/workers/schedules.ts starts it), activities mocked. */
const PURGE_WORKFLOW = 'purgeExpiredRecords';
type PurgeWorkflow = () => Promise<{ idempotencyKeysPurged: number; sessionRecordsPurged: number }>;
const purgeId = (id: string) => `purge-test:${id}`;

describe('purgeExpiredRecords workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['purgeIdempotencyKeys', 'purgeEndedSessions'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('purges once and reports how many keys and session records went', async () => {
    const workflowId = uniqueId(purgeId);
    const purgeIdempotencyKeys = jest.fn(async () => 7);
    const purgeEndedSessions = jest.fn(async () => 3);
    const handle = await t.start<PurgeWorkflow>(PURGE_WORKFLOW, { workflowId, args: [], mocks: { purgeIdempotencyKeys, purgeEndedSessions } });

    await expect(handle.result()).resolves.toEqual({ idempotencyKeysPurged: 7, sessionRecordsPurged: 3 });
    expect(purgeIdempotencyKeys).toHaveBeenCalledTimes(1);
    expect(t.callNames(workflowId)).toEqual(['purgeIdempotencyKeys', 'purgeEndedSessions']);
  });

  it('fails with the purge when it fails for good', async () => {
    const workflowId = uniqueId(purgeId);
    const purgeIdempotencyKeys = jest.fn(async (): Promise<number> => {
      throw ApplicationFailure.nonRetryable('relation "idempotency_keys" does not exist', 'DatabaseError');
    });
    const handle = await t.start<PurgeWorkflow>(PURGE_WORKFLOW, { workflowId, args: [], mocks: { purgeIdempotencyKeys, purgeEndedSessions: jest.fn(async () => 0) } });

    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ActivityFailure);
    expect((cause as ActivityFailure).cause).toMatchObject({ type: 'DatabaseError' });
    expect(purgeIdempotencyKeys).toHaveBeenCalledTimes(1);
  });
});
