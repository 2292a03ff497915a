// Who may make admin calls (UpsertItems, DeleteItems, ReloadBundle): a
// bearer token, or a client certificate of an admin identity under mutual
// TLS (ServiceOptions.admin and adminClientNames).
import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';

import { ServiceError } from './errors';

/** A bearer token admin calls must present, 'disabled' (refused), or 'open' (trusted networks and tests). */
export type AdminSetting = { token: string } | 'open' | 'disabled';

/**
 * Admin call authorisation, in this order:
 * 1. admin 'open': allowed.
 * 2. The client presented a certificate verified against the mutual-TLS CA
 *    whose subject CN or one of whose SAN DNS names is in adminClientNames:
 *    allowed, no token needed.
 * 3. An "authorization" header: allowed when it is "Bearer <admin token>",
 *    else PERMISSION_DENIED (also when no token is configured).
 * 4. No header, but a verified certificate while adminClientNames is set:
 *    PERMISSION_DENIED (the identity is known and not an admin).
 * 5. No header and admin calls are off (no token, no client names):
 *    PERMISSION_DENIED; otherwise UNAUTHENTICATED.
 */
export function authorizeAdmin(call: grpc.ServerUnaryCall<unknown, unknown>, method: string, admin: AdminSetting, names: readonly string[]): void {
  if (admin === 'open') return;
  const peer = names.length > 0 ? certificateNames(call) : null;
  if (peer && peer.some((n) => names.includes(n))) return;
  const header = call.metadata.get('authorization')[0];
  if (typeof header === 'string' && header.length > 0) {
    if (admin === 'disabled') throw new ServiceError('FORBIDDEN', `${method}: admin tokens are not accepted by this server (no --admin-token configured)`);
    const m = /^Bearer (.+)$/.exec(header);
    const given = Buffer.from(m ? m[1] : '');
    const want = Buffer.from(admin.token);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new ServiceError('FORBIDDEN', `${method}: the admin token is not valid`);
    return;
  }
  if (peer) throw new ServiceError('FORBIDDEN', `${method}: client certificate ${JSON.stringify(peer[0] ?? '')} is not an admin identity (--admin-client-names)`);
  if (admin === 'disabled' && names.length === 0) {
    throw new ServiceError('FORBIDDEN', `${method} is an admin call and admin calls are disabled (start the server with --admin-token or --admin-client-names)`);
  }
  throw new ServiceError('UNAUTHENTICATED', `${method} needs "authorization: Bearer <admin token>"${names.length > 0 ? ' or an admin client certificate' : ''}`);
}

/**
 * The identities of the call's client certificate (subject CNs, then SAN
 * DNS names), or null when the client presented none that the TLS layer
 * verified (grpc-js reports a peer certificate only for an authorized TLS
 * socket).
 */
export function certificateNames(call: grpc.ServerUnaryCall<unknown, unknown>): string[] | null {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  if (!cert) return null;
  const cn = cert.subject?.CN as string | string[] | undefined;
  const names = cn === undefined ? [] : Array.isArray(cn) ? [...cn] : [cn];
  // "DNS:a.example, IP Address:10.0.0.1, DNS:\"b, c\"": values with special
  // characters are JSON-quoted (Node >= 17).
  for (const m of (cert.subjectaltname ?? '').matchAll(/(?:^|, )DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    try {
      names.push(m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1]);
    } catch {
      // an unparsable entry names nobody
    }
  }
  return names;
}
