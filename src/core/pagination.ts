import { ArgsType, Field, Int, ObjectType } from "type-graphql";
import type { LimitsConfig } from "../config";
import { BadUserInputError } from "./errors";
import { assertUuid } from "./ids";

@ObjectType("PageInfo")
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean)
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ArgsType()
export class ForwardPageArgs {
  @Field(() => Int, { nullable: true, description: "Page size, 1 to 100 (default 50)." })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}

@ArgsType()
export class PageArgs extends ForwardPageArgs {
  @Field(() => Int, { nullable: true, description: "Page size counted back from the end." })
  last?: number | null;

  @Field(() => String, { nullable: true })
  before?: string | null;
}

export function pageSize(
  value: number | null | undefined,
  field: string,
  limits: Pick<LimitsConfig, "pageSizeDefault" | "pageSizeMax">,
): number {
  if (value === null || value === undefined) return limits.pageSizeDefault;
  if (!Number.isInteger(value) || value < 1 || value > limits.pageSizeMax) {
    throw new BadUserInputError(field, `${field} must be between 1 and ${limits.pageSizeMax}`);
  }
  return value;
}

/** Opaque cursors: base64url of a tagged value, so clients never build or parse them. */
export function encodeCursor(tag: string, value: string | number): string {
  return Buffer.from(`${tag}:${value}`, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, tag: string, field: string): string {
  const decoded = cursor.length <= 200 ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  if (
    !decoded.startsWith(`${tag}:`) ||
    encodeCursor(tag, decoded.slice(tag.length + 1)) !== cursor
  ) {
    throw new BadUserInputError(field, `${field} is not a valid cursor`);
  }
  return decoded.slice(tag.length + 1);
}

const SEQ_TAG = "seq";
const MAX_SEQ = 2_147_483_647;

export const encodeSeqCursor = (seq: number) => encodeCursor(SEQ_TAG, seq);

export function decodeSeqCursor(cursor: string, field: string): number {
  const raw = decodeCursor(cursor, SEQ_TAG, field);
  const seq = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(seq >= 0 && seq <= MAX_SEQ))
    throw new BadUserInputError(field, `${field} is not a valid cursor`);
  return seq;
}

/**
 * A keyset window over seq: rows with afterSeq < seq < beforeSeq, `limit` of them, taken from the
 * start (forward) or the end (backward). One row more is fetched to learn whether the page is full.
 */
export interface SeqWindow {
  afterSeq: number;
  beforeSeq: number;
  limit: number;
  backward: boolean;
}

/**
 * Relay arguments to a window. `first`/`after` page forward; `last`/`before` page back; with no
 * arguments the newest page is returned, which is what a chat screen opens on.
 */
export function seqWindow(args: PageArgs, limits: LimitsConfig): SeqWindow {
  if (args.first != null && args.last != null) {
    throw new BadUserInputError("first", "Pass first or last, not both");
  }
  const afterSeq = args.after != null ? decodeSeqCursor(args.after, "after") : 0;
  const beforeSeq = args.before != null ? decodeSeqCursor(args.before, "before") : MAX_SEQ;
  const backward = args.last != null || (args.first == null && args.after == null);
  const limit = backward
    ? pageSize(args.last, "last", limits)
    : pageSize(args.first, "first", limits);
  return { afterSeq, beforeSeq, limit, backward };
}

/** A Relay connection: what every list field returns. */
export interface Page<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: PageInfo;
}

export function toPage<T>(
  items: T[],
  cursorOf: (item: T) => string,
  hasPreviousPage: boolean,
  hasNextPage: boolean,
): Page<T> {
  const edges = items.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasPreviousPage,
      hasNextPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

/**
 * Trims the extra row and fills PageInfo. Seqs are dense (deleted messages stay as tombstones), so
 * rows before `after` or from `before` on exist exactly when those cursors point inside the range.
 */
export function seqPage<T extends { seq: number }>(rows: T[], window: SeqWindow): Page<T> {
  const more = rows.length > window.limit;
  const items = rows.slice(0, window.limit);
  if (window.backward) items.reverse();
  return toPage(
    items,
    (item) => encodeSeqCursor(item.seq),
    window.backward ? more : window.afterSeq > 0,
    window.backward ? window.beforeSeq < MAX_SEQ : more,
  );
}

/** Cursors of lists ordered by (timestamp desc, id desc): the inbox, search results. */
export function encodeTimeIdCursor(tag: string, at: Date, id: string): string {
  return encodeCursor(tag, `${at.toISOString()}|${id}`);
}

/**
 * The timestamps a cursor may carry: what the service itself writes (Date#toISOString, four-digit
 * years from 1970 on). JavaScript dates reach years ±275760, which PostgreSQL does not bind.
 */
const CURSOR_TIME = /^(19[7-9]\d|[2-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function decodeTimeIdCursor(cursor: string, tag: string, field: string): [Date, string] {
  const parts = decodeCursor(cursor, tag, field).split("|");
  const [iso, id] = parts;
  const at = new Date(iso);
  // Round-tripping through toISOString refuses dates that do not exist (February 30th).
  if (
    parts.length !== 2 ||
    !CURSOR_TIME.test(iso) ||
    Number.isNaN(at.getTime()) ||
    at.toISOString() !== iso ||
    !id
  ) {
    throw new BadUserInputError(field, `${field} is not a valid cursor`);
  }
  return [at, assertUuid(id, field)];
}
