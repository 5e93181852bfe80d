/**
 * Pagination strategies as small async generators. Each yields one page at a time with
 * the position to resume from, so a connector's pull can turn pages into PullPages and
 * checkpoint after each one. None of them buffers more than a page.
 */

export interface NumberedPage<T> {
  /** the page just fetched */
  page: number;
  items: T[];
  /** the page to fetch next, or undefined when this was the last one */
  nextPage: number | undefined;
}

/**
 * Page-number walking (page=1,2,…). Stops after an empty page, or a page shorter than
 * `pageSize` when that is given, or when `lastPage` (from the response) is reached.
 */
export async function* paginatePages<T>(opts: {
  fetchPage: (page: number) => Promise<{ items: T[]; lastPage?: number }>;
  startPage?: number;
  pageSize?: number;
  /** safety stop against a remote that never ends @defaultValue 100000 */
  maxPages?: number;
}): AsyncGenerator<NumberedPage<T>> {
  const maxPages = opts.maxPages ?? 100_000;
  let page = opts.startPage ?? 1;
  for (let fetched = 0; fetched < maxPages; fetched++) {
    const { items, lastPage } = await opts.fetchPage(page);
    const short = opts.pageSize !== undefined && items.length < opts.pageSize;
    const done = items.length === 0 || short || (lastPage !== undefined && page >= lastPage);
    const nextPage = done ? undefined : page + 1;
    yield { page, items, nextPage };
    if (nextPage === undefined) return;
    page = nextPage;
  }
}

export interface OffsetPage<T> {
  offset: number;
  items: T[];
  /** offset to resume from, or undefined when this was the last page */
  nextOffset: number | undefined;
}

/** Offset/limit walking; stops at an empty page or one shorter than `limit`. */
export async function* paginateOffset<T>(opts: {
  fetch: (offset: number, limit: number) => Promise<T[]>;
  limit: number;
  startOffset?: number;
  /** @defaultValue 100000 */
  maxPages?: number;
}): AsyncGenerator<OffsetPage<T>> {
  const maxPages = opts.maxPages ?? 100_000;
  let offset = opts.startOffset ?? 0;
  for (let fetched = 0; fetched < maxPages; fetched++) {
    const items = await opts.fetch(offset, opts.limit);
    const nextOffset = items.length === 0 || items.length < opts.limit ? undefined : offset + items.length;
    yield { offset, items, nextOffset };
    if (nextOffset === undefined) return;
    offset = nextOffset;
  }
}

export interface CursorPage<T, C> {
  items: T[];
  /** cursor of the next page, or undefined when this was the last one */
  next: C | undefined;
}

/** Opaque-cursor walking: fetch(undefined) is the first page; stops when `next` is absent. */
export async function* paginateCursor<T, C>(opts: {
  fetch: (cursor: C | undefined) => Promise<{ items: T[]; next?: C | null }>;
  start?: C;
  /** @defaultValue 100000 */
  maxPages?: number;
}): AsyncGenerator<CursorPage<T, C>> {
  const maxPages = opts.maxPages ?? 100_000;
  let cursor = opts.start;
  for (let fetched = 0; fetched < maxPages; fetched++) {
    const { items, next } = await opts.fetch(cursor);
    const nextCursor = next === null || next === undefined ? undefined : next;
    yield { items, next: nextCursor };
    if (nextCursor === undefined) return;
    cursor = nextCursor;
  }
}
