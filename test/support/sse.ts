import { request, type IncomingMessage } from 'node:http';

/** One Server-Sent Events message. */
export interface SseMessage {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/**
 * A Server-Sent Events client for tests: opens the stream, parses every
 * message, and lets a test await the next message that matches (an event,
 * not a sleep). `closed` resolves when the server ends the stream.
 */
export class SseClient {
  readonly messages: SseMessage[] = [];
  status = 0;
  headers: IncomingMessage['headers'] = {};
  body = '';
  readonly closed: Promise<void>;
  private waiters: { match: (m: SseMessage) => boolean; resolve: (m: SseMessage) => void }[] = [];
  private response: IncomingMessage | null = null;
  private buffer = '';

  private constructor(
    private readonly url: string,
    private readonly requestHeaders: Record<string, string>,
    private readonly onOpen: (client: SseClient) => void,
  ) {
    let closedResolve: () => void = () => {};
    this.closed = new Promise((resolve) => (closedResolve = resolve));
    const req = request(url, { headers: { Accept: 'text/event-stream', ...requestHeaders } }, (res) => {
      this.response = res;
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.take(chunk));
      res.on('end', closedResolve);
      res.on('close', closedResolve);
      this.onOpen(this);
    });
    req.on('error', () => closedResolve());
    req.end();
    this.req = req;
  }
  private req: ReturnType<typeof request>;

  /** Resolves once the response head has arrived (any status). */
  static open(url: string, headers: Record<string, string>): Promise<SseClient> {
    return new Promise((resolve) => {
      // eslint-disable-next-line no-new
      new SseClient(url, headers, resolve);
    });
  }

  private take(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0 && id === undefined) continue;
      const message = { id, event, data: data.join('\n') };
      this.messages.push(message);
      const waiting = this.waiters;
      this.waiters = [];
      for (const w of waiting) {
        if (w.match(message)) w.resolve(message);
        else this.waiters.push(w);
      }
    }
  }

  /** The first message (already received or still to come) that matches. */
  next(match: (m: SseMessage) => boolean, what = 'a matching message', timeoutMs = 10_000): Promise<SseMessage> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} on ${this.url} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Every non-heartbeat message so far, parsed. */
  events(): { id: string; type: string; siteId: string; data: Record<string, unknown> }[] {
    return this.messages.filter((m) => m.event !== 'heartbeat').map((m) => JSON.parse(m.data));
  }

  close(): void {
    this.response?.destroy();
    this.req.destroy();
  }
}
