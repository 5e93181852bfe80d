/**
 * A Bloom filter over the keys a store holds (source records' keys at a source, members'
 * cons_ids, member_ids and e-mails): "certainly absent" or "maybe there". An import of
 * mostly new people asks the store only about the keys that may be there. Pure.
 *
 * A false "maybe" only costs a look-up; a false "absent" would make a second member, so the
 * filter is used only while it is known to hold every key (src/pipeline/ingest.ts: built
 * under the members lock, kept in step with each batch, given up as soon as another
 * process held the lock in between).
 */
const K = 7;

/** FNV-1a, 32 bits, with a seed */
function fnv(s: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  // a final mix, so that nearby keys spread
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

export class KeyFilter {
  private readonly bits: Uint32Array;
  private readonly m: number;
  /** keys added */
  size = 0;

  /** room for `capacity` keys at about 1% false "maybe" (10 bits a key) */
  constructor(capacity: number) {
    this.m = Math.max(1024, Math.ceil(capacity * 10));
    this.bits = new Uint32Array(Math.ceil(this.m / 32));
  }

  add(key: string): void {
    const a = fnv(key, 0);
    const b = fnv(key, 0x9e3779b9) | 1;
    for (let i = 0; i < K; i++) {
      const bit = (a + Math.imul(i, b)) >>> 0;
      const j = bit % this.m;
      this.bits[j >>> 5] |= 1 << (j & 31);
    }
    this.size++;
  }

  mayHave(key: string): boolean {
    const a = fnv(key, 0);
    const b = fnv(key, 0x9e3779b9) | 1;
    for (let i = 0; i < K; i++) {
      const j = ((a + Math.imul(i, b)) >>> 0) % this.m;
      if ((this.bits[j >>> 5] & (1 << (j & 31))) === 0) return false;
    }
    return true;
  }
}

/** The filter's names of keys: a source record's key at a source, and members' identity keys. */
export const fk = {
  source: (source: string, key: string): string => `s\u0000${source}\u0000${key}`,
  cons: (v: string): string => `c\u0000${v}`,
  mid: (v: string): string => `m\u0000${v}`,
  email: (v: string): string => `e\u0000${v}`,
};
