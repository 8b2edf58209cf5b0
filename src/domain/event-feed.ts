import { iso } from './clock';
import type { DomainContext } from './context';
import { VerigateError } from './errors';
import { compareEventIds, requireEventId, type AuditEventView, type EventView, type StoredEvent } from './events';
import type { EventLog, EventWatch } from './ports';
import type { Sites } from './sites';

/** Events a feed page answers at most, and by default. */
export const MAX_EVENT_PAGE = 500;
export const DEFAULT_EVENT_PAGE = 100;

/** Every open stream gets a heartbeat at least this often (SPEC §11: at least every 250 ms). */
export const HEARTBEAT_INTERVAL_MS = 200;
/**
 * While notices arrive, a site's log is read again at least this often
 * anyway (a notice published after a change can be lost when the
 * publishing instance dies right then); without them, on every tick.
 */
const BACKSTOP_READ_MS = 500;
/** A key's validity is checked again this often for its open streams (a revoked key's streams close). */
const KEY_CHECK_MS = 400;
/** One read of a site's log takes at most this many events. */
const READ_BATCH = 500;

export interface FeedPage {
  data: EventView[];
  /** The last event's id (or the cursor given, when there is nothing new): pass it as `after`. */
  nextCursor: string | null;
  hasMore: boolean;
}

/** Where an open stream's output goes (the HTTP layer writes SSE). */
export interface StreamSink {
  event(event: EventView): void;
  heartbeat(serverTime: string): void;
  /** The stream is over (its key no longer valid, or the gateway stopping). */
  close(reason: 'key_invalid' | 'stopping'): void;
}

export interface StreamOptions {
  readonly siteId: string;
  /** Resume after this id (`Last-Event-ID`); null: from now on. */
  readonly after: string | null;
  /** Which key opened it: streams of one key are checked together. */
  readonly keyId: string;
  /** Resolves false once the key is no longer valid (revoked, expired, deleted). */
  readonly keyStillValid: () => Promise<boolean>;
  readonly sink: StreamSink;
}

export interface OpenStream {
  close(): void;
}

interface Stream {
  cursor: string;
  readonly keyId: string;
  readonly sink: StreamSink;
  closed: boolean;
}

interface SiteGroup {
  readonly streams: Set<Stream>;
  reading: boolean;
  again: boolean;
  lastRead: number;
}

/**
 * The events of SPEC §11 as callers read them: the feed (a page after a
 * cursor) and live streams. Streams of one site on this instance share
 * their reads: one read of the site's log per notice (or backstop tick),
 * handed to every stream past its own cursor. Timers run on the real clock
 * (performance.now), not the domain's, which tests may freeze.
 */
export class EventFeed {
  private readonly groups = new Map<string, SiteGroup>();
  private readonly keyChecks = new Map<string, { check: () => Promise<boolean>; streams: Set<Stream>; lastCheck: number }>();
  private watch: EventWatch | null = null;
  private watching: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: DomainContext,
    private readonly log: EventLog,
    private readonly sites: Sites,
    private readonly retentionMs: number,
  ) {}

  view(event: StoredEvent): EventView {
    return {
      id: event.id,
      type: event.type,
      createdAt: iso(event.createdAt),
      environment: event.environment,
      siteId: event.siteId,
      data: { ...event.data },
    };
  }

  /** A cursor of this site's feed: well-formed, and not older than the retention. */
  checkCursor(after: string, path: string): void {
    const id = requireEventId(after, path);
    if (id.ms < this.ctx.clock.now() - this.retentionMs) {
      throw new VerigateError(
        'cursor_expired',
        `Events before ${iso(this.ctx.clock.now() - this.retentionMs)} are no longer kept; start again without a cursor`,
      );
    }
  }

  /** The site's events after `after` (null: the oldest kept), oldest first. */
  async page(siteId: string, after: string | null, limit: number = DEFAULT_EVENT_PAGE): Promise<FeedPage> {
    if (after !== null) this.checkCursor(after, 'after');
    const events = await this.log.read(siteId, after, limit + 1);
    const data = events.slice(0, limit).map((e) => this.view(e));
    const last = data[data.length - 1];
    return { data, nextCursor: last ? last.id : after, hasMore: events.length > limit };
  }

  /** A page of the audit log (the events admin calls caused), newest first. */
  async auditPage(cursor: string | null, limit: number = DEFAULT_EVENT_PAGE): Promise<{ data: AuditEventView[]; nextCursor: string | null; hasMore: boolean }> {
    const page = await this.log.readAudit(cursor, limit);
    return {
      data: page.events.map((e) => ({
        id: e.id,
        type: e.type,
        createdAt: iso(e.createdAt),
        environment: e.environment,
        siteId: e.siteId,
        actor: e.actor ?? '',
        clientAddress: e.clientAddress ?? '',
        data: { ...e.data },
      })),
      nextCursor: page.nextCursor,
      hasMore: page.nextCursor !== null,
    };
  }

  /** Opens a live stream of the site's events; rejects (cursor_expired, store_unavailable) before anything is sent. */
  async open(options: StreamOptions): Promise<OpenStream> {
    if (this.stopped) throw new VerigateError('store_unavailable', 'The gateway is stopping');
    if (options.after !== null) this.checkCursor(options.after, 'Last-Event-ID');
    await this.startWatching();
    const cursor = options.after ?? (await this.log.lastId(options.siteId)) ?? '0-0';
    const stream: Stream = { cursor, keyId: options.keyId, sink: options.sink, closed: false };
    let group = this.groups.get(options.siteId);
    if (!group) {
      group = { streams: new Set(), reading: false, again: false, lastRead: 0 };
      this.groups.set(options.siteId, group);
    }
    group.streams.add(stream);
    let keyCheck = this.keyChecks.get(options.keyId);
    if (!keyCheck) {
      keyCheck = { check: options.keyStillValid, streams: new Set(), lastCheck: performance.now() };
      this.keyChecks.set(options.keyId, keyCheck);
    }
    keyCheck.streams.add(stream);
    this.ensureTimer();
    void this.read(options.siteId);
    return { close: () => this.remove(options.siteId, stream) };
  }

  /** Streams open on this instance (for metrics and tests). */
  get openStreams(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.streams.size;
    return n;
  }

  private remove(siteId: string, stream: Stream): void {
    stream.closed = true;
    const group = this.groups.get(siteId);
    group?.streams.delete(stream);
    if (group && group.streams.size === 0 && !group.reading) this.groups.delete(siteId);
    const keyCheck = this.keyChecks.get(stream.keyId);
    keyCheck?.streams.delete(stream);
    if (keyCheck && keyCheck.streams.size === 0) this.keyChecks.delete(stream.keyId);
    if (this.groups.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private async startWatching(): Promise<void> {
    if (this.watch?.active) return;
    this.watching ??= this.log
      .watch({
        appended: (siteId) => {
          if (this.groups.has(siteId)) void this.read(siteId);
        },
        reset: () => {
          for (const siteId of this.groups.keys()) void this.read(siteId);
        },
      })
      .then(
        (watch) => {
          if (this.stopped) void watch.close();
          else this.watch = watch;
        },
        (err: unknown) => this.ctx.onBackgroundError(err, 'event notices subscribe'),
      )
      .finally(() => {
        this.watching = null;
      });
    await this.watching;
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    const serverTime = iso(this.ctx.clock.now());
    const active = this.watch?.active === true;
    if (!active && !this.watching && !this.stopped) void this.startWatching();
    for (const [siteId, group] of this.groups) {
      for (const stream of group.streams) stream.sink.heartbeat(serverTime);
      if (!active || now - group.lastRead >= BACKSTOP_READ_MS) void this.read(siteId);
    }
    for (const [keyId, keyCheck] of this.keyChecks) {
      if (now - keyCheck.lastCheck < KEY_CHECK_MS) continue;
      keyCheck.lastCheck = now;
      keyCheck.check().then(
        async (valid) => {
          if (valid) return;
          // What was written before the key went (a site's deletion: its last events) is sent first.
          const sites = [...this.groups].filter(([, g]) => [...g.streams].some((st) => keyCheck.streams.has(st))).map(([id]) => id);
          await Promise.all(sites.map((siteId) => this.read(siteId)));
          for (const stream of [...keyCheck.streams]) {
            stream.sink.close('key_invalid');
            stream.closed = true;
          }
          keyCheck.streams.clear();
          this.keyChecks.delete(keyId);
          for (const [siteId, group] of this.groups) {
            for (const s of group.streams) if (s.closed) this.remove(siteId, s);
          }
        },
        // A store fault is not a revocation: check again on a later tick.
        (err: unknown) => this.ctx.onBackgroundError(err, 'event stream key check'),
      );
    }
  }

  /**
   * Reads the site's log past the lowest cursor of its streams and hands
   * each stream what is past its own. One read at a time per site; a notice
   * during a read makes it read again.
   */
  private async read(siteId: string): Promise<void> {
    const group = this.groups.get(siteId);
    if (!group) return;
    if (group.reading) {
      group.again = true;
      return;
    }
    group.reading = true;
    try {
      do {
        group.again = false;
        group.lastRead = performance.now();
        let full = true;
        while (full && group.streams.size > 0) {
          let from: string | null = null;
          for (const s of group.streams) if (from === null || compareEventIds(s.cursor, from) < 0) from = s.cursor;
          const events = await this.log.read(siteId, from, READ_BATCH);
          full = events.length === READ_BATCH;
          for (const event of events) {
            const view = this.view(event);
            for (const s of group.streams) {
              if (s.closed || compareEventIds(event.id, s.cursor) <= 0) continue;
              s.cursor = event.id;
              s.sink.event(view);
            }
          }
        }
      } while (group.again && group.streams.size > 0);
    } catch (err) {
      // The next tick reads again.
      this.ctx.onBackgroundError(err, 'event stream read');
    } finally {
      group.reading = false;
      if (group.streams.size === 0) this.groups.delete(siteId);
    }
  }

  /** Closes every stream and stops listening for notices. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const [siteId, group] of [...this.groups]) {
      for (const stream of [...group.streams]) {
        stream.sink.close('stopping');
        this.remove(siteId, stream);
      }
    }
    await this.watching;
    await this.watch?.close();
    this.watch = null;
  }

  /** The site, when it exists (the stream and feed answer for the key's own site). */
  async requireSite(siteId: string): Promise<void> {
    await this.sites.getSiteCached(siteId);
  }
}
