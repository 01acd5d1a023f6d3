import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { PROJECT_ROOT as ROOT, WEB_DIST } from '../api/http/webApp';

/** The browser app's sources and its build (web/dist, served by the API at `/`). */
export const WEB_DIST_INDEX = path.join(WEB_DIST, 'index.html');
const WEB_SOURCES = ['web/src', 'web/public', 'web/index.html', 'web/vite.config.mts'].map((p) => path.join(ROOT, p));

function newestMtime(file: string): number {
  if (!fs.existsSync(file)) return 0;
  const stat = fs.statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return fs.readdirSync(file).reduce((newest, name) => Math.max(newest, newestMtime(path.join(file, name))), stat.mtimeMs);
}

/** Whether web/dist is missing or older than any of the app's sources. */
export function webBuildIsStale(): boolean {
  if (!fs.existsSync(WEB_DIST_INDEX)) return true;
  return fs.statSync(WEB_DIST_INDEX).mtimeMs < Math.max(...WEB_SOURCES.map(newestMtime));
}

/** Runs `npm run web:build` when the build is stale; resolves false when it was up to date. */
export function buildWebAppIfStale(log: (msg: string) => void): Promise<boolean> {
  if (!webBuildIsStale()) return Promise.resolve(false);
  log('building the web app (web/dist is missing or older than web/src)');
  return new Promise((resolve, reject) => {
    // Vite follows an inherited NODE_ENV (jest sets `test`), which would ship React's development build.
    const env = { ...process.env, NODE_ENV: 'production' };
    const child = spawn('npm', ['run', '--silent', 'web:build'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(true) : reject(new Error(`npm run web:build exited with ${code}`))));
  });
}
