import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  readonly headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent (what signatures are over). */
  readonly body: string;
  readonly event: { id: string; type: string; siteId: string; data: Record<string, unknown> };
  /** The status it was answered with. */
  readonly answeredWith: number;
}

/**
 * A real HTTP receiver for webhook tests: records every request and
 * answers the statuses it is told, in turn (then 200). A test awaits what
 * it expects with `next` (an event, not a sleep).
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private answers: number[] = [];
  private hold: Promise<void> | null = null;
  private waiters: { match: (r: ReceivedWebhook[]) => boolean; resolve: () => void }[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const r = receiver as WebhookReceiver;
          if (r.hold) await r.hold;
          const status = r.answers.shift() ?? 200;
          const body = Buffer.concat(chunks).toString('utf8');
          r.received.push({ headers: req.headers, body, event: JSON.parse(body), answeredWith: status });
          res.writeHead(status, status >= 300 && status < 400 ? { Location: 'http://127.0.0.1:1/elsewhere' } : {}).end();
          r.notify();
        })();
      });
    });
    receiver = new WebhookReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** The next requests are answered with these statuses, in turn. */
  answer(...statuses: number[]): void {
    this.answers.push(...statuses);
  }

  /** Until `release` is called, requests are held unanswered (a sender dying mid-delivery). */
  holdRequests(): { release: () => void; arrived: () => Promise<void> } {
    let release: () => void = () => {};
    this.hold = new Promise((resolve) => (release = resolve));
    return {
      release: () => {
        this.hold = null;
        release();
      },
      arrived: () => Promise.resolve(),
    };
  }

  private notify(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      if (w.match(this.received)) w.resolve();
      else this.waiters.push(w);
    }
  }

  /** Resolves once what was received satisfies `match`. */
  until(match: (received: ReceivedWebhook[]) => boolean, what: string, timeoutMs = 15_000): Promise<ReceivedWebhook[]> {
    if (match(this.received)) return Promise.resolve(this.received);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`receiver: no ${what} within ${timeoutMs} ms; got ${this.received.map((r) => r.event.type).join(', ')}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.received);
        },
      });
    });
  }

  close(): Promise<void> {
    this.hold = null;
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
