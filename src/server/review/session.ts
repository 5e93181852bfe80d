/**
 * Review page sessions: the sign-in form takes the admin token (compared in constant time)
 * and sets an HttpOnly, SameSite=Strict cookie naming a random session; each session has
 * its own CSRF token, which every POST must carry. Kept in memory: a restart signs
 * everyone out. A one-line message ("flash") waits in the session for the next page.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

export const COOKIE = 'ms_review';
const TTL_MS = 8 * 3600_000;

export interface Session {
  id: string;
  csrf: string;
  expires: number;
  flash?: { text: string; error?: boolean };
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant time, whatever the lengths. */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export class Sessions {
  private readonly byId = new Map<string, Session>();

  create(): Session {
    this.sweep();
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), expires: Date.now() + TTL_MS };
    this.byId.set(s.id, s);
    return s;
  }

  of(req: http.IncomingMessage): Session | undefined {
    const id = cookieValue(req.headers.cookie, COOKIE);
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s || s.expires < Date.now()) return undefined;
    return s;
  }

  end(s: Session): void {
    this.byId.delete(s.id);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.byId) if (s.expires < now) this.byId.delete(id);
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function sessionCookie(s: Session | undefined): string {
  const base = `${COOKIE}=${s ? s.id : ''}; Path=/review; HttpOnly; SameSite=Strict`;
  return s ? `${base}; Max-Age=${Math.floor(TTL_MS / 1000)}` : `${base}; Max-Age=0`;
}
