/**
 * Erasure in the store (DESIGN.md "Lifecycle", GDPR art. 17): a person's personal data out
 * of every table, and a tombstone of keyed hashes of their identity keys (HMAC-SHA256 with
 * a random key of this database, kept in `settings`), so that a later record with one of
 * those keys can be refused (`erased`) without the store knowing the keys themselves.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { MEMBER_FIELDS } from '../types.js';

type Db = Knex | Knex.Transaction;

export const ERASURE_KEY_SETTING = 'erasure.hmacKey';

/** The database's HMAC key, made on first use. */
export async function erasureKey(db: Db): Promise<Buffer> {
  await db.raw(`insert into settings (key, value) values (?, to_jsonb(?::text)) on conflict (key) do nothing`, [ERASURE_KEY_SETTING, randomBytes(32).toString('hex')]);
  const row = await db('settings').where({ key: ERASURE_KEY_SETTING }).first('value');
  return Buffer.from(row.value as string, 'hex');
}

/** The key, when anyone was ever erased (else there is nothing to refuse). */
export async function erasureKeyIfAny(db: Db): Promise<Buffer | undefined> {
  const { rows } = await db.raw(`select (select value from settings where key = ?) as k, exists (select 1 from erased_keys) as any`, [ERASURE_KEY_SETTING]);
  return rows[0].any && rows[0].k ? Buffer.from(rows[0].k as string, 'hex') : undefined;
}

/** The keyed hash of one identity key (`email:a@x.org`, `cons_id:…`, `member_id:…`, `src:<source>:<key>`). */
export function keyedHash(key: Buffer, identity: string): string {
  return createHmac('sha256', key).update(identity).digest('hex');
}

/** The identities a record would carry, for the tombstone check at ingest. */
export function recordIdentities(source: string, key: string | undefined, values: { cons_id?: string; member_id?: string; email?: string }): string[] {
  const out: string[] = [];
  if (key) out.push(`src:${source}:${key}`);
  if (values.cons_id) out.push(`cons_id:${values.cons_id}`);
  if (values.member_id) out.push(`member_id:${values.member_id}`);
  if (values.email) out.push(`email:${values.email}`);
  return out;
}

/** Which of these hashes are tombstones. */
export async function erasedHashes(db: Db, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await db.raw(`select hash from erased_keys where hash = any(?::text[])`, [hashes]);
  return new Set((rows as { hash: string }[]).map((r) => r.hash));
}

/** A person's identity keys as the store holds them: the member's, its source records' and its links'. */
export async function identityOf(db: Db, memberId: string): Promise<{ identities: string[]; values: string[] }> {
  const m = await db('members').where({ id: memberId }).first();
  const srs = await db('source_records').where({ member_id: memberId }).select('source', 'source_key', 'values');
  const links = await db('member_links').where({ member_id: memberId }).select('connection', 'external_id');
  const identities = new Set<string>();
  const values = new Set<string>();
  const addKeys = (v: Record<string, unknown> | undefined) => {
    for (const k of ['cons_id', 'member_id', 'email'] as const) {
      const x = v?.[k];
      if (typeof x === 'string' && x !== '') {
        identities.add(`${k}:${x}`);
        values.add(x);
      }
    }
    // the other personal values to look for in refused records and logs
    for (const f of MEMBER_FIELDS) {
      const x = v?.[f];
      if (typeof x === 'string' && x.length >= 3 && !['weight', 'sex', 'language', 'country'].includes(f)) values.add(x);
    }
  };
  addKeys(m as Record<string, unknown> | undefined);
  for (const sr of srs as { source: string; source_key: string; values: Record<string, unknown> }[]) {
    identities.add(`src:${sr.source}:${sr.source_key}`);
    addKeys(sr.values);
    if (sr.source_key.startsWith('ext:')) values.add(sr.source_key.slice(4));
  }
  for (const l of links as { connection: string; external_id: string }[]) {
    identities.add(`src:${l.connection}:ext:${l.external_id}`);
    values.add(l.external_id);
  }
  return { identities: [...identities], values: [...values] };
}

/** jsonb `col` holds one of these strings as a value anywhere in it (compared trimmed, case-insensitively). */
const holdsAny = (col: string) => `exists (select 1 from jsonb_path_query(${col}, 'lax $.**') v where jsonb_typeof(v) = 'string' and lower(trim(v #>> '{}')) = any(?::text[]))`;

export interface WipeCounts {
  source_records: number;
  history: number;
  changes: number;
  conflicts: number;
  rejects: number;
  push_state: number;
  links: number;
  runs: number;
}

/**
 * Take the person's data out of every table, in one transaction under the members lock,
 * and keep the tombstone. The member row stays as `erased` with no personal field.
 */
export async function wipePerson(trx: Knex.Transaction, memberId: string, runId: number, by: string, hashes: string[], values: string[]): Promise<WipeCounts> {
  const lowered = [...new Set(values.map((v) => v.trim().toLowerCase()).filter((v) => v !== ''))];
  const n = (r: { rowCount?: number }) => r.rowCount ?? 0;
  const keys = await trx('source_records').where({ member_id: memberId }).select('source', 'source_key');
  const c: WipeCounts = { source_records: 0, history: 0, changes: 0, conflicts: 0, rejects: 0, push_state: 0, links: 0, runs: 0 };
  c.history = n(
    await trx.raw(
      `delete from source_record_history h where h.member_id = ? or exists (select 1 from json_to_recordset(?::json) as x(source text, source_key text) where x.source = h.source and x.source_key = h.source_key)`,
      [memberId, JSON.stringify(keys)],
    ),
  );
  c.source_records = n(await trx.raw(`delete from source_records where member_id = ?`, [memberId]));
  // the fact of each change is kept; what it was and where it came from (a line, a remote id) is not
  c.changes = n(await trx.raw(`update member_changes set old = null, new = null, source_ref = null where member_id = ?`, [memberId]));
  if (lowered.length > 0) {
    c.changes += n(await trx.raw(`update member_changes set old = null, new = null where member_id <> ? and (${holdsAny('old')} or ${holdsAny('new')})`, [memberId, lowered, lowered]));
    c.conflicts = n(await trx.raw(`delete from conflicts where ${holdsAny('record')} or source_key = any(?::text[])`, [lowered, keys.map((k: { source_key: string }) => k.source_key)]));
    c.rejects = n(await trx.raw(`delete from rejects where ${holdsAny('raw')} or lower(source_ref) = any(?::text[])`, [lowered, lowered.map((v) => `id ${v}`)]));
    // runs whose details name the person (a split's source keys): their details go
    c.runs = n(await trx.raw(`update runs set details = jsonb_build_object('erased', true) where ${holdsAny('details')} or exists (select 1 from unnest(?::text[]) v where strpos(lower(details::text), v) > 0 and length(v) >= 5)`, [lowered, lowered]));
  }
  // free text that quotes them (a run's error, another member's remote error message)
  const quoted = lowered.filter((v) => v.length >= 5);
  if (quoted.length > 0) {
    const mentions = (col: string) => `${col} is not null and exists (select 1 from unnest(?::text[]) v where strpos(lower(${col}), v) > 0)`;
    c.runs += n(await trx.raw(`update runs set error = '(the text named an erased person)' where ${mentions('error')}`, [quoted]));
    await trx.raw(`update push_errors set message = '(the text named an erased person)' where ${mentions('message')}`, [quoted]);
    await trx.raw(`update push_state set last_error = null where ${mentions('last_error')}`, [quoted]);
  }
  await trx.raw(`update conflicts set candidate_ids = array_remove(candidate_ids, ?::uuid) where ? = any(candidate_ids)`, [memberId, memberId]);
  c.push_state = n(await trx.raw(`delete from push_state where member_id = ?`, [memberId]));
  await trx.raw(`delete from push_errors where member_id = ?`, [memberId]);
  c.links = n(await trx.raw(`delete from member_links where member_id = ?`, [memberId]));
  const blank = MEMBER_FIELDS.filter((f) => f !== 'weight').map((f) => `${f === 'groups' ? '"groups"' : f} = null`).join(', ');
  await trx.raw(
    `update members set ${blank}, weight = 1, provenance = '{}', status = 'erased', removed_at = coalesce(removed_at, now()), removed_reason = null, removed_by = ?, updated_at = now() where id = ?`,
    [by, memberId],
  );
  await trx.raw(`insert into erasures (member_id, run_id, key_hashes) values (?, ?, ?::text[]) on conflict (member_id) do update set key_hashes = excluded.key_hashes, erased_at = now()`, [memberId, runId, hashes]);
  if (hashes.length > 0) {
    await trx.raw(`insert into erased_keys (hash, member_id) select h, ? from unnest(?::text[]) h on conflict (hash) do nothing`, [memberId, hashes]);
  }
  return c;
}
