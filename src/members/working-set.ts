/**
 * The members one batch can touch, indexed by every identity key, kept in step as
 * records of the batch create members and change their keys. Pure and in memory: the
 * pipeline fills it from the store (one query per key kind) and writes back what changed.
 */
import type { Member } from '../types.js';
import { srKey, type SourceRecord } from './source-record.js';

export class WorkingSet {
  readonly members = new Map<string, Member>();
  private readonly consIds = new Map<string, string>();
  private readonly memberIds = new Map<string, string>();
  private readonly emails = new Map<string, Set<string>>();
  private readonly links = new Map<string, string>();
  private readonly sources = new Map<string, SourceRecord>();
  private readonly sourcesOf = new Map<string, SourceRecord[]>();

  static linkKey(connection: string, externalId: string): string {
    return `${connection}\u0000${externalId}`;
  }

  /** Add a member loaded from the store or created by a record. */
  add(member: Member): void {
    if (this.members.has(member.id)) return;
    this.members.set(member.id, member);
    this.indexKeys(member);
  }

  addLink(connection: string, externalId: string, memberId: string): void {
    this.links.set(WorkingSet.linkKey(connection, externalId), memberId);
  }

  /** A source record loaded from the store or written by a record of the batch (replaces the one with its key). */
  putSource(sr: SourceRecord): void {
    const k = srKey(sr.source, sr.key);
    const prev = this.sources.get(k);
    if (prev) {
      const list = this.sourcesOf.get(prev.memberId);
      if (list) this.sourcesOf.set(prev.memberId, list.filter((x) => x !== prev));
    }
    this.sources.set(k, sr);
    const list = this.sourcesOf.get(sr.memberId) ?? [];
    this.sourcesOf.set(sr.memberId, [...list, sr]);
  }

  /** Add a stored source record unless the set holds its key already. */
  addSource(sr: SourceRecord): void {
    if (!this.sources.has(srKey(sr.source, sr.key))) this.putSource(sr);
  }

  bySource(source: string, key: string): SourceRecord | undefined {
    return this.sources.get(srKey(source, key));
  }

  sourceRecordsOf(memberId: string): readonly SourceRecord[] {
    return this.sourcesOf.get(memberId) ?? [];
  }

  byLink(connection: string, externalId: string): Member | undefined {
    const id = this.links.get(WorkingSet.linkKey(connection, externalId));
    return id ? this.members.get(id) : undefined;
  }

  byConsId(consId: string): Member | undefined {
    const id = this.consIds.get(consId);
    return id ? this.members.get(id) : undefined;
  }

  byMemberId(memberId: string): Member | undefined {
    const id = this.memberIds.get(memberId);
    return id ? this.members.get(id) : undefined;
  }

  byEmail(email: string): Member[] {
    const ids = this.emails.get(email);
    if (!ids) return [];
    return [...ids].map((id) => this.members.get(id)).filter((m): m is Member => m !== undefined);
  }

  /** Replace a member with its next version, re-indexing changed keys. */
  replace(next: Member): void {
    const prev = this.members.get(next.id);
    if (prev) this.unindexKeys(prev);
    this.members.set(next.id, next);
    this.indexKeys(next);
  }

  remove(id: string): void {
    const prev = this.members.get(id);
    if (!prev) return;
    this.unindexKeys(prev);
    this.members.delete(id);
  }

  private indexKeys(m: Member): void {
    if (m.cons_id) this.consIds.set(m.cons_id, m.id);
    if (m.member_id) this.memberIds.set(m.member_id, m.id);
    if (m.email) {
      let set = this.emails.get(m.email);
      if (!set) this.emails.set(m.email, (set = new Set()));
      set.add(m.id);
    }
  }

  private unindexKeys(m: Member): void {
    if (m.cons_id && this.consIds.get(m.cons_id) === m.id) this.consIds.delete(m.cons_id);
    if (m.member_id && this.memberIds.get(m.member_id) === m.id) this.memberIds.delete(m.member_id);
    if (m.email) this.emails.get(m.email)?.delete(m.id);
  }
}
