import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { iso, type Clock } from './clock';
import type { DomainContext } from './context';
import { VerigateError } from './errors';
import { EVENT_TYPES, isEventType, type ChangeCause, type EventView, type StoredEvent } from './events';
import type { EventLog, EventWatch, WebhookStore, WebhookTransport } from './ports';
import type { WebhookAttemptRecord, WebhookDeliveryRecord, WebhookEndpointRecord } from './records';
import { randomBase62 } from './credentials';
import type { Sites } from './sites';
import { checkWebhookUrl } from './webhook-targets';

/** SPEC §11: exponential backoff for up to 24 h (seconds after each failed attempt; WEBHOOK_RETRY_SCHEDULE overrides it). */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE: readonly number[] = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800];
/** A receiver has this long to answer 2xx. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** A rotated-out secret keeps signing this long. */
export const WEBHOOK_SECRET_GRACE_MS = 24 * 3600 * 1000;
/** A delivery's lease: the time limit and a margin. A sender that dies leaves it to another instance after this. */
export const WEBHOOK_LEASE_MS = WEBHOOK_TIMEOUT_MS + 5_000;
/** How often the delivery loop looks for work without a nudge. */
const POLL_MS = 500;
/** Deliveries one instance sends at once. */
const MAX_IN_FLIGHT = 16;
const DISPATCH_BATCH = 100;
const MAX_ERROR_LENGTH = 200;

export interface WebhookEndpointView {
  endpointId: string;
  siteId: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  disabled: boolean;
  /** Until when the previous secret still signs (after a rotation), else null. */
  previousSecretValidUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One row of the deliveries list: an attempt (or a delivery not tried yet). */
export interface WebhookDeliveryRow {
  eventId: string;
  eventType: string;
  /** 1 for the first attempt; 0 for a delivery not tried yet. */
  attempt: number;
  /** `delivered` (2xx), `retrying` (failed, tried again at nextAttemptAt), `failed` (no more tries), `pending` (not tried yet). */
  status: 'delivered' | 'retrying' | 'failed' | 'pending';
  statusCode: number | null;
  durationMs: number | null;
  error: string | null;
  attemptedAt: string | null;
  nextAttemptAt: string | null;
}

export interface WebhookInput {
  url: string;
  eventTypes?: string[] | undefined;
  description?: string | undefined;
}

export interface WebhookPatch {
  url?: string | undefined;
  eventTypes?: string[] | null | undefined;
  description?: string | null | undefined;
  disabled?: boolean | undefined;
}

export interface WebhookOptions {
  readonly transport: WebhookTransport;
  readonly retrySchedule: readonly number[];
  readonly allowPrivateTargets: boolean;
  /** Deliveries are scheduled, signed and timed on the wall clock (receivers check webhook-timestamp against theirs). */
  readonly wallClock: Clock;
}

const newEndpointId = (): string => `whep_${randomBase62(20)}`;
/** `whsec_` + base64 of 32 random bytes (Standard Webhooks). */
const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** The Standard Webhooks signature of one message with one secret: `v1,<base64 HMAC-SHA256>`. */
export function signWebhook(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${msgId}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** The message id receivers deduplicate by: the same on every retry and resend of an event to an endpoint. */
export const webhookMessageId = (siteId: string, eventId: string): string => `${siteId}_${eventId}`;

function checkEventTypes(types: readonly string[]): string[] {
  const unknown = types.filter((t) => !isEventType(t));
  if (unknown.length > 0) {
    throw new VerigateError('invalid_request', `eventTypes: unknown ${unknown.join(', ')}`, {
      errors: [{ path: 'eventTypes', message: `must be among ${EVENT_TYPES.join(', ')}` }],
    });
  }
  return [...new Set(types)];
}

/** A site's webhook endpoints through the admin API (SPEC §11). */
export class Webhooks {
  constructor(
    private readonly ctx: DomainContext,
    private readonly store: WebhookStore,
    private readonly log: EventLog,
    private readonly sites: Sites,
    private readonly options: WebhookOptions,
  ) {}

  private seal(endpointId: string, secret: string): string {
    return this.ctx.secrets.encrypt(secret, `webhook-secret:${endpointId}`);
  }

  /** The secrets that sign a message now: the current one, and the previous one during its grace. */
  signingSecrets(endpoint: WebhookEndpointRecord, now: number): string[] {
    const open = (sealed: string) => this.ctx.secrets.decrypt(sealed, `webhook-secret:${endpoint.endpointId}`);
    const out = [open(endpoint.secretSealed)];
    if (endpoint.previousSecretSealed && endpoint.previousSecretValidUntil !== null && now < endpoint.previousSecretValidUntil) {
      out.push(open(endpoint.previousSecretSealed));
    }
    return out;
  }

  view(endpoint: WebhookEndpointRecord): WebhookEndpointView {
    const now = this.options.wallClock.now();
    const grace = endpoint.previousSecretValidUntil !== null && now < endpoint.previousSecretValidUntil;
    return {
      endpointId: endpoint.endpointId,
      siteId: endpoint.siteId,
      url: endpoint.url,
      description: endpoint.description,
      eventTypes: endpoint.eventTypes === null ? null : [...endpoint.eventTypes],
      disabled: endpoint.disabled,
      previousSecretValidUntil: grace ? iso(endpoint.previousSecretValidUntil as number) : null,
      createdAt: iso(endpoint.createdAt),
      updatedAt: iso(endpoint.updatedAt),
    };
  }

  private eventData(endpoint: WebhookEndpointRecord): Record<string, unknown> {
    const { previousSecretValidUntil: _p, ...rest } = this.view(endpoint);
    return rest;
  }

  private checkUrl(url: string): string {
    return checkWebhookUrl(url, { environment: this.ctx.environment, allowPrivateTargets: this.options.allowPrivateTargets });
  }

  async createEndpoint(siteId: string, input: WebhookInput, cause?: ChangeCause): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
    await this.sites.getSite(siteId);
    const url = this.checkUrl(input.url);
    const eventTypes = input.eventTypes === undefined ? null : checkEventTypes(input.eventTypes);
    const now = this.ctx.clock.now();
    const endpointId = newEndpointId();
    const secret = newSecret();
    const endpoint: WebhookEndpointRecord = {
      endpointId,
      siteId,
      url,
      description: input.description ?? null,
      eventTypes,
      disabled: false,
      secretSealed: this.seal(endpointId, secret),
      previousSecretSealed: null,
      previousSecretValidUntil: null,
      createdAt: now,
      updatedAt: now,
    };
    // Deliveries begin after the log's last event: the endpoint's own creation is its first.
    const cursor = (await this.log.lastId(siteId)) ?? '0-0';
    await this.store.createEndpoint(endpoint, cursor, [this.ctx.events(cause)('webhook_endpoint.created', siteId, this.eventData(endpoint))]);
    return { endpoint, secret };
  }

  async listEndpoints(siteId: string): Promise<WebhookEndpointRecord[]> {
    await this.sites.getSite(siteId);
    return (await this.store.listEndpoints(siteId)).sort((a, b) => a.createdAt - b.createdAt || (a.endpointId < b.endpointId ? -1 : 1));
  }

  async getEndpoint(siteId: string, endpointId: string): Promise<WebhookEndpointRecord> {
    await this.sites.getSite(siteId);
    const endpoint = await this.store.findEndpoint(siteId, endpointId);
    if (!endpoint) throw new VerigateError('webhook_endpoint_not_found', `No webhook endpoint ${endpointId} on site ${siteId}`);
    return endpoint;
  }

  async updateEndpoint(siteId: string, endpointId: string, patch: WebhookPatch, cause?: ChangeCause): Promise<WebhookEndpointRecord> {
    const endpoint = await this.getEndpoint(siteId, endpointId);
    const updated: WebhookEndpointRecord = {
      ...endpoint,
      ...(patch.url !== undefined && { url: this.checkUrl(patch.url) }),
      ...(patch.eventTypes !== undefined && { eventTypes: patch.eventTypes === null ? null : checkEventTypes(patch.eventTypes) }),
      ...(patch.description !== undefined && { description: patch.description }),
      ...(patch.disabled !== undefined && { disabled: patch.disabled }),
      updatedAt: this.ctx.clock.now(),
    };
    await this.store.updateEndpoint(updated, [this.ctx.events(cause)('webhook_endpoint.updated', siteId, this.eventData(updated))]);
    return updated;
  }

  async deleteEndpoint(siteId: string, endpointId: string, cause?: ChangeCause): Promise<void> {
    const endpoint = await this.getEndpoint(siteId, endpointId);
    await this.store.deleteEndpoint(siteId, endpointId, [this.ctx.events(cause)('webhook_endpoint.deleted', siteId, this.eventData(endpoint))]);
  }

  /** A new secret, shown once; the old one signs too for 24 h. */
  async rotateSecret(siteId: string, endpointId: string, cause?: ChangeCause): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
    const endpoint = await this.getEndpoint(siteId, endpointId);
    const secret = newSecret();
    const rotated: WebhookEndpointRecord = {
      ...endpoint,
      secretSealed: this.seal(endpointId, secret),
      previousSecretSealed: endpoint.secretSealed,
      previousSecretValidUntil: this.options.wallClock.now() + WEBHOOK_SECRET_GRACE_MS,
      updatedAt: this.ctx.clock.now(),
    };
    await this.store.updateEndpoint(rotated, [this.ctx.events(cause)('webhook_endpoint.updated', siteId, this.eventData(rotated))]);
    return { endpoint: rotated, secret };
  }

  /** The rows of a delivery: one per attempt, newest first, or one `pending` row before the first. */
  rows(d: WebhookDeliveryRecord): WebhookDeliveryRow[] {
    const base = { eventId: d.eventId, eventType: d.eventType };
    if (d.attempts.length === 0) {
      return [
        { ...base, attempt: 0, status: 'pending', statusCode: null, durationMs: null, error: null, attemptedAt: null, nextAttemptAt: d.nextAttemptAt === null ? null : iso(d.nextAttemptAt) },
      ];
    }
    const last = d.attempts.length - 1;
    return d.attempts
      .map((a: WebhookAttemptRecord, i): WebhookDeliveryRow => {
        const ok = a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
        const status = ok ? 'delivered' : i < last || d.status === 'pending' ? 'retrying' : 'failed';
        return {
          ...base,
          attempt: i + 1,
          status,
          statusCode: a.statusCode,
          durationMs: a.durationMs,
          error: a.error,
          attemptedAt: iso(a.at),
          nextAttemptAt: i === last && d.nextAttemptAt !== null ? iso(d.nextAttemptAt) : null,
        };
      })
      .reverse();
  }

  async listDeliveries(siteId: string, endpointId: string, cursor: string | null, limit: number) {
    await this.getEndpoint(siteId, endpointId);
    const page = await this.store.listDeliveries(siteId, endpointId, cursor, limit);
    return { deliveries: page.deliveries.flatMap((d) => this.rows(d)), nextCursor: page.nextCursor };
  }

  /** Sends the event again: due now, whatever became of it; its attempts so far stay listed. */
  async resend(siteId: string, endpointId: string, eventId: string): Promise<WebhookDeliveryRow[]> {
    await this.getEndpoint(siteId, endpointId);
    const delivery = await this.store.findDelivery(siteId, { endpointId, eventId });
    if (!delivery) throw new VerigateError('not_found', `No delivery of event ${eventId} to endpoint ${endpointId}`);
    const again: WebhookDeliveryRecord = {
      ...delivery,
      status: 'pending',
      nextAttemptAt: this.options.wallClock.now(),
      retryFrom: delivery.attempts.length,
    };
    await this.store.saveDelivery(again);
    return this.rows(again);
  }
}

/**
 * The delivery loop of one instance, never inside a request: for every site
 * with endpoints, turns new events into deliveries (the cursor moves by
 * compare-and-set, so two instances never make one twice), then sends the
 * due ones, each under a lease in the store. A sender that dies leaves its
 * lease to expire and the delivery, still due, to whichever instance looks
 * next: at least once, and a healthy receiver gets an event again only when
 * a lease ran out while it was being sent.
 */
export class WebhookWorker {
  private readonly holder = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private watch: EventWatch | null = null;
  private running = false;
  private again = false;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly ctx: DomainContext,
    private readonly store: WebhookStore,
    private readonly log: EventLog,
    private readonly webhooks: Webhooks,
    private readonly feedView: (event: StoredEvent) => EventView,
    private readonly options: WebhookOptions,
  ) {}

  /** Starts looking for work (every 500 ms, and on every event notice). */
  async start(): Promise<void> {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    try {
      this.watch = await this.log.watch({ appended: () => this.kick(), reset: () => this.kick() });
    } catch (err) {
      // The poll goes on without the nudges.
      this.ctx.onBackgroundError(err, 'webhook notices subscribe');
    }
    this.kick();
  }

  /** Stops: no new work; deliveries under way are cut off (their leases expire, and another instance sends them). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await Promise.allSettled([...this.inFlight]);
    await this.watch?.close().catch(() => undefined);
    this.watch = null;
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.round()
      .catch((err: unknown) => this.ctx.onBackgroundError(err, 'webhook delivery loop'))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async round(): Promise<void> {
    const sites = await this.store.sitesWithEndpoints();
    for (const siteId of sites) {
      if (this.stopped) return;
      try {
        await this.dispatch(siteId);
        await this.sendDue(siteId);
      } catch (err) {
        this.ctx.onBackgroundError(err, 'webhook delivery');
      }
    }
  }

  /** New events of the site become deliveries of every endpoint that wants them. */
  private async dispatch(siteId: string): Promise<void> {
    const endpoints = await this.store.listEndpoints(siteId);
    for (const endpoint of endpoints) {
      for (let batches = 0; batches < 10; batches++) {
        const from = await this.store.readCursor(siteId, endpoint.endpointId);
        if (from === null) break;
        const events = await this.log.read(siteId, from, DISPATCH_BATCH);
        const last = events[events.length - 1];
        if (!last) break;
        const now = this.options.wallClock.now();
        // A disabled endpoint's cursor moves on: it is not sent what happened while it was off.
        const wanted = endpoint.disabled ? [] : events.filter((e) => endpoint.eventTypes === null || endpoint.eventTypes.includes(e.type));
        const deliveries = wanted.map(
          (e): WebhookDeliveryRecord => ({
            endpointId: endpoint.endpointId,
            siteId,
            eventId: e.id,
            eventType: e.type,
            payload: JSON.stringify(this.feedView(e)),
            status: 'pending',
            attempts: [],
            nextAttemptAt: now,
            createdAt: now,
          }),
        );
        await this.store.dispatch(siteId, endpoint.endpointId, from, last.id, deliveries);
        if (events.length < DISPATCH_BATCH) break;
      }
    }
  }

  private async sendDue(siteId: string): Promise<void> {
    if (this.inFlight.size >= MAX_IN_FLIGHT) return;
    const due = await this.store.due(siteId, this.options.wallClock.now(), MAX_IN_FLIGHT);
    for (const d of due) {
      if (this.stopped || this.inFlight.size >= MAX_IN_FLIGHT) return;
      if (!(await this.store.claim(siteId, d, this.holder, WEBHOOK_LEASE_MS))) continue;
      const task = this.send(siteId, d)
        .catch((err: unknown) => this.ctx.onBackgroundError(err, 'webhook send'))
        .finally(() => this.inFlight.delete(task));
      this.inFlight.add(task);
    }
  }

  private async send(siteId: string, due: { endpointId: string; eventId: string }): Promise<void> {
    const [delivery, endpoint] = await Promise.all([this.store.findDelivery(siteId, due), this.store.findEndpoint(siteId, due.endpointId)]);
    if (!delivery || !endpoint || delivery.status !== 'pending') {
      await this.store.dropDue(siteId, due);
      return;
    }
    const clock = this.options.wallClock;
    const started = clock.now();
    const timestamp = Math.floor(started / 1000);
    const msgId = webhookMessageId(siteId, delivery.eventId);
    const signature = this.webhooks
      .signingSecrets(endpoint, started)
      .map((secret) => signWebhook(secret, msgId, timestamp, delivery.payload))
      .join(' ');
    const t0 = performance.now();
    const response = await this.options.transport.post(
      endpoint.url,
      {
        'content-type': 'application/json',
        'user-agent': 'verigate-webhooks/1',
        'webhook-id': msgId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      },
      delivery.payload,
      { timeoutMs: WEBHOOK_TIMEOUT_MS, signal: this.abort.signal },
    );
    if (this.abort.signal.aborted) return; // stopping: the lease runs out and another instance sends it
    const attempt: WebhookAttemptRecord = {
      at: started,
      statusCode: response.statusCode,
      durationMs: Math.round(performance.now() - t0),
      error: response.error === null ? null : response.error.slice(0, MAX_ERROR_LENGTH),
    };
    const attempts = [...delivery.attempts, attempt];
    const ok = response.statusCode !== null && response.statusCode >= 200 && response.statusCode < 300;
    // After a resend the schedule starts again.
    const tries = attempts.length - (delivery.retryFrom ?? 0);
    const wait = this.options.retrySchedule[tries - 1];
    await this.store.saveDelivery({
      ...delivery,
      attempts,
      status: ok ? 'delivered' : wait === undefined ? 'failed' : 'pending',
      nextAttemptAt: ok || wait === undefined ? null : clock.now() + wait * 1000,
    });
  }
}
