import { GraphQLError } from "graphql";
import type { LimitsConfig } from "../../src/config";
import {
  decodeCursor,
  decodeSeqCursor,
  decodeTimeIdCursor,
  encodeCursor,
  encodeSeqCursor,
  encodeTimeIdCursor,
  seqPage,
  seqWindow,
  type SeqWindow,
} from "../../src/core/pagination";

const MAX_SEQ = 2_147_483_647;
const limits: LimitsConfig = {
  messageMaxLength: 5000,
  titleMaxLength: 200,
  subjectMaxLength: 200,
  groupMaxMembers: 1000,
  pageSizeDefault: 50,
  pageSizeMax: 100,
};
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");

/** The BAD_USER_INPUT error `fn` throws, for its field. */
function badInput(fn: () => unknown): { code: unknown; field: unknown } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    const { code, field } = (error as GraphQLError).extensions;
    return { code, field };
  }
  throw new Error("expected BAD_USER_INPUT, nothing was thrown");
}

describe("encodeCursor / decodeCursor", () => {
  it("should round-trip a tagged value through an opaque base64url string", () => {
    for (const value of ["42", "0", "2026-11-21T18:00:00.000Z|abc", "ünïcødé"]) {
      const cursor = encodeCursor("tag", value);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(cursor).not.toContain(value);
      expect(decodeCursor(cursor, "tag", "after")).toBe(value);
    }
    expect(encodeCursor("seq", 7)).toBe(encodeCursor("seq", "7"));
  });

  it("should refuse a cursor of another tag, garbage, and non-canonical encodings, naming the field", () => {
    const valid = encodeCursor("seq", 5);
    for (const cursor of [
      encodeCursor("activity", 5),
      "garbage",
      "",
      b64("seq"),
      `${valid}=`,
      `${valid} `,
      Buffer.from("seq:5").toString("base64"),
      b64(`seq:${"9".repeat(300)}`),
    ]) {
      expect({ cursor, ...badInput(() => decodeCursor(cursor, "seq", "before")) }).toEqual({
        cursor,
        code: "BAD_USER_INPUT",
        field: "before",
      });
    }
  });
});

describe("encodeSeqCursor / decodeSeqCursor", () => {
  it("should round-trip every seq from 0 to the largest", () => {
    for (const seq of [0, 1, 250, MAX_SEQ]) {
      expect(decodeSeqCursor(encodeSeqCursor(seq), "after")).toBe(seq);
    }
  });

  it("should refuse seqs that are negative, fractional, too large or not numbers", () => {
    for (const raw of ["-1", "1.5", "1e3", "", "abc", String(MAX_SEQ + 1), "99999999999", " 1"]) {
      expect({ raw, ...badInput(() => decodeSeqCursor(b64(`seq:${raw}`), "after")) }).toEqual({
        raw,
        code: "BAD_USER_INPUT",
        field: "after",
      });
    }
  });
});

describe("encodeTimeIdCursor / decodeTimeIdCursor", () => {
  const id = "5b0c3c56-8f0e-4f3e-9a4b-6c1d2e3f4a5b";

  it("should round-trip a timestamp and a uuid", () => {
    const at = new Date("2026-11-21T18:00:00.123Z");
    const [decodedAt, decodedId] = decodeTimeIdCursor(
      encodeTimeIdCursor("activity", at, id),
      "activity",
      "after",
    );
    expect(decodedAt.toISOString()).toBe(at.toISOString());
    expect(decodedId).toBe(id);
  });

  it("should refuse a bad or out-of-range timestamp, a bad id, or a missing or extra part", () => {
    for (const raw of [
      `not-a-date|${id}`,
      "2026-11-21T18:00:00.000Z|nope",
      "2026-11-21T18:00:00Z",
      `+275760-09-13T00:00:00.000Z|${id}`,
      `-000001-01-01T00:00:00.000Z|${id}`,
      `1969-12-31T23:59:59.999Z|${id}`,
      `2026-02-30T00:00:00.000Z|${id}`,
      `2026-11-21|${id}`,
      `2026-11-21T18:00:00.000Z|${id}|${id}`,
    ]) {
      expect(
        badInput(() => decodeTimeIdCursor(b64(`activity:${raw}`), "activity", "after")),
      ).toEqual({ code: "BAD_USER_INPUT", field: "after" });
    }
  });
});

describe("seqWindow", () => {
  const after = encodeSeqCursor(10);
  const before = encodeSeqCursor(200);

  it("should open on the newest page when no arguments are given", () => {
    expect(seqWindow({}, limits)).toEqual({
      afterSeq: 0,
      beforeSeq: MAX_SEQ,
      limit: 50,
      backward: true,
    });
  });

  it("should page forward with first and after, and back with last and before", () => {
    expect(seqWindow({ first: 20 }, limits)).toEqual({
      afterSeq: 0,
      beforeSeq: MAX_SEQ,
      limit: 20,
      backward: false,
    });
    expect(seqWindow({ after }, limits)).toEqual({
      afterSeq: 10,
      beforeSeq: MAX_SEQ,
      limit: 50,
      backward: false,
    });
    expect(seqWindow({ last: 30, before }, limits)).toEqual({
      afterSeq: 0,
      beforeSeq: 200,
      limit: 30,
      backward: true,
    });
    expect(seqWindow({ before }, limits)).toMatchObject({ beforeSeq: 200, backward: true });
    // Both bounds: a window between two cursors, read from whichever end was asked for.
    expect(seqWindow({ first: 5, after, before }, limits)).toEqual({
      afterSeq: 10,
      beforeSeq: 200,
      limit: 5,
      backward: false,
    });
  });

  it("should accept page sizes from 1 to the maximum and refuse others, naming the argument", () => {
    expect(seqWindow({ first: 1 }, limits).limit).toBe(1);
    expect(seqWindow({ last: 100 }, limits).limit).toBe(100);
    for (const [args, field] of [
      [{ first: 0 }, "first"],
      [{ first: 101 }, "first"],
      [{ first: 1000 }, "first"],
      [{ last: 0 }, "last"],
      [{ last: -5 }, "last"],
      [{ last: 1000 }, "last"],
    ] as const) {
      expect({ args, ...badInput(() => seqWindow(args, limits)) }).toEqual({
        args,
        code: "BAD_USER_INPUT",
        field,
      });
    }
  });

  it("should refuse first and last together, and garbage cursors", () => {
    expect(badInput(() => seqWindow({ first: 10, last: 10 }, limits)).code).toBe("BAD_USER_INPUT");
    expect(badInput(() => seqWindow({ after: "garbage" }, limits)).field).toBe("after");
    expect(badInput(() => seqWindow({ before: "garbage" }, limits)).field).toBe("before");
  });

  it("should use a different default page size when configured", () => {
    expect(seqWindow({}, { ...limits, pageSizeDefault: 20 }).limit).toBe(20);
  });
});

describe("seqPage", () => {
  const rows = (seqs: number[]) => seqs.map((seq) => ({ seq }));
  const window = (overrides: Partial<SeqWindow>): SeqWindow => ({
    afterSeq: 0,
    beforeSeq: MAX_SEQ,
    limit: 3,
    backward: false,
    ...overrides,
  });

  it("should trim the extra row of a forward page and report the next page", () => {
    const page = seqPage(rows([1, 2, 3, 4]), window({}));
    expect(page.edges.map((e) => e.node.seq)).toEqual([1, 2, 3]);
    expect(page.pageInfo).toEqual({
      hasPreviousPage: false,
      hasNextPage: true,
      startCursor: encodeSeqCursor(1),
      endCursor: encodeSeqCursor(3),
    });
    expect(page.edges.map((e) => e.cursor)).toEqual([1, 2, 3].map(encodeSeqCursor));
  });

  it("should return a backward page in ascending order", () => {
    const page = seqPage(rows([10, 9, 8, 7]), window({ backward: true }));
    expect(page.edges.map((e) => e.node.seq)).toEqual([8, 9, 10]);
    expect(page.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });

    const first = seqPage(rows([2, 1]), window({ backward: true, beforeSeq: 3 }));
    expect(first.edges.map((e) => e.node.seq)).toEqual([1, 2]);
    expect(first.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
  });

  it("should report an empty page with null cursors", () => {
    expect(seqPage([], window({ afterSeq: 5 })).pageInfo).toEqual({
      hasPreviousPage: true,
      hasNextPage: false,
      startCursor: null,
      endCursor: null,
    });
  });
});
