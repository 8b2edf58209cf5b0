import { newDeployment, startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { testRedisUrl } from '../support/redis';

jest.setTimeout(90_000);

/** Is a process with this pid still there? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const messages = (gateway: GatewayProcess, msg: string) => gateway.logLines().filter((line) => line.msg === msg);

describe('WORKERS=2', () => {
  let gateway: GatewayProcess;

  beforeAll(async () => {
    // debug: every request is logged, with the pid of the worker that served it.
    gateway = await startGatewayProcess(newDeployment({ redisUrl: testRedisUrl() }), {
      env: { WORKERS: '2', LOG_LEVEL: 'debug' },
    });
    // Ready means one worker answers; wait for both to have started listening.
    for (let i = 0; messages(gateway, 'verigate started').length < 2; i++) {
      if (i > 400) throw new Error(`second worker did not start:\n${gateway.stdout()}\n${gateway.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
  });

  it('forks two workers that share the ports and both serve requests', async () => {
    const started = messages(gateway, 'worker started').map((line) => line.workerPid as number);
    expect(new Set(started).size).toBe(2);
    expect(started).not.toContain(gateway.pid);
    const listening = messages(gateway, 'verigate started').map((line) => line.pid as number);
    expect(new Set(listening)).toEqual(new Set(started));

    // Each request on a new connection: the primary hands connections to the workers in turn.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${gateway.urls.live}/healthz`, {
        headers: { 'X-Request-Id': `workers-probe-${i}`, Connection: 'close' },
      });
      expect(res.status).toBe(200);
    }
    let servedBy = new Set<number>();
    for (let i = 0; i < 100 && servedBy.size < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      servedBy = new Set(
        gateway
          .logLines()
          .filter((line) => line.msg === 'request' && String(line.requestId).startsWith('workers-probe-'))
          .map((line) => line.pid as number),
      );
    }
    expect(servedBy).toEqual(new Set(started));
  });

  it('restarts a worker that dies', async () => {
    const [victim] = messages(gateway, 'worker started').map((line) => line.workerPid as number);
    process.kill(victim as number, 'SIGKILL');
    // The replacement is listening once it logs its start.
    for (let i = 0; messages(gateway, 'verigate started').length < 3; i++) {
      if (i > 1200) throw new Error(`no replacement worker:\n${gateway.stdout()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(messages(gateway, 'worker started')).toHaveLength(3);
    expect(messages(gateway, 'worker died; restarting')).toEqual([
      expect.objectContaining({ workerPid: victim, signal: 'SIGKILL' }),
    ]);
    const res = await fetch(`${gateway.urls.live}/healthz`, { headers: { Connection: 'close' } });
    expect(res.status).toBe(200);
  });

  it('SIGTERM drains every worker, then the primary exits 0 and no worker is left', async () => {
    const workers = messages(gateway, 'worker started').map((line) => line.workerPid as number);
    const current = workers.filter(alive);
    expect(current).toHaveLength(2);
    await expect(gateway.stop('SIGTERM')).resolves.toEqual({ code: 0, signal: null });
    for (const pid of workers) expect(alive(pid)).toBe(false);
    expect(messages(gateway, 'worker stopped').map((line) => line.workerPid).sort()).toEqual([...current].sort());
    expect(messages(gateway, 'stopped').length).toBeGreaterThanOrEqual(3);
  });
});
