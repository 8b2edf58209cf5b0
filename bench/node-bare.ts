import { createServer } from 'node:http';

/**
 * Baseline: Node's own `http` server answering a constant JSON body. The
 * request body is read (and dropped) so the work per request matches what
 * any real handler must do at least.
 */
const BODY = JSON.stringify({ isAuthenticated: true, environment: 'live' });

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(BODY));
    res.end(BODY);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
