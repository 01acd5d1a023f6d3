#!/usr/bin/env node
'use strict';
/**
 * Installs npm dependencies when they are missing or stale, before anything that needs them runs
 * (`npm start`, `npm test`, `npm run api|worker`). Plain Node with no dependencies, because it runs before
 * node_modules exists. Silent when there is nothing to do, so it costs nothing on every start.
 *
 * Stale means: package-lock.json changed since the last install (npm writes node_modules/.package-lock.json
 * on every install), or package.json asks for a dependency the lockfile does not record.
 *
 * `--check` only reports: exit 0 when up to date, 1 (with the reason) when an install is due.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lockFile = path.join(root, 'package-lock.json');
const installedLock = path.join(root, 'node_modules', '.package-lock.json');

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why an install is needed, or undefined when node_modules matches the lockfile. */
function staleReason() {
  if (!fs.existsSync(path.join(root, 'node_modules'))) return 'node_modules is missing';
  if (!fs.existsSync(lockFile)) return 'there is no package-lock.json';
  const manifest = readJson(path.join(root, 'package.json')) ?? {};
  const lock = readJson(lockFile);
  const rootEntry = lock?.packages?.[''] ?? {};
  for (const field of ['dependencies', 'devDependencies']) {
    for (const [name, spec] of Object.entries(manifest[field] ?? {})) {
      if (rootEntry[field]?.[name] !== spec) return `package.json wants ${name}@${spec}, which package-lock.json does not record`;
    }
  }
  const installed = readJson(installedLock);
  if (!installed) return 'node_modules was not installed by npm';
  if (fs.statSync(lockFile).mtimeMs <= fs.statSync(installedLock).mtimeMs) return undefined;
  // The lockfile is newer (a pull or checkout touched it); reinstall only if its content really differs.
  // Optional packages for other platforms (e.g. other @swc/core binaries) are never installed, so skip those.
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (key === '' || entry.optional || entry.link) continue;
    if (installed.packages?.[key]?.version !== entry.version) return `package-lock.json changed (${key})`;
  }
  const now = new Date();
  fs.utimesSync(installedLock, now, now);
  return undefined;
}

function npm(args, opts = {}) {
  // npm 11 warns about install scripts it did not run; the packages used here ship prebuilt binaries
  // and work without them, so only the exit status decides.
  const result = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: root,
    stdio: ['ignore', opts.quiet ? 'pipe' : 'inherit', opts.quiet ? 'pipe' : 'inherit'],
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
  if (result.error) throw result.error;
  return { status: result.status ?? 1, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/**
 * `npm ci` installs exactly the lockfile. It refuses a lockfile that lacks the other platforms' optional
 * binaries (@swc/core-darwin-*, ...), which is what npm writes where the registry serves only this
 * platform's; `npm install --no-save` then installs the same locked versions without rewriting the lockfile.
 */
function installLocked() {
  const ci = npm(['ci'], { quiet: true });
  if (ci.status === 0) return 0;
  if (!/can only install packages when your package\.json and package-lock\.json/.test(ci.output)) {
    process.stderr.write(ci.output);
    return ci.status;
  }
  console.error('bootstrap: npm ci refused the lockfile (other platforms\' optional packages missing); using npm install --no-save');
  return npm(['install', '--no-save']).status;
}

function main() {
  const reason = staleReason();
  if (!reason) return 0;
  if (process.argv.includes('--check')) {
    console.error(`bootstrap: ${reason}; npm start or npm test would install dependencies`);
    return 1;
  }
  const manifestChanged = reason.startsWith('package.json wants') || reason === 'there is no package-lock.json';
  const command = manifestChanged ? 'install' : 'ci';
  console.error(`bootstrap: ${reason}; running npm ${command} ...`);
  const started = Date.now();
  const status = command === 'ci' ? installLocked() : npm([command]).status;
  if (status !== 0) {
    console.error(`bootstrap: npm ${command} failed (exit ${status}). Fix the error above and run it again.`);
    return status;
  }
  console.error(`bootstrap: dependencies installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return 0;
}

process.exitCode = main();
