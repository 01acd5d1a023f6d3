import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * What globalSetup started, shared with every test file through a small JSON file (process.env set in
 * globalSetup is not reliably seen by jest's workers).
 */
export interface TestEnvironment {
  databaseUrl: string;
  redisUrl: string;
  temporalAddress: string;
  stripeMockUrl: string;
  /** The run's Mailpit: its HTTP API (what was sent) and its SMTP server. */
  mailpitUrl: string;
  smtpUrl: string;
  workflowBundlePath: string;
}

/** History length at which the test Temporal server suggests continue-as-new (the default is thousands). */
export const CONTINUE_AS_NEW_SUGGESTED_AT = 60;

export const TEST_ENV_FILE = path.join(os.tmpdir(), `pledgeflow-test-env-${process.env.PLEDGEFLOW_TEST_RUN ?? 'default'}.json`);

export function readTestEnvironment(): TestEnvironment {
  return JSON.parse(fs.readFileSync(TEST_ENV_FILE, 'utf8')) as TestEnvironment;
}
