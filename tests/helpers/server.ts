import http from 'node:http';
import net from 'node:net';
import type { Express } from 'express';

/**
 * A real listening server on a free loopback port, for an app or a bare request handler: for SSE (supertest
 * buffers whole responses, which never end for a stream), for many concurrent requests to one replica, and
 * for endpoints the code under test calls out to (webhook receivers).
 */
export async function listen(app: Express | http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app as http.RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port that was free a moment ago, for a process started by the test to listen on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
