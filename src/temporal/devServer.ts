import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { platformSearchAttributes } from './searchAttributes';
import { resolveTemporalCli } from './cli';

export interface DevServerOptions {
  cliPath?: string;
  namespace: string;
  /** Fixed frontend port (npm start uses 7233); random when omitted (tests). */
  port?: number;
  /** Web UI port; no UI when omitted. */
  uiPort?: number;
  /** SQLite file, so workflows survive a restart; in-memory when omitted. */
  dbFilename?: string;
  /** Extra dev-server flags, e.g. dynamic config for tests. */
  extraArgs?: string[];
  log?: (msg: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

/** Starts the Temporal CLI dev server with every platform search attribute registered. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const cli = await resolveTemporalCli({ explicitPath: opts.cliPath, log: opts.log });
  opts.log?.(cli ? `temporal CLI: ${cli.path} (${cli.source})` : 'temporal CLI not found and no Go: downloading the dev server');
  if (opts.dbFilename) fs.mkdirSync(path.dirname(opts.dbFilename), { recursive: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: cli ? { type: 'existing-path', path: cli.path } : { type: 'cached-download' },
      ip: '127.0.0.1',
      port: opts.port,
      namespace: opts.namespace,
      ui: opts.uiPort !== undefined,
      uiPort: opts.uiPort,
      dbFilename: opts.dbFilename,
      searchAttributes: platformSearchAttributes,
      log: { format: 'json', level: 'warn' },
      extraArgs: opts.extraArgs,
    },
  });
  return {
    address: env.address,
    uiUrl: opts.uiPort !== undefined ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    stop: () => env.teardown(),
  };
}
