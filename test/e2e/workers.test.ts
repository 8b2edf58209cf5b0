import { endDeployment, newDeployment, startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
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
  const deployment = newDeployment({ redisUrl: testRedisUrl() });

  beforeAll(async () => {
    // debug: every request is logged, with the pid of the worker that served it.
    gateway = await startGatewayProcess(deployment, {
      env: { WORKERS: '2', LOG_LEVEL: 'debug' },
    });
    // Ready means one worker answers; wait for both to have started listening.
    await gateway.untilLogLines((line) => line.msg === 'verigate started', 2);
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await endDeployment(deployment);
  });

  it('forks two workers that share the ports and both serve requests', async () => {
    const started = messages(gateway, 'worker started').map((line) => line.workerPid as number);
    expect(new Set(started).size).toBe(2);
    expect(started).not.toContain(gateway.pid);
    const listening = messages(gateway, 'verigate started').map((line) => line.pid as number);
    expect(new Set(listening)).toEqual(new Set(started));

    // Each request on a new connection: the primary hands connections to the workers in turn.
    const PROBES = 20;
    for (let i = 0; i < PROBES; i++) {
      const res = await fetch(`${gateway.urls.live}/healthz`, {
        headers: { 'X-Request-Id': `workers-probe-${i}`, Connection: 'close' },
      });
      expect(res.status).toBe(200);
    }
    // Every probe's log line (written as its response ends), then who served them.
    const probes = await gateway.untilLogLines((line) => line.msg === 'request' && String(line.requestId).startsWith('workers-probe-'), PROBES);
    expect(new Set(probes.map((line) => line.pid as number))).toEqual(new Set(started));
  });

  it('restarts a worker that dies', async () => {
    const [victim] = messages(gateway, 'worker started').map((line) => line.workerPid as number);
    process.kill(victim as number, 'SIGKILL');
    // The replacement is listening once it logs its start.
    await gateway.untilLogLines((line) => line.msg === 'verigate started', 3);
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
