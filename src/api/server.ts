/**
 * Serves a Koa app over plain HTTP (TLS is left to a reverse proxy in front).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

/** How long `close` waits for running requests before cutting their connections. */
export const CLOSE_GRACE_MS = 5000;

export interface RunningServer {
  /** `http://host:port/`, with the port actually bound (useful with port 0). */
  url: string;
  /** Stops accepting, ends idle keep-alive connections, and waits for open requests
   * (at most `CLOSE_GRACE_MS`). */
  close(): Promise<void>;
}

export async function listen<S>(app: Koa<S>, host: string, port: number): Promise<RunningServer> {
  const handle = app.callback();
  const server = createServer((request, response) => {
    void handle(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Requests still running get a grace period; then their connections are cut.
        const cut = setTimeout(() => {
          server.closeAllConnections();
        }, CLOSE_GRACE_MS);
        cut.unref();
        server.close((error) => {
          clearTimeout(cut);
          if (error === undefined) resolve();
          else reject(error);
        });
        server.closeIdleConnections();
      }),
  };
}
