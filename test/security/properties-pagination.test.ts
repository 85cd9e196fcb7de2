import fc from "fast-check";
import { BadUserInputError } from "../../src/core/errors";
import { assertUuid } from "../../src/core/ids";
import {
  decodeCursor,
  decodeSeqCursor,
  decodeTimeIdCursor,
  encodeCursor,
  encodeSeqCursor,
  encodeTimeIdCursor,
  pageSize,
  seqWindow,
} from "../../src/core/pagination";
import { MAX_SEQ, TAGS, anyCursor, limits, onlyBadUserInput } from "../helpers/arbitraries";

describe("Cursor decoding", () => {
  it("should never throw anything but BadUserInputError, whatever the string", () => {
    fc.assert(
      fc.property(anyCursor, fc.constantFrom(...TAGS), (cursor, tag) => {
        onlyBadUserInput("after", () => decodeCursor(cursor, tag, "after"));
        const seq = onlyBadUserInput("before", () => decodeSeqCursor(cursor, "before"));
        if (seq.ok) {
          expect(Number.isInteger(seq.value)).toBe(true);
          expect(seq.value).toBeGreaterThanOrEqual(0);
          expect(seq.value).toBeLessThanOrEqual(MAX_SEQ);
        }
        const timeId = onlyBadUserInput("after", () => decodeTimeIdCursor(cursor, tag, "after"));
        if (timeId.ok) {
          expect(Number.isNaN(timeId.value[0].getTime())).toBe(false);
          expect(() => assertUuid(timeId.value[1], "id")).not.toThrow();
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("should round-trip any well-formed value through encodeCursor and decodeCursor", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TAGS),
        fc.string({ unit: "binary", maxLength: 100 }),
        (tag, value) => {
          fc.pre(encodeCursor(tag, value).length <= 200);
          expect(decodeCursor(encodeCursor(tag, value), tag, "after")).toBe(value);
        },
      ),
    );
  });

  it("should refuse a cursor made for another list", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 50 }), (value) => {
        const cursor = encodeCursor("activity", value);
        expect(() => decodeCursor(cursor, "search", "after")).toThrow(BadUserInputError);
      }),
    );
  });

  it("should round-trip every seq from 0 to 2^31-1 and refuse anything outside", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_SEQ }), (seq) => {
        expect(decodeSeqCursor(encodeSeqCursor(seq), "after")).toBe(seq);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 1, max: 2 ** 31 - 1 }).map((n) => MAX_SEQ + n),
          fc.constantFrom(Number.MAX_SAFE_INTEGER, 1e21, Infinity, NaN),
          fc.integer({ max: -1 }),
          fc.double({ noInteger: true }),
        ),
        (bad) => {
          expect(() => decodeSeqCursor(encodeCursor("seq", bad), "after")).toThrow(
            BadUserInputError,
          );
        },
      ),
    );
  });

  it("should round-trip any instant and uuid through the time-and-id cursor", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TAGS),
        fc.date({
          min: new Date("1970-01-01T00:00:00.000Z"),
          max: new Date("9999-12-31T23:59:59.999Z"),
          noInvalidDate: true,
        }),
        fc.uuid(),
        fc.boolean(),
        (tag, at, id, upper) => {
          const cursor = encodeTimeIdCursor(tag, at, upper ? id.toUpperCase() : id);
          const [decodedAt, decodedId] = decodeTimeIdCursor(cursor, tag, "after");
          expect(decodedAt.getTime()).toBe(at.getTime());
          expect(decodedId).toBe(id.toLowerCase());
        },
      ),
    );
  });
});

describe("Page arguments", () => {
  it("should accept exactly the sizes 1 to PAGE_SIZE_MAX, and default when absent", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.double(), fc.constant(null), fc.constant(undefined)),
        (value) => {
          const result = onlyBadUserInput("first", () => pageSize(value, "first", limits));
          const valid =
            value == null || (Number.isInteger(value) && value >= 1 && value <= limits.pageSizeMax);
          expect(result.ok).toBe(valid);
          if (result.ok) expect(result.value).toBe(value ?? limits.pageSizeDefault);
        },
      ),
    );
  });

  it("should turn any arguments into a bounded window or BAD_USER_INPUT", () => {
    const size = fc.option(fc.integer({ min: -5, max: 200 }), { nil: null });
    const cursor = fc.option(
      fc.oneof(fc.integer({ min: 0, max: MAX_SEQ }).map(encodeSeqCursor), anyCursor),
      { nil: null },
    );
    fc.assert(
      fc.property(size, size, cursor, cursor, (first, last, after, before) => {
        let window;
        try {
          window = seqWindow({ first, last, after, before }, limits);
        } catch (error) {
          expect(error).toBeInstanceOf(BadUserInputError);
          return;
        }
        expect(window.limit).toBeGreaterThanOrEqual(1);
        expect(window.limit).toBeLessThanOrEqual(limits.pageSizeMax);
        expect(window.afterSeq).toBeGreaterThanOrEqual(0);
        expect(window.beforeSeq).toBeLessThanOrEqual(MAX_SEQ);
        expect(window.backward).toBe(last != null || (first == null && after == null));
      }),
    );
  });
});
