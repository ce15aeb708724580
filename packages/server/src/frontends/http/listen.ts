import type { Server } from 'node:http';
import { unavailable } from '../../errors/index.js';

/**
 * Binds a node:http server; a port in use is UNAVAILABLE with Triton's "Socket ... already in use"
 * text, any other failure names the service ("HTTP", "Metrics").
 */
export function listen(server: Server, options: { readonly address: string; readonly port: number }, service: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? unavailable(`Socket '${options.address}:${options.port}' already in use `)
          : unavailable(`failed to start ${service} service at ${options.address}:${options.port}: ${error.message}`),
      );
    };
    server.once('error', onError);
    server.listen({ port: options.port, host: options.address }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
