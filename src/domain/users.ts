import { VerigateError } from './errors';
import { iso } from './clock';
import type { DomainContext } from './context';
import type { UserStore } from './ports';
import type { Attributes, ProductAccess, UserRecord } from './records';
import type { Sites } from './sites';

export type { AttributeValue, Attributes, ProductAccess, UserRecord } from './records';

export const MAX_ATTRIBUTES_BYTES = 4096;
export const MAX_USER_ID_LENGTH = 256;

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

export interface UserChanges {
  email?: string | null | undefined;
  name?: string | null | undefined;
  attributes?: Attributes | undefined;
  productAccess?: readonly ProductAccess[] | undefined;
}

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
   * value. Returns whether it was created.
   */
  async upsertUser(siteId: string, userId: string, changes: UserChanges): Promise<{ user: UserRecord; created: boolean }> {
    await this.sites.getSite(siteId);
    if (changes.attributes && attributesSize(changes.attributes) > MAX_ATTRIBUTES_BYTES) {
      throw new VerigateError('invalid_request', `attributes must be at most ${MAX_ATTRIBUTES_BYTES} bytes as JSON`, {
        errors: [{ path: 'attributes', message: `larger than ${MAX_ATTRIBUTES_BYTES} bytes` }],
      });
    }
    const existing = await this.findUser(siteId, userId);
    const now = this.ctx.clock.now();
    const user: UserRecord = {
      userId,
      email: changes.email !== undefined ? changes.email : (existing?.email ?? null),
      name: changes.name !== undefined ? changes.name : (existing?.name ?? null),
      attributes: changes.attributes ?? existing?.attributes ?? {},
      productAccess: changes.productAccess ?? existing?.productAccess ?? [],
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.store.save(siteId, user);
    return { user, created: existing === null };
  }

  /** Deletes the user and ends all of their sessions, in one atomic step of the store. */
  async deleteUser(siteId: string, userId: string): Promise<void> {
    await this.getUser(siteId, userId);
    await this.store.deleteWithSessions(siteId, userId);
  }
}
