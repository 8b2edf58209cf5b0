/**
 * The customer's React page of test/e2e/react-page, built by Vite and
 * served with the two things its backend gives it: /config.json (the
 * public values and an identity token for whoever the backend says is
 * signed in) and /identity/<userId> (a fresh identity token). Used by
 * test/e2e/react.e2e.test.ts (the repository's build, React 19) and
 * test/e2e/packages.e2e.test.ts (the packed package, React 18 and 19).
 */
import { execFile as execFileCallback } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';

const execFile = promisify(execFileCallback);
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** Where the page's sources are (index.html, main.tsx). */
export const REACT_PAGE_DIR = join(__dirname, '../e2e/react-page');

/**
 * `vite build` of the page in `root` into `outDir` (asset URLs relative, so
 * a build can be served under any path), with Vite from `viteBin` and an
 * optional config file (e.g. aliases to another React).
 */
export async function buildReactPage(options: { viteBin: string; root: string; outDir: string; configFile?: string }): Promise<void> {
  const args = [options.viteBin, 'build', options.root, '--outDir', options.outDir, '--emptyOutDir', '--base', './', '--logLevel', 'warn'];
  if (options.configFile) args.push('--config', options.configFile);
  try {
    await execFile(process.execPath, args, { cwd: options.root, timeout: 60_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`vite build of ${options.root} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

export interface ReactPageServer {
  /** `http://localhost:<port>`: put it in the site's allowedOrigins. */
  readonly origin: string;
  /** The URL of build `name`. */
  url(name: string): string;
  close(): Promise<void>;
}

/**
 * Serves each build of `builds` under `/<name>/`, and the page's backend:
 * `config()` answers /config.json, `identityToken(userId)` /identity/<userId>.
 */
export async function serveReactPages(options: {
  builds: Record<string, string>;
  config: () => Promise<Record<string, unknown>>;
  identityToken: (userId: string) => Promise<string>;
}): Promise<ReactPageServer> {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', origin).pathname;
    const json = (body: unknown) => res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
    const fail = (err: unknown) => res.writeHead(500).end(String(err));
    if (path === '/config.json') return void options.config().then(json, fail);
    if (path.startsWith('/identity/')) {
      return void options.identityToken(decodeURIComponent(path.slice('/identity/'.length))).then((identityToken) => json({ identityToken }), fail);
    }
    const [, name = '', ...rest] = path.split('/');
    const dir = Object.hasOwn(options.builds, name) ? options.builds[name] : undefined;
    const file = normalize(rest.join('/') || 'index.html');
    if (!dir || file.startsWith('..')) return void res.writeHead(path === '/favicon.ico' ? 204 : 404).end();
    try {
      const body = readFileSync(join(dir, file));
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return {
    origin,
    url: (name) => `${origin}/${name}/`,
    close: () => new Promise<void>((done, fail) => server.close((err) => (err ? fail(err) : done()))),
  };
}
