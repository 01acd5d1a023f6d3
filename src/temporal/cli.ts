import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Newer tags carry a `replace` directive in go.mod and cannot be `go install`ed. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  return envPath
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, name))
    .find(isExecutable);
}

async function goBinDir(): Promise<string | undefined> {
  const go = onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) return undefined;
  const { stdout } = await run(go, ['env', 'GOBIN', 'GOPATH']);
  const [gobin, gopath] = stdout.split('\n').map((s) => s.trim());
  return gobin || path.join(gopath || path.join(process.env.HOME ?? '/root', 'go'), 'bin');
}

export type CliResolution = { path: string; source: 'TEMPORAL_CLI_PATH' | 'PATH' | 'go-bin' | 'go-install' } | undefined;

/**
 * Finds the `temporal` CLI: TEMPORAL_CLI_PATH → `temporal` on PATH → an earlier `go install` → a fresh
 * `go install` when Go is present. Undefined means "let @temporalio/testing download the dev server"
 * (only works with internet access).
 */
export async function resolveTemporalCli(
  opts: { explicitPath?: string; log?: (msg: string) => void } = {},
): Promise<CliResolution> {
  const found = await resolveGoTool({ binary: 'temporal', module: TEMPORAL_CLI_MODULE, setting: 'TEMPORAL_CLI_PATH', ...opts });
  return found && { path: found.path, source: found.source === 'setting' ? 'TEMPORAL_CLI_PATH' : found.source };
}

export interface GoTool {
  /** Executable name, e.g. `mailpit`. */
  binary: string;
  /** What `go install` builds it from, with its version. */
  module: string;
  /** The setting that names it explicitly (for the error message). */
  setting: string;
  explicitPath?: string;
  log?: (msg: string) => void;
}

/**
 * Finds a tool built with Go, the same way for each: its setting → on PATH → an earlier `go install` → a
 * fresh `go install` when Go is present (a few minutes, once). Undefined when none applies (no Go).
 */
export async function resolveGoTool(tool: GoTool): Promise<{ path: string; source: 'setting' | 'PATH' | 'go-bin' | 'go-install' } | undefined> {
  const log = tool.log ?? (() => undefined);
  if (tool.explicitPath) {
    if (!isExecutable(tool.explicitPath)) {
      throw new Error(`${tool.setting}=${tool.explicitPath} is not an executable file. Fix the path or unset it.`);
    }
    return { path: tool.explicitPath, source: 'setting' };
  }
  const fromPath = onPath(tool.binary);
  if (fromPath) return { path: fromPath, source: 'PATH' };

  const bin = await goBinDir().catch(() => undefined);
  if (!bin) return undefined;
  const installed = path.join(bin, tool.binary);
  if (isExecutable(installed)) return { path: installed, source: 'go-bin' };

  log(`${tool.binary} not found; building it with go install ${tool.module} (takes a few minutes once)`);
  const go = onPath('go') ?? '/usr/local/go/bin/go';
  await run(go, ['install', tool.module], { maxBuffer: 64 * 1024 * 1024, timeout: 20 * 60_000 });
  if (!isExecutable(installed)) throw new Error(`go install finished but ${installed} is missing`);
  return { path: installed, source: 'go-install' };
}
