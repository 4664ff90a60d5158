// Servers on 127.0.0.1 for the tests of calls under deadlines, each closed at the test's end: a black hole (a TCP
// server that accepts and never answers, as a partition looks to a client) and a plain HTTP server; and `timed`, how
// a call ended and after how long.

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export const urlOf = (server: { address(): AddressInfo | string | null }): string =>
  `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Accepts connections and never answers (nor closes) them; its URL. */
export async function blackHole(t: Teardown): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return urlOf(server);
}

/** An HTTP server answering with `serve`. */
export async function httpServer(
  t: Teardown,
  serve: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Server> {
  const server = createHttpServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return server;
}

/**
 * How `call` ended (its error, null if it succeeded) and after how many ms; with `hungMs`, a call still waiting then
 * ends with an error saying so, for a test of something that would otherwise wait for ever.
 */
export async function timed(call: Promise<unknown>, hungMs?: number): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  let hung: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    if (hungMs !== undefined) hung = setTimeout(() => reject(new Error(`still waiting after ${hungMs} ms`)), hungMs);
  });
  try {
    await Promise.race([call, limit]);
    return { error: null, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  } finally {
    clearTimeout(hung);
  }
}
