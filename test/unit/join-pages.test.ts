import { describe, expect, it } from 'vitest';
import type { InputBatch } from '../../src/pipeline/ingest.js';
import { joinPages } from '../../src/pipeline/pull.js';

const page = (n: number, size: number): InputBatch => ({
  items: Array.from({ length: size }, (_, i) => ({ ref: { index: n * 100 + i }, values: {}, raw: {} })),
  checkpoint: { key: 'pull:x', cursor: n },
});

async function* pages(sizes: number[], delays: number[] = []): AsyncGenerator<InputBatch> {
  for (let n = 0; n < sizes.length; n++) {
    if (delays[n]) await new Promise((r) => setTimeout(r, delays[n]));
    yield page(n, sizes[n]);
  }
}

async function collect(src: AsyncIterable<InputBatch>): Promise<{ sizes: number[]; cursors: unknown[] }> {
  const out: InputBatch[] = [];
  for await (const b of src) out.push(b);
  return { sizes: out.map((b) => b.items.length), cursors: out.map((b) => b.checkpoint?.cursor) };
}

describe('joinPages', () => {
  it('joins pages that come at once up to the batch size; each batch carries its last page checkpoint', async () => {
    expect(await collect(joinPages(pages([4, 4, 4, 4, 4, 1]), 8, 10_000))).toEqual({ sizes: [8, 8, 5], cursors: [1, 3, 5] });
  });

  it('writes what it has when the next page is late, and keeps every record', async () => {
    const r = await collect(joinPages(pages([3, 3, 3, 3], [0, 0, 300, 0]), 100, 50));
    expect(r).toEqual({ sizes: [6, 6], cursors: [1, 3] });
  });

  it('passes a failure of the source on, after the batches it completed', async () => {
    async function* failing(): AsyncGenerator<InputBatch> {
      yield page(0, 5);
      yield page(1, 5);
      throw new Error('HTTP 500');
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const b of joinPages(failing(), 5, 10_000)) seen.push(b.items.length);
      })(),
    ).rejects.toThrow('HTTP 500');
    expect(seen).toEqual([5, 5]);
  });
});
