/** Converting between `members` rows and the Member model. */
import { MEMBER_FIELDS, type Member } from '../types.js';

export const MEMBER_COLUMNS = ['id', ...MEMBER_FIELDS, 'provenance', 'created_run_id'] as const;

export function rowToMember(row: Record<string, unknown>): Member {
  const m: Record<string, unknown> = { id: row.id, provenance: row.provenance ?? {}, created_run_id: row.created_run_id ?? null };
  for (const f of MEMBER_FIELDS) {
    const v = row[f];
    if (v !== null && v !== undefined) m[f] = v;
  }
  if (row.created_at) m.created_at = row.created_at instanceof Date ? row.created_at.toISOString() : row.created_at;
  if (row.updated_at) m.updated_at = row.updated_at instanceof Date ? row.updated_at.toISOString() : row.updated_at;
  return m as unknown as Member;
}

/** The JSON object json_populate_recordset(null::members, ...) reads. */
export function memberToRow(m: Member): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const c of MEMBER_COLUMNS) {
    const v = (m as unknown as Record<string, unknown>)[c];
    row[c] = v === undefined ? null : v;
  }
  return row;
}
