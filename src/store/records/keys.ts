/**
 * Every store key verigate uses, in one place. Keys are relative: the store
 * prefixes them with `<prefix>:<environment>:`. Everything one exchange needs
 * for a session (the session and its user) sits under the site's hash tag,
 * so it is one single-slot read on Redis Cluster.
 */
const tag = (siteId: string): string => `{${siteId}}`;

export const keys = {
  /** Site record (JSON). */
  site: (siteId: string) => `${tag(siteId)}:site`,
  /** Set of every siteId. */
  siteIndex: () => 'sites',
  /** Publishable key -> siteId. Publishable keys are public, so stored as they are. */
  publishableKey: (publishableKey: string) => `pk:${publishableKey}`,
  /** API key record (JSON), found by the keyed hash of the secret. */
  apiKeyByHash: (keyHash: string) => `apikey:${keyHash}`,
  /** keyId -> keyed hash, per site; also the list of the site's keys. */
  siteApiKey: (siteId: string, keyId: string) => `${tag(siteId)}:apikey:${keyId}`,
  siteApiKeyIndex: (siteId: string) => `${tag(siteId)}:apikeys`,
  /** When the key was last used (epoch ms), written at most once a minute. */
  apiKeyLastUsed: (keyId: string) => `apikey-used:${keyId}`,
  user: (siteId: string, userId: string) => `${tag(siteId)}:user:${userId}`,
  /** The site's user search index (a lexicographic set; src/store/records/user-store.ts). */
  userIndex: (siteId: string) => `${tag(siteId)}:user-index`,
  session: (siteId: string, sessionId: string) => `${tag(siteId)}:session:${sessionId}`,
  /** Session token keyed hash -> `siteId sessionId`. */
  sessionByTokenHash: (tokenHash: string) => `st:${tokenHash}`,
  userSessions: (siteId: string, userId: string) => `${tag(siteId)}:user-sessions:${userId}`,
  /** An identity token that has signed in (its keyed hash; src/domain/identity-token-uses.ts); expires with the token. */
  identityTokenUse: (siteId: string, useHash: string) => `${tag(siteId)}:identity-token-used:${useHash}`,
  /** The environment's signing keyring (JSON; private keys encrypted). */
  signingKeys: () => 'signing-keys',
  /** Scoped admin token record (JSON), found by the keyed hash of the token. */
  adminTokenByHash: (tokenHash: string) => `admintoken:${tokenHash}`,
  /** tokenId -> keyed hash. */
  adminTokenId: (tokenId: string) => `admintoken-id:${tokenId}`,
  /** Set of every tokenId of the environment. */
  adminTokenIndex: () => 'admintokens',
  /** Console sign-in (JSON), found by the keyed hash of the cookie's secret; expires with the session. */
  consoleSession: (sessionHash: string) => `console-session:${sessionHash}`,
  /**
   * Exchange outcomes of one minute (epoch minutes): a hash of
   * `<epoch second>:<outcome>` -> count. Every minute under one hash tag, so a
   * flush of several seconds is one write; a few writes a second at most.
   */
  exchangeCounts: (minute: number) => `{exchange-counts}:${minute}`,
  /**
   * The site's event log (a Redis Stream, SPEC §11), under the site's hash
   * tag so a change and its events are one MULTI. Kept through a site's
   * deletion (its last events describe it); it expires with the retention.
   */
  events: (siteId: string) => `${tag(siteId)}:events`,
  /** The site's audit log: its events an admin call caused (same tag, same MULTI as the change). */
  audit: (siteId: string) => `${tag(siteId)}:audit`,
  /** The environment's own audit log (changes of no one site: a signing-key rotation). */
  environmentAudit: () => '{environment-audit}:audit',
  /** Set of every siteId that has (had) an audit log; sites are added before their first write and never removed. */
  auditSites: () => 'audit-sites',
  /** Webhook endpoint record (JSON; secrets sealed), and the site's set of endpoint ids. */
  webhook: (siteId: string, endpointId: string) => `${tag(siteId)}:webhook:${endpointId}`,
  webhookIndex: (siteId: string) => `${tag(siteId)}:webhooks`,
  /** The id of the last event of the site's log the endpoint has been given deliveries for. */
  webhookCursor: (siteId: string, endpointId: string) => `${tag(siteId)}:webhook-cursor:${endpointId}`,
  /** A delivery (JSON): one event to one endpoint, with its attempts. */
  webhookDelivery: (siteId: string, endpointId: string, eventId: string) => `${tag(siteId)}:delivery:${endpointId}:${eventId}`,
  /** The endpoint's deliveries, newest first (a lexicographic set of inverted ids). */
  webhookDeliveryIndex: (siteId: string, endpointId: string) => `${tag(siteId)}:deliveries:${endpointId}`,
  /** The site's due deliveries: a scored set, `<endpointId> <eventId>` by when it is due (epoch ms). */
  webhookDue: (siteId: string) => `${tag(siteId)}:webhook-due`,
  /** Who is sending a delivery right now (expires: a dead sender's work goes to another instance). */
  webhookLease: (siteId: string, endpointId: string, eventId: string) => `${tag(siteId)}:webhook-lease:${endpointId}:${eventId}`,
  /** Set of every siteId with (once) a webhook endpoint: the sites the delivery loop looks at. */
  webhookSites: () => 'webhook-sites',
} as const;

/** Pub/sub channels (relative, prefixed by the store like keys). */
export const channels = {
  /** Invalidation of in-process caches: API keys, sites, signing keys. */
  invalidate: 'invalidate',
  /** A site's event log has grown: the payload is the siteId (a nudge; the log is the truth). */
  events: 'events',
} as const;
