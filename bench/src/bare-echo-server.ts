import { createServer } from 'node:http';

/**
 * The baseline: a bare node:http server that reads each request body and answers with fixed bytes
 * (the same bytes Nereid answers for that path). Whatever Nereid costs beyond this is its own layers.
 * Usage: node bare-echo-server.js <port>  with BARE_RESPONSES = JSON {path: {headers, body(base64)}}.
 */
interface Canned {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

const table = JSON.parse(process.env['BARE_RESPONSES'] ?? '{}') as Record<string, { headers: Record<string, string>; body: string }>;
const canned = new Map<string, Canned>(
  Object.entries(table).map(([path, r]) => [path, { headers: r.headers, body: Buffer.from(r.body, 'base64') }]),
);
const port = Number(process.argv[2]);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    Buffer.concat(chunks);
    const reply = canned.get(req.url ?? '');
    if (!reply) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { ...reply.headers, 'Content-Length': String(reply.body.length) });
    res.end(reply.body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`bare echo listening on ${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
