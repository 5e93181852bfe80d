/**
 * UUID version 7 (RFC 9562): a millisecond timestamp then random bits. Members created
 * together sort together, so bulk inserts touch the primary-key index in order instead
 * of at random pages.
 */
import { randomBytes } from 'node:crypto';

let lastMs = 0;
let seq = 0;
// one crypto call per 512 ids instead of two per id
let pool = Buffer.alloc(0);
let offset = 0;
function random16(): Buffer {
  if (offset + 16 > pool.length) {
    pool = randomBytes(16 * 512);
    offset = 0;
  }
  offset += 16;
  return pool.subarray(offset - 16, offset);
}

export function uuidv7(now = Date.now()): string {
  // a counter in the 12 bits after the timestamp keeps ids of one millisecond ordered
  if (now === lastMs) seq = (seq + 1) & 0xfff;
  else {
    lastMs = now;
    seq = random16().readUInt16BE(0) & 0x7ff;
  }
  const b = Buffer.from(random16());
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
