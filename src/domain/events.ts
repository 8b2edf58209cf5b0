import { VerigateError } from './errors';
import type { Environment } from './environments';
import type { SessionRecord } from './records';

/*
 * The events of SPEC §11: every change to a site's users, sessions, keys and
 * secrets, written with the change (each port mutation takes its events and
 * writes them in the same atomic step where the change is site-scoped).
 * Ids are the store's log ids (`<ms>-<seq>`): they sort in time order within
 * a site and serve as cursors.
 */

export const EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'user.product_access.changed',
  'session.created',
  'session.ended',
  'api_key.created',
  'api_key.revoked',
  'api_key.rolled',
  'identity_secret.rotated',
  'signing_key.rotated',
  'site.created',
  'site.updated',
  'site.deleted',
  'webhook_endpoint.created',
  'webhook_endpoint.updated',
  'webhook_endpoint.deleted',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const SESSION_END_REASONS = [
  'signed_out',
  'signed_out_everywhere',
  'user_deleted',
  'session_limit',
  'site_deleted',
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

export const isEventType = (s: string): s is EventType => (EVENT_TYPES as readonly string[]).includes(s);

/** Who made an admin change, and from where: it goes into the change's events (the audit log). */
export interface ChangeCause {
  /** `root`, or the scoped admin token's tokenId. */
  readonly actor: string;
  readonly clientAddress: string;
}

/** An event as the domain hands it to a port, before the store gives it an id. Carries no secret. */
export interface NewEvent {
  readonly type: EventType;
  readonly siteId: string;
  readonly environment: Environment;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly data: Readonly<Record<string, unknown>>;
  /** Set when an admin call caused it. */
  readonly actor?: string;
  readonly clientAddress?: string;
}

/** An event as stored, with its id. */
export interface StoredEvent extends NewEvent {
  readonly id: string;
}

/** An event as the feed, the stream and webhooks send it. */
export interface EventView {
  id: string;
  type: EventType;
  createdAt: string;
  environment: Environment;
  siteId: string;
  data: Record<string, unknown>;
}

/** An audit-log entry: an event an admin call caused. */
export interface AuditEventView extends Omit<EventView, 'siteId'> {
  /** null for a change of the whole environment (a signing-key rotation). */
  siteId: string | null;
  actor: string;
  clientAddress: string;
}

/** Builds a mutation's events: the time and environment come from the domain. */
export type EventMaker = (type: EventType, siteId: string, data: Record<string, unknown>) => NewEvent;

export function eventMaker(environment: Environment, now: () => number, cause?: ChangeCause): EventMaker {
  return (type, siteId, data) => ({
    type,
    siteId,
    environment,
    createdAt: now(),
    data,
    ...(cause && { actor: cause.actor, clientAddress: cause.clientAddress }),
  });
}

/** `session.ended` events for the sessions one change ends. */
export function sessionsEnded(make: EventMaker, reason: SessionEndReason) {
  return (sessions: readonly SessionRecord[]): NewEvent[] =>
    sessions.map((s) => make('session.ended', s.siteId, { sessionId: s.sessionId, userId: s.userId, reason }));
}

/** A parsed event id (`<ms>-<seq>`). */
export interface EventId {
  readonly ms: number;
  readonly seq: number;
}

const EVENT_ID = /^(\d{1,15})-(\d{1,15})$/;

export function parseEventId(id: string): EventId | null {
  const m = EVENT_ID.exec(id);
  return m ? { ms: Number(m[1]), seq: Number(m[2]) } : null;
}

/** A cursor from the query string, or a 400. */
export function requireEventId(id: string, path: string): EventId {
  const parsed = parseEventId(id);
  if (!parsed) {
    throw new VerigateError('invalid_request', `${path} must be an event id (<ms>-<seq>)`, {
      errors: [{ path, message: 'not an event id' }],
    });
  }
  return parsed;
}

/** Orders event ids of one site: negative when `a` comes first. */
export function compareEventIds(a: string, b: string): number {
  const x = parseEventId(a);
  const y = parseEventId(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  return x.ms - y.ms || x.seq - y.seq;
}
