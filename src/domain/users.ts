import { VerigateError } from './errors';
import { iso } from './clock';
import type { DomainContext } from './context';
import type { UserEvents, UserStore } from './ports';
import { sessionsEnded, type ChangeCause, type NewEvent } from './events';
import type { Attributes, ProductAccess, UserChanges, UserRecord } from './records';
import type { SiteRecord, Sites } from './sites';

export type { AttributeValue, Attributes, ProductAccess, UserChanges, UserRecord } from './records';

export const MAX_ATTRIBUTES_BYTES = 4096;
export const MAX_USER_ID_LENGTH = 256;

/**
 * A user id must be well-formed Unicode (SPEC §7): no lone surrogate, which
 * JSON escapes (`"\ud800"`) can smuggle in but UTF-8 cannot carry, so it
 * could not be stored, compared or sent back as the same id.
 */
export function isWellFormedUserId(userId: string): boolean {
  // String.prototype.isWellFormed (Node 20) is ES2024; the project's lib is ES2023.
  return (userId as string & { isWellFormed(): boolean }).isWellFormed();
}

export interface ProductAccessView {
  productId: string;
  expiresAt: string | null;
}

export interface UserView {
  userId: string;
  email: string | null;
  name: string | null;
  attributes: Attributes;
  productAccess: ProductAccessView[];
  createdAt: string;
  updatedAt: string;
}

interface AssertedProfile {
  readonly name: string | null | undefined;
  readonly attributes: Attributes;
}

/**
 * The identity a customer-signed token asserts (src/domain/identity-tokens.ts
 * reads it), ready to create or update the user: by id (created on first
 * sight), or, with no id, by the email of an existing user (SPEC §14: the
 * habit of widget vendors that sign users in by email).
 */
export type AssertedIdentity =
  | (AssertedProfile & {
      readonly userId: string;
      /** undefined: the token does not say, so the stored value stays; null clears it. */
      readonly email: string | null | undefined;
    })
  | (AssertedProfile & { readonly userId: null; readonly email: string });

/**
 * Why a sign-in with a valid identity token is refused all the same (a
 * `reason` of `invalid_identity_token`): the token names by email a user
 * the site does not have exactly one of, or it would create a user past
 * the site's `maxUsers`.
 */
export type SignInRefusal = 'unknown_user' | 'seat_limit_reached';

/** Users a search answers at most per page, and by default. */
export const MAX_USER_SEARCH_LIMIT = 100;
export const DEFAULT_USER_SEARCH_LIMIT = 25;

/** Product access still running at `now`: expired entries are not listed. */
export function currentProductAccess(user: UserRecord, now: number): ProductAccessView[] {
  const out: ProductAccessView[] = [];
  for (const p of user.productAccess) {
    if (p.expiresAt === null || p.expiresAt > now) {
      out.push({ productId: p.productId, expiresAt: p.expiresAt === null ? null : iso(p.expiresAt) });
    }
  }
  return out;
}

export function hasProductAccess(user: UserRecord, productId: string, now: number): boolean {
  return user.productAccess.some((p) => p.productId === productId && (p.expiresAt === null || p.expiresAt > now));
}

export function attributesSize(attributes: Attributes): number {
  return Buffer.byteLength(JSON.stringify(attributes));
}

/** Users of one environment, scoped to a site. */
export class Users {
  constructor(
    private readonly ctx: DomainContext,
    private readonly store: UserStore,
    private readonly sites: Sites,
  ) {}

  /** The public view: expired product access is left out. */
  view(user: UserRecord): UserView {
    return {
      userId: user.userId,
      email: user.email,
      name: user.name,
      attributes: user.attributes,
      productAccess: currentProductAccess(user, this.ctx.clock.now()),
      createdAt: iso(user.createdAt),
      updatedAt: iso(user.updatedAt),
    };
  }

  async findUser(siteId: string, userId: string): Promise<UserRecord | null> {
    return this.store.find(siteId, userId);
  }

  async getUser(siteId: string, userId: string): Promise<UserRecord> {
    await this.sites.getSite(siteId);
    const user = await this.findUser(siteId, userId);
    if (!user) throw new VerigateError('user_not_found', `No user ${JSON.stringify(userId)} on site ${siteId}`);
    return user;
  }

  /**
   * Creates the user or changes the given fields; fields left out keep their
   * value. One atomic step of the store: a grant, a revoke or a sign-in at
   * the same moment is never undone, and a new user past the site's
   * `maxUsers` is refused (409 `seat_limit_reached`). Returns whether it was created.
   */
  /**
   * A user change's events: `user.created` or `user.updated` (only when the
   * profile changed) and `user.product_access.changed` when the grants did.
   */
  private userEvents(siteId: string, cause: ChangeCause | undefined): UserEvents {
    const make = this.ctx.events(cause);
    return (before, after) => {
      const out: NewEvent[] = [];
      const profile = (u: UserRecord) => JSON.stringify([u.email, u.name, u.attributes]);
      if (before === null) out.push(make('user.created', siteId, { ...this.view(after) }));
      else if (profile(before) !== profile(after)) out.push(make('user.updated', siteId, { ...this.view(after) }));
      const grants = JSON.stringify(before?.productAccess ?? []);
      if (grants !== JSON.stringify(after.productAccess)) {
        out.push(
          make('user.product_access.changed', siteId, {
            userId: after.userId,
            productAccess: currentProductAccess(after, this.ctx.clock.now()),
          }),
        );
      }
      return out;
    };
  }

  async upsertUser(
    siteId: string,
    userId: string,
    changes: UserChanges,
    cause?: ChangeCause,
  ): Promise<{ user: UserRecord; created: boolean }> {
    const site = await this.sites.getSite(siteId);
    if (changes.attributes && attributesSize(changes.attributes) > MAX_ATTRIBUTES_BYTES) {
      throw new VerigateError('invalid_request', `attributes must be at most ${MAX_ATTRIBUTES_BYTES} bytes as JSON`, {
        errors: [{ path: 'attributes', message: `larger than ${MAX_ATTRIBUTES_BYTES} bytes` }],
      });
    }
    const outcome = await this.store.saveChanges(siteId, userId, changes, this.ctx.clock.now(), this.userEvents(siteId, cause), {
      maxUsers: site.maxUsers ?? null,
    });
    if (!outcome.saved) {
      throw new VerigateError(
        'seat_limit_reached',
        `Site ${siteId} has its maxUsers (${site.maxUsers ?? 'none'}) users; delete one or raise maxUsers to add ${JSON.stringify(userId)}`,
      );
    }
    return { user: outcome.user, created: outcome.created };
  }

  /**
   * The user a sign-in asserts, created or updated from the token (never
   * product access), or the reason it is refused: by id, created on first
   * sight unless the site is full (`seat_limit_reached`; users it has keep
   * signing in); by email alone, the site's one existing user with that
   * email, compared case-insensitively (`unknown_user` for none or more
   * than one, or when that user is renamed or deleted before the update).
   */
  async signInUser(site: SiteRecord, identity: AssertedIdentity): Promise<UserRecord | SignInRefusal> {
    const now = this.ctx.clock.now();
    const { email, name, attributes } = identity;
    const events = this.userEvents(site.siteId, undefined);
    if (identity.userId !== null) {
      const outcome = await this.store.saveChanges(site.siteId, identity.userId, { email, name, attributes }, now, events, {
        maxUsers: site.maxUsers ?? null,
      });
      return outcome.saved ? outcome.user : 'seat_limit_reached';
    }
    // Two are enough to tell one from several.
    const matches = await this.store.findByEmail(site.siteId, identity.email, 2);
    const [match] = matches;
    if (match === undefined || matches.length > 1) return 'unknown_user';
    const outcome = await this.store.saveChanges(site.siteId, match.userId, { email, name, attributes }, now, events, {
      existingWithEmail: identity.email,
    });
    return outcome.saved ? outcome.user : 'unknown_user';
  }

  /** A grant that has already run out is refused, never stored as if it meant something. */
  private checkNotExpired(access: ProductAccess, path: string): void {
    if (access.expiresAt !== null && access.expiresAt <= this.ctx.clock.now()) {
      throw new VerigateError('invalid_request', `expiresAt ${iso(access.expiresAt)} is in the past`, {
        errors: [{ path, message: 'must be in the future' }],
      });
    }
  }

  /** Grants one product to an existing user (until `expiresAt`, or for good), atomically. */
  async grantProduct(siteId: string, userId: string, access: ProductAccess, cause?: ChangeCause): Promise<UserRecord> {
    await this.sites.getSite(siteId);
    this.checkNotExpired(access, 'expiresAt');
    const events = this.userEvents(siteId, cause);
    return this.found(siteId, userId, await this.store.grantProduct(siteId, userId, access, this.ctx.clock.now(), events));
  }

  /** Takes one product away from an existing user, atomically; a product they do not have changes nothing. */
  async revokeProduct(siteId: string, userId: string, productId: string, cause?: ChangeCause): Promise<UserRecord> {
    await this.sites.getSite(siteId);
    const events = this.userEvents(siteId, cause);
    return this.found(siteId, userId, await this.store.revokeProduct(siteId, userId, productId, this.ctx.clock.now(), events));
  }

  /** A page of the site's users whose id or email starts with `query` (every user for ''). */
  async searchUsers(siteId: string, options: { query: string; cursor: string | null; limit?: number }) {
    await this.sites.getSite(siteId);
    const limit = options.limit ?? DEFAULT_USER_SEARCH_LIMIT;
    return this.store.search(siteId, { query: options.query, cursor: options.cursor, limit });
  }

  private found(siteId: string, userId: string, user: UserRecord | null): UserRecord {
    if (!user) throw new VerigateError('user_not_found', `No user ${JSON.stringify(userId)} on site ${siteId}`);
    return user;
  }

  /** Deletes the user and ends all of their sessions, in one atomic step of the store. */
  async deleteUser(siteId: string, userId: string, cause?: ChangeCause): Promise<void> {
    await this.getUser(siteId, userId);
    const make = this.ctx.events(cause);
    const ended = sessionsEnded(make, 'user_deleted');
    await this.store.deleteWithSessions(siteId, userId, (sessions) => [...ended(sessions), make('user.deleted', siteId, { userId })]);
  }
}
