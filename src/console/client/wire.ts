/**
 * The admin API's bodies as the console reads them (openapi.yaml is the
 * contract of record; these are the members the pages use).
 */
export type Environment = 'live' | 'sandbox';
export const ENVIRONMENTS: readonly Environment[] = ['sandbox', 'live'];

export interface ProblemBody {
  type?: string;
  title?: string;
  status?: number;
  code?: string;
  detail?: string;
  requestId?: string;
  errors?: { path: string; message: string }[];
}

/** Who is signed in to the console: the root token or a scoped admin token. */
export interface Principal {
  /** `root`, or the scoped token's `tokenId`. */
  actor: string;
  name: string;
  role: 'read' | 'write';
  environments: Environment[];
  /** null: every site of its environments. */
  siteIds: string[] | null;
}

/** `GET /console/api/session` without a (live) session. */
export interface NoSession {
  signedIn: false;
}

export interface SessionInfo {
  signedIn: true;
  csrfToken: string;
  principal: Principal;
  expiresAt: string;
  idleExpiresAt: string;
}

export interface EnvironmentInfo {
  environment: Environment;
  publicUrl: string;
}

export interface Site {
  siteId: string;
  environment: Environment;
  name: string;
  allowedOrigins: string[];
  publishableKey: string;
  maxIdentityTokenAgeSeconds: number;
  createdAt: string;
  updatedAt: string;
}

export interface CreatedSite extends Site {
  identitySecret: string;
}

export interface IdentitySecrets {
  identitySecret: string;
  previousSecretValidUntil: string | null;
}

export interface ApiKey {
  keyId: string;
  siteId: string;
  name: string;
  last4: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface CreatedApiKey extends ApiKey {
  apiKey: string;
}

export interface ProductAccess {
  productId: string;
  expiresAt: string | null;
}

export interface User {
  userId: string;
  email: string | null;
  name: string | null;
  attributes: Record<string, string | number | boolean | null>;
  productAccess: ProductAccess[];
  createdAt: string;
  updatedAt: string;
}

export interface UserPage {
  users: User[];
  nextCursor: string | null;
}

export interface Session {
  sessionId: string;
  siteId: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
  idleTimeoutSeconds: number;
  lastActiveAt: string;
}

export interface SigningKey {
  kid: string;
  createdAt: string;
  current: boolean;
  retiresAt: string | null;
}

export interface ExchangeSeries {
  stepSeconds: number;
  from: string;
  to: string;
  series: { outcome: string; counts: number[] }[];
}

export interface AdminToken {
  tokenId: string;
  name: string;
  role: 'read' | 'write';
  environments: Environment[];
  siteIds: string[] | null;
  createdAt: string;
  last4: string;
}

export interface CreatedAdminToken extends AdminToken {
  token: string;
}

export interface WebhookEndpoint {
  endpointId: string;
  url: string;
  description?: string | null;
  eventTypes?: string[] | null;
  disabled?: boolean;
  createdAt?: string;
}

export interface CreatedWebhookEndpoint extends WebhookEndpoint {
  secret: string;
}

export interface WebhookDelivery {
  eventId: string;
  eventType?: string;
  attempt?: number;
  status: string;
  statusCode?: number | null;
  durationMs?: number | null;
  error?: string | null;
  attemptedAt?: string | null;
  nextAttemptAt?: string | null;
}

export interface AuditEvent {
  id: string;
  type: string;
  createdAt: string;
  environment: Environment;
  siteId: string | null;
  actor?: string | null;
  clientAddress?: string | null;
  data?: Record<string, unknown>;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
  hasMore?: boolean;
}
