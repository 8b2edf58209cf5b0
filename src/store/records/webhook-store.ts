import { VerigateError } from '../../domain/errors';
import type { NewEvent } from '../../domain/events';
import type { DueDelivery, WebhookStore } from '../../domain/ports';
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from '../../domain/records';
import type { KvStore, WriteOp } from '../kv';
import type { KvEventLog } from './event-log';
import { decode, encode } from './json';
import { keys } from './keys';

/** Deliveries outlive their event by a day: long enough for every retry to be listed. */
const DELIVERY_EXTRA_MS = 24 * 3600 * 1000;
const MAX_ID = 10 ** 15 - 1;

/** An index member that sorts newest event first: each part of the id inverted and padded. */
function indexMember(eventId: string): string {
  const [ms = 0, seq = 0] = eventId.split('-').map(Number);
  return `${String(MAX_ID - ms).padStart(15, '0')}-${String(MAX_ID - seq).padStart(15, '0')}|${eventId}`;
}

const dueMember = (d: DueDelivery): string => `${d.endpointId} ${d.eventId}`;

function parseDue(member: string): DueDelivery | null {
  const [endpointId, eventId] = member.split(' ');
  return endpointId && eventId ? { endpointId, eventId } : null;
}

/** Webhook endpoints, cursors, deliveries, the due queue and leases, all under the site's hash tag. */
export class KvWebhookStore implements WebhookStore {
  constructor(
    private readonly kv: KvStore,
    private readonly eventLog: KvEventLog,
    private readonly retentionMs: number,
  ) {}

  async createEndpoint(record: WebhookEndpointRecord, cursor: string, events: readonly NewEvent[]): Promise<void> {
    // The site is listed for the delivery loop first (another slot): a listed site without endpoints costs one empty read.
    await this.kv.write([{ op: 'sadd', key: keys.webhookSites(), member: record.siteId }]);
    await this.kv.write([
      { op: 'set', key: keys.webhook(record.siteId, record.endpointId), value: encode(record) },
      { op: 'sadd', key: keys.webhookIndex(record.siteId), member: record.endpointId },
      { op: 'set', key: keys.webhookCursor(record.siteId, record.endpointId), value: cursor },
      ...this.eventLog.ops(events),
    ]);
    await this.eventLog.announce(events);
  }

  async findEndpoint(siteId: string, endpointId: string): Promise<WebhookEndpointRecord | null> {
    return decode<WebhookEndpointRecord>(await this.kv.get(keys.webhook(siteId, endpointId)));
  }

  async listEndpoints(siteId: string): Promise<WebhookEndpointRecord[]> {
    const ids = (await this.kv.members(keys.webhookIndex(siteId))).sort();
    if (ids.length === 0) return [];
    const raw = await this.kv.getMany(ids.map((id) => keys.webhook(siteId, id)));
    return raw.map((r) => decode<WebhookEndpointRecord>(r)).filter((r): r is WebhookEndpointRecord => r !== null);
  }

  async updateEndpoint(record: WebhookEndpointRecord, events: readonly NewEvent[]): Promise<void> {
    await this.kv.write([{ op: 'set', key: keys.webhook(record.siteId, record.endpointId), value: encode(record) }, ...this.eventLog.ops(events)]);
    await this.eventLog.announce(events);
  }

  async deleteEndpoint(siteId: string, endpointId: string, events: readonly NewEvent[]): Promise<void> {
    await this.kv.write([
      { op: 'del', key: keys.webhook(siteId, endpointId) },
      { op: 'srem', key: keys.webhookIndex(siteId), member: endpointId },
      { op: 'del', key: keys.webhookCursor(siteId, endpointId) },
      ...this.eventLog.ops(events),
    ]);
    await this.eventLog.announce(events);
  }

  sitesWithEndpoints(): Promise<string[]> {
    return this.kv.members(keys.webhookSites());
  }

  readCursor(siteId: string, endpointId: string): Promise<string | null> {
    return this.kv.get(keys.webhookCursor(siteId, endpointId));
  }

  private deliveryOps(d: WebhookDeliveryRecord): WriteOp[] {
    const ttlMs = this.retentionMs + DELIVERY_EXTRA_MS;
    const index = keys.webhookDeliveryIndex(d.siteId, d.endpointId);
    const member = dueMember(d);
    return [
      { op: 'set', key: keys.webhookDelivery(d.siteId, d.endpointId, d.eventId), value: encode(d), ttlMs },
      { op: 'zadd', key: index, member: indexMember(d.eventId) },
      { op: 'pexpire', key: index, ttlMs },
      d.nextAttemptAt === null
        ? { op: 'zrem', key: keys.webhookDue(d.siteId), member }
        : { op: 'zscore', key: keys.webhookDue(d.siteId), member, score: d.nextAttemptAt },
    ];
  }

  async dispatch(siteId: string, endpointId: string, from: string, to: string, deliveries: readonly WebhookDeliveryRecord[]): Promise<boolean> {
    const cursor = keys.webhookCursor(siteId, endpointId);
    return this.kv.writeIf({ key: cursor, equals: from }, [
      ...deliveries.flatMap((d) => this.deliveryOps(d)),
      { op: 'set', key: cursor, value: to },
    ]);
  }

  async due(siteId: string, now: number, limit: number): Promise<DueDelivery[]> {
    const members = await this.kv.rangeByScore(keys.webhookDue(siteId), now, limit);
    return members.map(parseDue).filter((d): d is DueDelivery => d !== null);
  }

  claim(siteId: string, d: DueDelivery, holder: string, ttlMs: number): Promise<boolean> {
    return this.kv.setIfAbsent(keys.webhookLease(siteId, d.endpointId, d.eventId), holder, ttlMs);
  }

  async findDelivery(siteId: string, d: DueDelivery): Promise<WebhookDeliveryRecord | null> {
    return decode<WebhookDeliveryRecord>(await this.kv.get(keys.webhookDelivery(siteId, d.endpointId, d.eventId)));
  }

  async saveDelivery(d: WebhookDeliveryRecord): Promise<void> {
    await this.kv.write([...this.deliveryOps(d), { op: 'del', key: keys.webhookLease(d.siteId, d.endpointId, d.eventId) }]);
  }

  async dropDue(siteId: string, d: DueDelivery): Promise<void> {
    await this.kv.write([
      { op: 'zrem', key: keys.webhookDue(siteId), member: dueMember(d) },
      { op: 'del', key: keys.webhookLease(siteId, d.endpointId, d.eventId) },
    ]);
  }

  async listDeliveries(
    siteId: string,
    endpointId: string,
    cursor: string | null,
    limit: number,
  ): Promise<{ deliveries: WebhookDeliveryRecord[]; nextCursor: string | null }> {
    if (cursor !== null && !/^\d{15}-\d{15}\|\d{1,16}-\d{1,16}$/.test(cursor)) {
      throw new VerigateError('invalid_request', 'cursor is not one this list returned', {
        errors: [{ path: 'cursor', message: 'not a deliveries cursor' }],
      });
    }
    const members = await this.kv.rangeByLex(keys.webhookDeliveryIndex(siteId, endpointId), {
      prefix: '',
      ...(cursor !== null && { after: cursor }),
      limit: limit + 1,
    });
    const page = members.slice(0, limit);
    const raw = page.length
      ? await this.kv.getMany(page.map((m) => keys.webhookDelivery(siteId, endpointId, m.slice(m.indexOf('|') + 1))))
      : [];
    const deliveries = raw.map((r) => decode<WebhookDeliveryRecord>(r)).filter((r): r is WebhookDeliveryRecord => r !== null);
    return { deliveries, nextCursor: members.length > limit ? (page[page.length - 1] ?? null) : null };
  }
}
