/**
 * The review page (issue 13): one route per screen, each one query and one template, and
 * every action a POST that runs the same pipeline function as its CLI command
 * (resolveConflict, splitMember). Mounted at /review on the admin server and served by
 * `member-sync review`.
 *
 * Access: without a session a GET is sent to the sign-in form (303) and a POST gets 401;
 * a POST without the session's CSRF token gets 403. Member data never goes into a URL
 * (search is a POST; pages are named by conflict and member ids) nor into a log.
 */
import type http from 'node:http';
import type { Knex } from 'knex';
import type { Config } from '../../config/schema.js';
import { InputError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { trustResolver } from '../../pipeline/ingest.js';
import { resolveConflict, type Resolution } from '../../pipeline/resolve.js';
import { splitMember } from '../../pipeline/split.js';
import { getConflict, listQueue, mergedInto, nextOpenConflict, queueCounts, queueRuns } from '../../store/conflicts-repo.js';
import { fieldOrigins, memberLinks } from '../../store/inspect-repo.js';
import { historyWithRuns, membersByIds, searchMembers } from '../../store/review-repo.js';
import { CSS_HASH, page, type Html } from './html.js';
import { conflictPage, memberPage, queuePage, REASON_TEXT, searchPage, signInPage } from './pages.js';
import { sameSecret, sessionCookie, Sessions, type Session } from './session.js';

export interface ReviewOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  /** the admin token the sign-in form takes */
  token: string;
}

export type ReviewHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const MAX_BODY = 64 * 1024;

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': `default-src 'none'; style-src '${CSS_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function send(res: http.ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...HEADERS, ...headers });
  res.end(html);
}

function redirect(res: http.ServerResponse, to: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { location: to, 'cache-control': 'no-store', ...headers });
  res.end();
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new InputError('form too large');
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function createReviewHandler(opts: ReviewOptions): ReviewHandler {
  const sessions = new Sessions();
  const db = opts.db;
  const show = (res: http.ServerResponse, s: Session, title: string, body: Html, status = 200) => {
    const flash = s.flash;
    s.flash = undefined;
    send(res, status, page(title, body, { csrf: s.csrf, flash }));
  };

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://review');
    const method = req.method ?? 'GET';
    const p = url.pathname.replace(/\/+$/, '') || '/';
    if (method !== 'GET' && method !== 'POST') return send(res, 405, page('Not allowed', signInPage()), { allow: 'GET, POST' });

    if (p === '/review/sign-in') {
      if (method === 'GET') return send(res, 200, page('Sign in', signInPage()));
      const form = await readForm(req);
      if (!sameSecret(form.get('token') ?? '', opts.token)) {
        opts.log.warn({ route: 'review sign-in' }, 'review sign-in refused: wrong token');
        // a guess costs a moment
        await new Promise((r) => setTimeout(r, 250));
        return send(res, 401, page('Sign in', signInPage('That token is not the admin token.')));
      }
      const s = sessions.create();
      return redirect(res, '/review', { 'set-cookie': sessionCookie(s) });
    }

    const s = sessions.of(req);
    if (!s) {
      if (method === 'GET') return redirect(res, '/review/sign-in');
      req.resume();
      return send(res, 401, page('Sign in', signInPage('Sign in first.')));
    }
    let form: URLSearchParams | undefined;
    if (method === 'POST') {
      form = await readForm(req);
      if (!sameSecret(form.get('csrf') ?? '', s.csrf)) return send(res, 403, page('Refused', signInPage('The form was missing its CSRF token, or it was not this session’s: reload the page and try again.')));
    }

    if (p === '/review/sign-out' && form) {
      sessions.end(s);
      return redirect(res, '/review/sign-in', { 'set-cookie': sessionCookie(undefined) });
    }

    if (p === '/review' && method === 'GET') {
      const reason = url.searchParams.get('reason') || undefined;
      const runText = url.searchParams.get('run');
      const runId = runText && /^\d+$/.test(runText) ? Number(runText) : undefined;
      const filter = { reason: reason && reason in REASON_TEXT ? reason : undefined, runId };
      const [rows, counts, runs] = await Promise.all([listQueue(db, { ...filter, limit: 200 }), queueCounts(db, filter), queueRuns(db)]);
      return show(res, s, 'Conflicts', queuePage({ rows, counts, reasons: Object.keys(REASON_TEXT), runs, ...filter }));
    }

    let m = new RegExp(`^/review/conflicts/(\\d+)$`).exec(p);
    if (m && method === 'GET') {
      const c = await getConflict(db, Number(m[1]));
      if (!c) return show(res, s, 'Not found', searchPage(s.csrf), 404);
      const members = await membersByIds(db, c.candidate_ids);
      const candidates = [];
      for (const id of c.candidate_ids) {
        const member = members.get(id);
        const origins = member ? (await fieldOrigins(db, member, trustResolver(opts.config))).origins : {};
        candidates.push({ id, member, origins, merged: member ? undefined : (await mergedInto(db, id))?.into_id });
      }
      return show(res, s, `Conflict #${c.id}`, conflictPage({ c, candidates, csrf: s.csrf }));
    }

    m = new RegExp(`^/review/conflicts/(\\d+)/resolve$`).exec(p);
    if (m && form) {
      const id = Number(m[1]);
      const action = form.get('action');
      const member = form.get('member') ?? '';
      const how: Resolution | undefined =
        action === 'merge_into' && new RegExp(`^${UUID}$`).test(member) ? { mergeInto: member } : action === 'new_member' ? { newMember: true } : action === 'ignore' ? { ignore: true } : undefined;
      if (!how) return show(res, s, 'Refused', searchPage(s.csrf), 400);
      const before = await getConflict(db, id);
      try {
        const r = await resolveConflict(id, how, { db, config: opts.config, log: opts.log, by: 'review page' });
        s.flash = { text: r.state === 'ignored' ? `Conflict #${id} ignored.` : `Conflict #${id} ${r.created ? 'made a new member' : 'merged into member'} ${r.member_id} (run ${r.run_id}; member-sync revert ${r.run_id} undoes it).` };
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        s.flash = { text: err.message, error: true };
        return redirect(res, `/review/conflicts/${id}`);
      }
      const next = await nextOpenConflict(db, before);
      return redirect(res, next ? `/review/conflicts/${next}` : '/review');
    }

    if (p === '/review/search') {
      if (!form) return show(res, s, 'Find a member', searchPage(s.csrf));
      const q = (form.get('q') ?? '').slice(0, 200);
      return show(res, s, 'Find a member', searchPage(s.csrf, q, await searchMembers(db, q)));
    }

    m = new RegExp(`^/review/members/(${UUID})$`).exec(p);
    if (m && method === 'GET') {
      const found = await membersByIds(db, [m[1]]);
      const member = found.get(m[1]);
      if (!member) {
        const merged = await mergedInto(db, m[1]);
        if (merged) return redirect(res, `/review/members/${merged.into_id}`);
        return show(res, s, 'Not found', searchPage(s.csrf), 404);
      }
      const { origins, sources } = await fieldOrigins(db, member, trustResolver(opts.config));
      const [links, history] = await Promise.all([memberLinks(db, member.id), historyWithRuns(db, member.id)]);
      return show(res, s, 'Member', memberPage({ m: member, origins, sources, links, history, csrf: s.csrf }));
    }

    m = new RegExp(`^/review/members/(${UUID})/split$`).exec(p);
    if (m && form) {
      const ref = form.get('source') ?? '';
      try {
        const r = await splitMember(m[1], [ref], { db, config: opts.config, log: opts.log });
        s.flash = { text: `Split ${r.moved.join(', ')} off into a new member (run ${r.run_id}; member-sync revert ${r.run_id} undoes it).` };
        return redirect(res, `/review/members/${r.new_member_id}`);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        s.flash = { text: err.message, error: true };
        return redirect(res, `/review/members/${m[1]}`);
      }
    }
    return show(res, s, 'Not found', searchPage(s.csrf), 404);
  };
}
