import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { freePort, startProcess, type Server } from './proc';

function ping(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (v: boolean): void => {
      socket.destroy();
      ok(v);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (c: Buffer) => {
      reply += c.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** A private, unpersisted redis-server on a free port of 127.0.0.1. */
export async function startRedis(): Promise<{ server: Server; url: string; version: string }> {
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const version = spawnSync(bin, ['--version']).stdout?.toString().match(/v=(\S+)/)?.[1] ?? 'unknown';
  const port = await freePort();
  const server = startProcess('redis-server', bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], process.env);
  for (let i = 0; i < 200; i++) {
    if (await ping(port)) return { server, url: `redis://127.0.0.1:${port}`, version };
    await new Promise((r) => setTimeout(r, 25));
  }
  await server.stop();
  throw new Error(`redis-server did not answer on port ${port}`);
}
