import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const EVENT_STREAM_PATH = '/live_api/s2s/v1/events/stream';

/** An event of SPEC §11 as the stream carries it (`data` of an SSE message). */
export interface StreamEvent {
  readonly id: string;
  readonly type: string;
  readonly createdAt: string;
  readonly environment: string;
  readonly siteId: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface EventStreamOptions {
  /** `${baseUrl}/live_api/s2s/v1/events/stream` */
  readonly url: string;
  readonly apiKey: string;
  readonly userAgent: string;
  /** Per connection attempt: the response head must arrive within this. */
  readonly connectTimeoutMs: number;
  /** No byte for this long: the connection is given up and made again. */
  readonly stallTimeoutMs: number;
  readonly onEvent: (event: StreamEvent) => void;
  readonly onHeartbeat: () => void;
  /**
   * Events may have been missed: the cursor expired (410, or an `error`
   * message), or a connection ended before any event id was known to
   * resume from. Whatever was learnt from the stream must be forgotten.
   */
  readonly onGap: (why: string) => void;
  /** Each refused or failed attempt (`invalid_api_key`, `network_error`, …), for the client's state. */
  readonly onTrouble: (why: string) => void;
}

const MAX_BACKOFF_MS = 5_000;
const BASE_BACKOFF_MS = 100;

/**
 * The site's event stream over one long HTTP response (Server-Sent Events,
 * parsed here: the package has no dependencies). Reconnects by itself with
 * `Last-Event-ID`, so an interruption loses nothing the gateway still
 * holds; a gap is reported (`onGap`) rather than papered over. Its socket
 * and timers are unref'd: an open stream never keeps a process alive.
 */
export class EventStream {
  private lastEventId: string | undefined;
  private request: ClientRequest | null = null;
  private response: IncomingMessage | null = null;
  private lastByteAt = 0;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly watchdog: NodeJS.Timeout;
  /** True once a connection got a 200: a later one without an id to resume from is a gap. */
  private everConnected = false;

  constructor(private readonly options: EventStreamOptions) {
    this.watchdog = setInterval(() => this.checkStall(), Math.min(250, options.stallTimeoutMs)).unref();
  }

  start(): void {
    this.connect();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.watchdog);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.drop();
  }

  private checkStall(): void {
    if (this.request && Date.now() - this.lastByteAt > this.options.stallTimeoutMs) {
      this.drop();
      this.options.onTrouble('stream_stalled');
      this.scheduleReconnect();
    }
  }

  private drop(): void {
    const req = this.request;
    this.request = null;
    this.response = null;
    req?.destroy();
  }

  private scheduleReconnect(immediate = false): void {
    if (this.closed || this.retryTimer) return;
    const delay = immediate ? 0 : Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(this.attempt, 12));
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay * (0.5 + Math.random() / 2)).unref();
  }

  private connect(): void {
    if (this.closed) return;
    if (this.everConnected && this.lastEventId === undefined) this.gap('reconnected_without_cursor');
    const url = new URL(this.options.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = {
      Accept: 'text/event-stream',
      'X-API-KEY': this.options.apiKey,
      'User-Agent': this.options.userAgent,
      'Cache-Control': 'no-cache',
    };
    if (this.lastEventId !== undefined) headers['Last-Event-ID'] = this.lastEventId;
    this.lastByteAt = Date.now();
    const req = send(url, { method: 'GET', headers, agent: false, timeout: this.options.connectTimeoutMs });
    this.request = req;
    req.on('socket', (socket) => socket.unref());
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      if (this.request !== req) return;
      this.request = null;
      this.options.onTrouble((err as NodeJS.ErrnoException).code ?? 'network_error');
      this.scheduleReconnect();
    });
    req.on('response', (res) => this.onResponse(req, res));
    req.end();
  }

  private onResponse(req: ClientRequest, res: IncomingMessage): void {
    if (this.request !== req) {
      res.destroy();
      return;
    }
    this.lastByteAt = Date.now();
    const type = String(res.headers['content-type'] ?? '');
    if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body.length < 4096 ? (body += chunk) : undefined));
      res.on('end', () => this.refused(req, res.statusCode ?? 0, body));
      res.on('error', () => this.refused(req, res.statusCode ?? 0, body));
      return;
    }
    req.setTimeout(0);
    this.everConnected = true;
    this.response = res;
    res.setEncoding('utf8');
    let buffer = '';
    let message: { id?: string; event?: string; data: string[] } = { data: [] };
    res.on('data', (chunk: string) => {
      this.lastByteAt = Date.now();
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
        // A CR at the very end may be the first half of a CRLF split across chunks: wait for the next byte.
        if (newline === buffer.length - 1 && buffer.endsWith('\r')) break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (message.data.length > 0 || message.event !== undefined) this.dispatch(message);
          message = { data: [] };
          continue;
        }
        if (line.startsWith(':')) continue; // a comment
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'id') message.id = value;
        else if (field === 'event') message.event = value;
        else if (field === 'data') message.data.push(value);
      }
    });
    const ended = (): void => {
      if (this.request !== req) return;
      this.request = null;
      this.response = null;
      this.options.onTrouble('stream_ended');
      this.scheduleReconnect(true);
    };
    res.on('end', ended);
    res.on('close', ended);
    res.on('error', ended);
  }

  private refused(req: ClientRequest, status: number, body: string): void {
    if (this.request !== req) return;
    this.request = null;
    let code = `http_${status}`;
    try {
      const problem = JSON.parse(body) as { code?: unknown };
      if (typeof problem.code === 'string') code = problem.code;
    } catch {
      // not a problem body
    }
    if (status === 410 || code === 'cursor_expired') {
      this.lastEventId = undefined;
      this.gap('cursor_expired');
      this.scheduleReconnect(true);
      return;
    }
    this.options.onTrouble(code);
    this.scheduleReconnect();
  }

  /** Reports a gap once: until a connection opens again there is nothing more to forget. */
  private gap(why: string): void {
    this.everConnected = false;
    this.options.onGap(why);
  }

  private dispatch(message: { id?: string; event?: string; data: string[] }): void {
    const type = message.event ?? 'message';
    if (type === 'heartbeat') {
      if (message.id !== undefined && message.id !== '') this.lastEventId = message.id;
      this.attempt = 0;
      this.options.onHeartbeat();
      return;
    }
    if (type === 'error') {
      // The gateway says it cannot continue from our cursor (or at all): start over, forgetting.
      this.lastEventId = undefined;
      this.gap('stream_error');
      this.drop();
      this.scheduleReconnect(true);
      return;
    }
    let event: StreamEvent;
    try {
      event = JSON.parse(message.data.join('\n')) as StreamEvent;
    } catch {
      // An event we cannot read is an event we missed.
      this.gap('unreadable_event');
      return;
    }
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
      this.gap('unreadable_event');
      return;
    }
    this.options.onEvent(event);
    const id = message.id ?? event.id;
    if (typeof id === 'string' && id !== '') this.lastEventId = id;
  }
}
