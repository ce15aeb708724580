import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The HTTP server's connections and the requests in flight on each, for a graceful exit. A request
 * is in flight from its headers until its response is written out in full (the response's 'close':
 * after its last byte left Node for the kernel, or after the connection died). Node's own
 * `closeIdleConnections()` cannot be used for this: it destroys a connection as soon as its response
 * has been ended, even while megabytes of that response still wait in the socket's buffer.
 */
export class ConnectionTracker {
  /** Every open connection and how many of its requests are in flight. */
  readonly #requestsBySocket = new Map<Socket, number>();
  #inFlight = 0;
  #draining = false;
  #onDrained: Array<() => void> = [];

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.#requestsBySocket.set(socket, 0);
      socket.once('close', () => this.#requestsBySocket.delete(socket));
    });
  }

  /** Requests received whose responses are not written out yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get openConnections(): number {
    return this.#requestsBySocket.size;
  }

  /** Counts a request from its headers until its response is out (or its connection is gone). */
  track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    this.#inFlight++;
    this.#requestsBySocket.set(socket, (this.#requestsBySocket.get(socket) ?? 0) + 1);
    if (this.#draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.#inFlight--;
      const left = (this.#requestsBySocket.get(socket) ?? 1) - 1;
      if (this.#requestsBySocket.has(socket)) this.#requestsBySocket.set(socket, left);
      if (this.#draining && left === 0) endConnection(socket);
      if (this.#inFlight === 0) for (const resolve of this.#onDrained.splice(0)) resolve();
    });
  }

  /**
   * From now on every response closes its connection, and connections with nothing in flight are
   * ended now (after what was already written to them) and the others once their last response is
   * out. New connections are still accepted, so health probes keep getting answers. (A client
   * that reuses an idle connection just as it is ended sees it closed, as with any keep-alive
   * close, and retries on a new one.)
   */
  startDraining(): void {
    if (this.#draining) return;
    this.#draining = true;
    for (const [socket, requests] of this.#requestsBySocket) if (requests === 0) endConnection(socket);
  }

  /** Resolves once no request is in flight. */
  drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#onDrained.push(resolve));
  }

  /** Ends every connection with nothing in flight (more may have come since draining started). */
  endIdleConnections(): void {
    for (const [socket, requests] of this.#requestsBySocket) if (requests === 0) endConnection(socket);
  }

  /** Cuts every connection at once, whatever it is still sending (the exit deadline passed). */
  destroyAll(): void {
    for (const socket of this.#requestsBySocket.keys()) socket.destroy();
  }
}

/**
 * Ends a connection gracefully: what is buffered for it is written first, then FIN; once that went
 * out the socket is destroyed, so a client that never closes its side cannot hold the server open.
 */
function endConnection(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableFinished) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end();
}
