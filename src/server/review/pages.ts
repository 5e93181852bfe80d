/** The review page's templates: one per screen, every value through `h`. */
import type { SourceRecord } from '../../members/source-record.js';
import type { ConflictRow } from '../../store/conflicts-repo.js';
import type { FieldOrigin } from '../../store/inspect-repo.js';
import { MEMBER_FIELDS, type Member } from '../../types.js';
import { h, type Html } from './html.js';

/** The rule that refused a record, in plain words. */
export const REASON_TEXT: Record<string, string> = {
  cons_id_mismatch:
    'The record was matched to this member (by its link, cons_id, member_id or e-mail), but both carry a cons_id and they differ. The rules never replace an identity key silently (rule 4, the guard), so a person must decide.',
  member_id_mismatch:
    'The record was matched to this member (by its link, cons_id or e-mail), but both carry a member_id and they differ. The rules never replace an identity key silently (rule 4, the guard), so a person must decide.',
  ambiguous_email: 'More than one member has this e-mail (matching.allowDuplicateEmails is on), so the rules cannot tell which one the record is (rule 3).',
  duplicate_cons_id: 'Applying the record to the first candidate would give it a cons_id the other candidate holds. Identity keys are unique, so nothing of the record was applied (rule 6).',
  duplicate_member_id: 'Applying the record to the first candidate would give it a member_id the other candidate holds. Identity keys are unique, so nothing of the record was applied (rule 6).',
  duplicate_email: 'Applying the record to the first candidate would give it an e-mail another candidate holds. E-mails are unique here, so nothing of the record was applied (rule 6).',
};

const csrfField = (csrf: string) => h`<input type="hidden" name="csrf" value="${csrf}">`;
const label = (m: Member) => [m.first_name, m.last_name].filter(Boolean).join(' ') || m.email || m.member_id || m.cons_id || m.id;
const shown = (v: unknown): string => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v));
const when = (d: Date | string | null) => (d ? new Date(d).toISOString().replace(/\.\d+Z$/, 'Z').replace('T', ' ') : '');

export function signInPage(error?: string): Html {
  return h`<h1>Sign in</h1>
${error ? h`<p class="flash error" role="alert">${error}</p>` : ''}
<form method="post" action="/review/sign-in">
<p><label for="token">Admin token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus></p>
<p><button type="submit">Sign in</button></p></form>`;
}

export interface QueueView {
  rows: ConflictRow[];
  counts: { total: number; byReason: Record<string, number>; byState: Record<string, number> };
  reasons: string[];
  runs: number[];
  reason?: string;
  runId?: number;
}

export function queuePage(v: QueueView): Html {
  const option = (value: string, text: string, selected: boolean) => h`<option value="${value}"${selected ? h` selected` : ''}>${text}</option>`;
  return h`<h1>Open conflicts</h1>
<p class="counts">${v.counts.total} open${v.reason || v.runId ? ' (filtered)' : ''}: ${Object.entries(v.counts.byReason).map(([r, n]) => `${n} ${r}`).join(', ') || 'none'} · ${v.counts.byState.resolved} resolved · ${v.counts.byState.ignored} ignored</p>
<form class="filters" method="get" action="/review">
<p><label for="reason">Reason</label><select id="reason" name="reason">${option('', 'any reason', !v.reason)}${v.reasons.map((r) => option(r, r, r === v.reason))}</select></p>
<p><label for="run">Run</label><select id="run" name="run">${option('', 'any run', !v.runId)}${v.runs.map((r) => option(String(r), `run ${r}`, r === v.runId))}</select></p>
<p><button type="submit">Filter</button></p></form>
${
  v.rows.length === 0
    ? h`<p>No open conflicts${v.reason || v.runId ? ' match the filter' : ''}.</p>`
    : h`<table><caption class="sr-only">Open conflicts, newest first</caption>
<thead><tr><th scope="col">Conflict</th><th scope="col">Reason</th><th scope="col">Source</th><th scope="col">Record</th><th scope="col">Candidates</th><th scope="col">Seen</th><th scope="col">Last seen</th></tr></thead>
<tbody>${v.rows.map(
        (c) => h`<tr><td><a href="/review/conflicts/${c.id}">#${c.id}</a></td><td>${c.reason}</td><td>${c.source} ${c.source_ref ?? ''}</td>
<td>${[c.record.values?.first_name, c.record.values?.last_name].filter(Boolean).join(' ')} ${c.record.values?.email ?? ''}</td>
<td>${c.candidate_ids.length}</td><td>${c.times_seen}×, ${c.last_run_id && c.last_run_id !== c.run_id ? `runs ${c.run_id}–${c.last_run_id}` : `run ${c.run_id}`}</td><td>${when(c.last_seen_at)}</td></tr>`,
      )}</tbody></table>`
}`;
}

export interface ConflictView {
  c: ConflictRow;
  candidates: { id: string; member?: Member; origins: Record<string, FieldOrigin>; merged?: string }[];
  csrf: string;
}

export function conflictPage(v: ConflictView): Html {
  const rec = (v.c.record.values ?? {}) as Record<string, unknown>;
  const fields = MEMBER_FIELDS.filter((f) => shown(rec[f]) !== '' || v.candidates.some((c) => shown((c.member as unknown as Record<string, unknown> | undefined)?.[f]) !== ''));
  const open = v.c.state === 'open';
  const head = v.candidates.map((c, i) => h`<th scope="col">Candidate ${i + 1}: ${c.member ? h`<a href="/review/members/${c.id}">${label(c.member)}</a>` : h`${c.id} (${c.merged ? `merged into ${c.merged}` : 'no such member now'})`}</th>`);
  const rows = fields.map((f) => {
    const r = shown(rec[f]);
    const cells = v.candidates.map((c) => {
      const val = shown((c.member as unknown as Record<string, unknown> | undefined)?.[f]);
      const o = c.origins[f];
      const differs = r !== '' && val !== r;
      return h`<td${differs ? h` class="diff"` : ''}>${differs ? h`<span class="sr-only">differs: </span>` : ''}${val}${o ? h`<span class="from">from ${o.source} ${o.key}</span>` : ''}</td>`;
    });
    return h`<tr><th scope="row">${f}</th><td>${r}</td>${cells}</tr>`;
  });
  const actions = open
    ? h`<div class="actions">${v.candidates
        .filter((c) => c.member)
        .map(
          (c, i) => h`<form method="post" action="/review/conflicts/${v.c.id}/resolve">${csrfField(v.csrf)}<input type="hidden" name="action" value="merge_into"><input type="hidden" name="member" value="${c.id}"><button type="submit">Merge into candidate ${i + 1}</button></form>`,
        )}
<form method="post" action="/review/conflicts/${v.c.id}/resolve">${csrfField(v.csrf)}<input type="hidden" name="action" value="new_member"><button type="submit" class="secondary">New member</button></form>
<form method="post" action="/review/conflicts/${v.c.id}/resolve">${csrfField(v.csrf)}<input type="hidden" name="action" value="ignore"><button type="submit" class="secondary">Ignore</button></form></div>`
    : h`<p><strong>${v.c.state}</strong> by ${v.c.resolved_by ?? '?'} at ${when(v.c.resolved_at)}${v.c.resolve_run_id ? ` (run ${v.c.resolve_run_id})` : ''}</p>`;
  return h`<h1>Conflict #${v.c.id}: ${v.c.reason}</h1>
<p>${v.c.source} ${v.c.source_ref ?? ''} · seen ${v.c.times_seen}× (first run ${v.c.run_id}, last run ${v.c.last_run_id ?? v.c.run_id}) · ${v.c.state}</p>
<p class="why"><strong>Why it was refused:</strong> ${REASON_TEXT[v.c.reason] ?? v.c.reason}</p>
${actions}
<table><caption class="sr-only">The refused record and each candidate member, field by field; differing fields are marked ≠</caption>
<thead><tr><th scope="col">Field</th><th scope="col">Refused record</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

export function searchPage(csrf: string, query?: string, results?: Member[]): Html {
  return h`<h1>Find a member</h1>
<form method="post" action="/review/search">${csrfField(csrf)}
<p><label for="q">E-mail, cons_id, member_id or name</label><input id="q" name="q" type="search" value="${query ?? ''}" required autofocus> <button type="submit">Search</button></p></form>
${
  results === undefined
    ? ''
    : results.length === 0
      ? h`<p>No member matches.</p>`
      : h`<table><thead><tr><th scope="col">Member</th><th scope="col">E-mail</th><th scope="col">cons_id</th><th scope="col">member_id</th></tr></thead><tbody>${results.map(
          (m) => h`<tr><td><a href="/review/members/${m.id}">${label(m)}</a></td><td>${m.email ?? ''}</td><td>${m.cons_id ?? ''}</td><td>${m.member_id ?? ''}</td></tr>`,
        )}</tbody></table>`
}`;
}

export interface MemberView {
  m: Member;
  origins: Record<string, FieldOrigin>;
  sources: SourceRecord[];
  links: { connection: string; external_id: string; rule: string; run_id: number | null }[];
  history: { run_id: number; run_kind: string | null; source: string; source_ref: string | null; rule: string | null; field: string; old: unknown; new: unknown; at: Date }[];
  csrf: string;
}

export function memberPage(v: MemberView): Html {
  const vals = v.m as unknown as Record<string, unknown>;
  const fields = MEMBER_FIELDS.filter((f) => shown(vals[f]) !== '');
  return h`<h1>Member ${label(v.m)}</h1><p>${v.m.id}</p>
<h2>Fields</h2>
<table><thead><tr><th scope="col">Field</th><th scope="col">Value</th><th scope="col">From source</th></tr></thead><tbody>${fields.map((f) => {
    const o = v.origins[f];
    return h`<tr><th scope="row">${f}</th><td>${shown(vals[f])}</td><td>${o ? `${o.source} ${o.key}${o.changed_at ? ` (changed ${when(o.changed_at)})` : ''}` : ''}</td></tr>`;
  })}</tbody></table>
<h2>Source records</h2>
<table><thead><tr><th scope="col">Source record</th><th scope="col">What it last said</th><th scope="col">Runs</th><th scope="col">Split</th></tr></thead><tbody>${v.sources.map(
    (sr) => h`<tr><td>${sr.source}:${sr.key}</td><td>${MEMBER_FIELDS.filter((f) => shown((sr.values as Record<string, unknown>)[f]) !== '').map((f) => `${f}: ${shown((sr.values as Record<string, unknown>)[f])}`).join('; ')}</td><td>${sr.firstRunId === sr.lastRunId ? `run ${sr.firstRunId}` : `runs ${sr.firstRunId}–${sr.lastRunId}`}</td>
<td>${
      v.sources.length > 1
        ? h`<form method="post" action="/review/members/${v.m.id}/split">${csrfField(v.csrf)}<input type="hidden" name="source" value="${sr.id}"><button type="submit" class="secondary" aria-label="Split this source off: ${sr.source}:${sr.key}">Split this source off</button></form>`
        : 'its only source'
    }</td></tr>`,
  )}</tbody></table>
<h2>Links</h2>
${v.links.length === 0 ? h`<p>None.</p>` : h`<ul>${v.links.map((l) => h`<li>${l.connection} ${l.external_id} (rule ${l.rule}, run ${l.run_id ?? '?'})</li>`)}</ul>`}
<h2>History</h2>
<table><thead><tr><th scope="col">Run</th><th scope="col">Source</th><th scope="col">Rule</th><th scope="col">Change</th><th scope="col">At</th></tr></thead><tbody>${v.history.map(
    (c) => h`<tr><td>${c.run_id} ${c.run_kind ?? ''}</td><td>${c.source} ${c.source_ref ?? ''}</td><td>${c.rule ?? ''}</td><td>${c.field === '_created' ? 'created' : c.field === '_deleted' ? 'removed' : `${c.field}: ${shown(c.old)} → ${shown(c.new)}`}</td><td>${when(c.at)}</td></tr>`,
  )}</tbody></table>`;
}
