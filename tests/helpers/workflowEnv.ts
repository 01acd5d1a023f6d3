import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandleWithFirstExecutionRunId, WorkflowStartOptions } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { Activities, PaymentQueueActivities } from '../../src/activities';
import { paymentsTaskQueue } from '../../src/temporal/taskQueues';
import { readTestEnvironment } from './testEnv';

/**
 * Fast workflow tests: the run's Temporal dev server (real timers, no time-skipping) and its prebuilt workflow
 * bundle, with every activity mocked. A test file gets its own task queue (and the payments queue derived from
 * it), and each workflow id gets its own mocks, so the mocks of one test never answer another test's workflow.
 *
 * Every activity call is recorded per workflow id, in the order the worker ran it (`calls`), across all of
 * that workflow's runs (continue-as-new keeps the id).
 */

type AllActivities = Activities & PaymentQueueActivities;
export type ActivityName = keyof AllActivities;
/** Activity K's input (its one argument) and its result, as the real activity factories type them. */
export type ActivityInput<K extends ActivityName> = Parameters<AllActivities[K]>[0];
export type ActivityResult<K extends ActivityName> = Awaited<ReturnType<AllActivities[K]>>;
/** What a mock of activity K may be: anything taking its arguments and answering its result (or throwing). */
export type ActivityMock<K extends ActivityName> = (...args: Parameters<AllActivities[K]>) => ActivityResult<K> | Promise<ActivityResult<K>>;
export type ActivityMocks = { [K in ActivityName]?: ActivityMock<K> };

export interface ActivityCall {
  name: ActivityName;
  /** The activity's first argument (every activity here takes one input object, or none). */
  input: unknown;
  /** The worker task queue it ran on (main or payments). */
  taskQueue: string;
  /** The workflow run that scheduled it (a continue-as-new starts a new run under the same id). */
  runId: string;
  attempt: number;
  /** When the worker ran it (Date.now()). */
  at: number;
  /** The timeouts the workflow gave it. */
  startToCloseTimeoutMs: number;
  scheduleToCloseTimeoutMs: number;
}

export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  client: Client;
  /** This file's main task queue (workflows and main-queue activities). */
  taskQueue: string;
  /** Its payments queue (paymentsTaskQueue(taskQueue)), served by a worker with only the payment activities. */
  paymentsTaskQueue: string;
  /** Routes the activity calls of workflow `workflowId` (every run of it) to `mocks`. */
  mock(workflowId: string, mocks: ActivityMocks): void;
  /** The activity calls workflow `workflowId` made so far, in order. */
  calls(workflowId: string): ActivityCall[];
  /** Just the names, in order. */
  callNames(workflowId: string): ActivityName[];
  /** Call number `nth` (default the first) of activity `name` by workflow `workflowId` (throws when there was none). */
  call(workflowId: string, name: ActivityName, nth?: number): ActivityCall;
  /** Starts workflow `type` as `workflowId` on this file's task queue, routing its activities to `mocks`. */
  start<T extends (...args: any[]) => Promise<any>>(
    type: string,
    opts: { workflowId: string; args: Parameters<T>; mocks: ActivityMocks },
  ): Promise<WorkflowHandleWithFirstExecutionRunId<T>>;
  close(): Promise<void>;
}

/** The warm-up's workflow: the maintenance purge (one activity, mocked here too). */
const WARM_UP_WORKFLOW = 'purgeExpiredRecords';

/**
 * Worker SDK logs at ERROR: these tests fail activities and workflows on purpose, and each would log a WARN.
 * (Runtime is a module-level singleton, so this applies to this test file only; TEST_TEMPORAL_LOG_LEVEL overrides.)
 */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger((process.env.TEST_TEMPORAL_LOG_LEVEL as 'ERROR' | undefined) ?? 'ERROR'), shutdownSignals: [] });
  } catch {
    // Already installed by an earlier test file in this process.
  }
}

/**
 * A worker on a unique task queue serving the workflows (from the run's bundle) and the main-queue activities
 * `main`, and one on its payments queue serving `payments`. The names listed are the only activities the
 * workers register; each call goes to the mock registered for the calling workflow's id.
 */
export async function startWorkflowEnv(opts: { main: ActivityName[]; payments?: ActivityName[] }): Promise<WorkflowTestEnv> {
  quietRuntime();
  const { temporalAddress, workflowBundlePath } = readTestEnvironment();
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: temporalAddress, namespace: 'default' });
  const caller = path.basename(expect.getState().testPath ?? 'wf').replace(/\.test\.ts$/, '');
  const taskQueue = `wf-${caller}-${randomUUID().slice(0, 8)}`;
  const payQueue = paymentsTaskQueue(taskQueue);

  const mocks = new Map<string, ActivityMocks>();
  const recorded = new Map<string, ActivityCall[]>();

  const route = (names: ActivityName[]) =>
    Object.fromEntries(
      names.map((name) => [
        name,
        async (input: unknown) => {
          const info = Context.current().info;
          const workflowId = info.workflowExecution?.workflowId ?? '';
          const list = recorded.get(workflowId) ?? [];
          recorded.set(workflowId, list);
          list.push({
            name,
            input,
            taskQueue: info.taskQueue,
            runId: info.workflowExecution?.runId ?? '',
            attempt: info.attempt,
            at: Date.now(),
            startToCloseTimeoutMs: info.startToCloseTimeoutMs,
            scheduleToCloseTimeoutMs: info.scheduleToCloseTimeoutMs,
          });
          const mock = mocks.get(workflowId)?.[name] as ((input: unknown) => unknown) | undefined;
          // Non-retryable, so a missing mock fails the workflow at once instead of retrying every second.
          if (!mock) throw ApplicationFailure.nonRetryable(`no mock for activity ${name} of ${workflowId}`, 'UnmockedActivity');
          return mock(input);
        },
      ]),
    );

  const common = { connection: env.nativeConnection, namespace: 'default', shutdownGraceTime: '1s' } as const;
  const mainActivities: ActivityName[] = [...new Set<ActivityName>([...opts.main, 'purgeIdempotencyKeys', 'purgeEndedSessions'])];
  const main = await Worker.create({ ...common, taskQueue, workflowBundle: { codePath: workflowBundlePath }, activities: route(mainActivities) });
  const workers = [main];
  if (opts.payments?.length) workers.push(await Worker.create({ ...common, taskQueue: payQueue, activities: route(opts.payments) }));
  const running = Promise.all(workers.map((w) => w.run()));

  // The worker's first workflow task loads the bundle into a fresh context (a few hundred ms): pay it here, once
  // per file, with the smallest workflow there is, rather than in whichever test happens to run first.
  const warmUp = `warm-up:${taskQueue}`;
  mocks.set(warmUp, { purgeIdempotencyKeys: () => 0, purgeEndedSessions: () => 0 });
  await env.client.workflow.execute(WARM_UP_WORKFLOW, { taskQueue, workflowId: warmUp });
  recorded.delete(warmUp);

  const self: WorkflowTestEnv = {
    env,
    client: env.client,
    taskQueue,
    paymentsTaskQueue: payQueue,
    mock: (workflowId, m) => void mocks.set(workflowId, m),
    calls: (workflowId) => [...(recorded.get(workflowId) ?? [])],
    callNames: (workflowId) => (recorded.get(workflowId) ?? []).map((c) => c.name),
    call: (workflowId, name, nth = 0) => {
      const found = (recorded.get(workflowId) ?? []).filter((c) => c.name === name)[nth];
      if (!found) throw new Error(`${workflowId} made no call #${nth} of ${name}`);
      return found;
    },
    async start(type, { workflowId, args, mocks: m }) {
      self.mock(workflowId, m);
      // No execution timeout: the server would cap every activity timeout to it (and some tests assert those).
      const options = { taskQueue, workflowId, args } as WorkflowStartOptions<any>;
      return (await env.client.workflow.start(type, options)) as never;
    },
    async close() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await env.teardown();
    },
  };
  return self;
}

/** A fresh id under a contract's id function, e.g. `uniqueId(campaignWorkflowId)`. */
export const uniqueId = (idOf: (id: string) => string) => idOf(randomUUID());

/** A promise settled from outside: a mock that waits until the test lets it answer. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void; reject(err: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A mock answering `answers` in turn (the last one again once they run out). */
export function inTurn<I, R>(...answers: R[]) {
  let n = 0;
  return jest.fn(async (_: I): Promise<R> => answers[Math.min(n++, answers.length - 1)]!);
}

/** Resolves after `ms` of real time (a mock that takes a while, or a wait between signals). */
export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The event types of one run's history, in order, e.g. `TIMER_STARTED`, `WORKFLOW_EXECUTION_CONTINUED_AS_NEW`. */
export async function historyEventTypes(client: Client, workflowId: string, runId?: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return (history.events ?? []).map((e) => String(temporal.api.enums.v1.EventType[e.eventType ?? 0]).replace(/^EVENT_TYPE_/, ''));
}
