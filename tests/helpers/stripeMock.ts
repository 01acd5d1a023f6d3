import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './server';

const run = promisify(execFile);

async function findStripeMock(): Promise<string> {
  if (process.env.STRIPE_MOCK_PATH) return process.env.STRIPE_MOCK_PATH;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'stripe-mock');
    if (fs.existsSync(p)) return p;
  }
  const { stdout } = await run('go', ['env', 'GOPATH']).catch(() => run('/usr/local/go/bin/go', ['env', 'GOPATH']));
  const installed = path.join(stdout.trim(), 'bin', 'stripe-mock');
  if (!fs.existsSync(installed)) {
    await run('go', ['install', 'github.com/stripe/stripe-mock@latest'], { timeout: 10 * 60_000 });
  }
  return installed;
}

/** Starts Stripe's official request validator on a free loopback port. */
export async function startStripeMock(): Promise<{ url: string; process: ChildProcess }> {
  const bin = await findStripeMock();
  const port = await freePort();
  // stripe-mock also opens HTTPS on :12112 unless told otherwise; a fixed port would make parallel runs collide.
  const child = spawn(bin, ['-http-addr', `127.0.0.1:${port}`, '-https-addr', '127.0.0.1:'], { stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`stripe-mock did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `http://127.0.0.1:${port}`, process: child };
}
