import express from 'express';

/** Baseline: Express 5 with `express.json()`, answering a constant JSON body. */
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: '16kb' }));
app.post('/live_api/s2s/v1/users/verification', (_req, res) => {
  res.json({ isAuthenticated: true, environment: 'live' });
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1');
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => server.close(() => process.exit(0)));
