import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './ownedPostgres';

/**
 * A redis-server of our own on a free loopback port, for tests that stop Redis under a running API (never the
 * shared one). No persistence: a restart comes back empty, as after a real loss.
 */
export interface OwnedRedis {
  port: number;
  url(db?: number): string;
  start(): Promise<void>;
  /** SIGKILL: the connection drops without a goodbye. */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

export async function startOwnedRedis(): Promise<OwnedRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const instance: OwnedRedis = {
    port,
    url: (db = 0) => `redis://127.0.0.1:${port}/${db}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      for (let i = 0; i < 100 && !(await accepting(port)); i++) await new Promise((r) => setTimeout(r, 50));
      if (!(await accepting(port))) throw new Error(`owned redis-server did not start on port ${port}`);
    },
    async kill() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    destroy: () => instance.kill(),
  };
  await instance.start();
  return instance;
}
