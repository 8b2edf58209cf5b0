import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { VerigateError } from '../../domain/errors';
import { bearerToken } from '../body';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** `Authorization: Bearer $VERIGATE_ADMIN_TOKEN`, compared in constant time (over digests, so lengths leak nothing). */
export function adminAuth(adminToken: string) {
  const expected = digest(adminToken);
  return function adminAuth(req: Request, _res: Response, next: NextFunction): void {
    const presented = bearerToken(req);
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      throw new VerigateError('unauthorized', 'Send Authorization: Bearer <admin token>', undefined, {
        'WWW-Authenticate': 'Bearer realm="verigate-admin"',
      });
    }
    next();
  };
}
