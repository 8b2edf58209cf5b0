// The peer: oidc-provider 9's RFC 7662 token introspection endpoint (Koa),
// with its default in-memory adapter (an LRU in this process), answering
// for an opaque access token that it issued itself (client_credentials).
// The client authenticates with client_secret_basic on every request, as a
// resource server does.
//
// Environment: PORT. Once ready, prints `BENCH-READY {"token", "authorization"}`.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const client = { id: 'bench-resource-server', secret: 'bench-secret-0123456789abcdefghijklmnop' };

// oidc-provider warns (to the console) about its development defaults; none of them are on this path.
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: client.id,
      client_secret: client.secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  ttl: { ClientCredentials: 3600 },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
});

const server = provider.listen(port, '127.0.0.1');
server.keepAliveTimeout = 65_000;
await new Promise((resolve) => server.once('listening', resolve));

const authorization = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
const res = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
  body: 'grant_type=client_credentials',
});
const body = await res.json();
if (res.status !== 200 || typeof body.access_token !== 'string') {
  process.stderr.write(`could not get a token: ${res.status} ${JSON.stringify(body)}\n`);
  process.exit(1);
}
process.stdout.write(`BENCH-READY ${JSON.stringify({ token: body.access_token, authorization })}\n`);
process.once('SIGTERM', () => server.close(() => process.exit(0)));
