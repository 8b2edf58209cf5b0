import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** A forwarding proxy process in front of one listener (test/support/forwarding-proxy-process.mjs). */
export interface ForwardingProxy {
  /** The proxy's URL (on 127.0.0.1): call it instead of the listener. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts a real proxy process in front of `target` that appends the client
 * address it sees to `X-Forwarded-For`, as a load balancer does; resolves
 * once it listens.
 */
export function startForwardingProxy(target: string): Promise<ForwardingProxy> {
  const child = spawn(process.execPath, [resolve(__dirname, 'forwarding-proxy-process.mjs'), target], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((ready, fail) => {
    let out = '';
    child.once('exit', (code) => fail(new Error(`the forwarding proxy exited (${code}) before it listened: ${out}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n')[0];
      if (!out.includes('\n') || line === undefined) return;
      const { port } = JSON.parse(line) as { port: number };
      ready({
        url: `http://127.0.0.1:${port}`,
        async stop() {
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}
