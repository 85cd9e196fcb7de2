import fc from "fast-check";
import { loadConfig } from "../../src/config";
import { BadUserInputError, ContentRejectedError } from "../../src/core/errors";
import { assertUserId, assertUuid, isUserId } from "../../src/core/ids";
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
import {
  assertNoNul,
  assertStorable,
  codePoints,
  likePattern,
  optionalText,
  truncate,
  wellFormed,
} from "../../src/core/validation";
import { ContentGuard } from "../../src/modules/moderation/content.guard";

const MAX_SEQ = 2_147_483_647;
const limits = loadConfig({}).limits;
const TAGS = ["seq", "activity", "search", "report"] as const;

/** Any UTF-16 string, lone surrogates included: what JSON.parse can hand a resolver. */
const utf16 = (maxLength = 300) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    maxLength,
  });
const base64url = (maxLength = 300) =>
  fc.string({
    unit: fc.constantFrom(
      ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/".split(""),
    ),
    maxLength,
  });
/** Strings a client might send as a cursor: noise, base64url noise, and real cursors altered. */
const anyCursor = fc.oneof(
  utf16(),
  fc.string({ unit: "binary", maxLength: 300 }),
  base64url(),
  fc.tuple(fc.constantFrom(...TAGS), utf16(120)).map(([tag, value]) => encodeCursor(tag, value)),
  fc
    .tuple(fc.constantFrom(...TAGS), utf16(120), fc.nat(), fc.string({ maxLength: 3 }))
    .map(([tag, value, at, junk]) => {
      const cursor = encodeCursor(tag, value);
      const i = at % (cursor.length + 1);
      return cursor.slice(0, i) + junk + cursor.slice(i + 1);
    }),
);

/** Runs fn; it must succeed or throw BadUserInputError naming the field, and nothing else. */
function onlyBadUserInput<T>(field: string, fn: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (!(error instanceof BadUserInputError)) throw error;
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    return { ok: false };
  }
}

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

describe("Text validators", () => {
  it("should count code points, a lone surrogate as one", () => {
    fc.assert(
      fc.property(utf16(), (value) => {
        expect(codePoints(value)).toBe(Array.from(value).length);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0x10ffff })), (points) => {
        fc.pre(points.every((p) => p < 0xd800 || p > 0xdfff));
        expect(codePoints(String.fromCodePoint(...points))).toBe(points.length);
      }),
    );
  });

  it("should trim, turn empty into null, and refuse more than max characters", () => {
    fc.assert(
      fc.property(
        fc.oneof(utf16(80), fc.string({ unit: "binary", maxLength: 80 }), fc.constant(null)),
        fc.integer({ min: 1, max: 60 }),
        (value, max) => {
          const result = onlyBadUserInput("title", () => optionalText(value, "title", max));
          const trimmed = value?.trim() ?? "";
          expect(result.ok).toBe(Array.from(trimmed).length <= max);
          if (!result.ok) return;
          expect(result.value).toBe(trimmed === "" ? null : trimmed);
        },
      ),
    );
  });

  it("should refuse exactly the strings with a NUL character", () => {
    fc.assert(
      fc.property(utf16(50), (value) => {
        const result = onlyBadUserInput("text", () => assertNoNul(value, "text"));
        expect(result.ok).toBe(!value.includes("\u0000"));
      }),
    );
  });

  it("should refuse exactly the strings PostgreSQL would not store as sent: NUL or a lone surrogate", () => {
    fc.assert(
      fc.property(utf16(50), (value) => {
        // What a text column hands back: the value through UTF-8.
        const stored = Buffer.from(value, "utf8").toString("utf8");
        const result = onlyBadUserInput("text", () => assertStorable(value, "text"));
        expect(result.ok).toBe(!value.includes("\u0000") && stored === value);
        expect(wellFormed(value)).toBe(stored);
      }),
    );
  });

  it("should truncate to at most max characters without splitting one", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), fc.nat(70), (value, max) => {
        const cut = truncate(value, max);
        expect(value.startsWith(cut)).toBe(true);
        expect(codePoints(cut)).toBe(Math.min(max, codePoints(value)));
        expect(wellFormed(cut)).toBe(cut);
      }),
    );
  });

  it("should escape LIKE wildcards so the pattern means the text literally", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("a", "%", "_", "\\", "b", " ", "é"), maxLength: 40 }),
        (value) => {
          const pattern = likePattern(value);
          expect(pattern.startsWith("%") && pattern.endsWith("%")).toBe(true);
          const inner = pattern.slice(1, -1);
          // Every wildcard or backslash in the middle is escaped, and unescaping gives the text back.
          let unescaped = "";
          for (let i = 0; i < inner.length; i++) {
            if (inner[i] === "\\") {
              expect(["\\", "%", "_"]).toContain(inner[i + 1]);
              unescaped += inner[++i];
            } else {
              expect(["%", "_"]).not.toContain(inner[i]);
              unescaped += inner[i];
            }
          }
          expect(unescaped).toBe(value);
        },
      ),
    );
  });
});

describe("Identifiers", () => {
  it("should accept any uuid, in either case, and return it in lower case", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.boolean(), (id, upper) => {
        expect(assertUuid(upper ? id.toUpperCase() : id, "id")).toBe(id);
      }),
    );
  });

  it("should refuse anything that is not a uuid with BAD_USER_INPUT", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          utf16(60),
          fc.uuid().map((id) => ` ${id}`),
          fc.uuid().map((id) => `${id}\n`),
          fc.uuid().map((id) => id.replace(/-/g, "")),
          fc.uuid().map((id) => `${id.slice(0, 14)}0${id.slice(15)}`),
        ),
        (value) => {
          const result = onlyBadUserInput("id", () => assertUuid(value, "id"));
          const shaped =
            /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(
              value,
            );
          expect(result.ok).toBe(shaped);
          if (result.ok) expect(result.value).toBe(value.toLowerCase());
        },
      ),
    );
  });

  it("should accept as user ids exactly 1 to 128 printable ASCII characters, unchanged", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary-ascii", maxLength: 140 }),
          fc.string({
            unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
            minLength: 120,
            maxLength: 135,
          }),
          utf16(20),
        ),
        (value) => {
          const printable = [...value].every((c) => c >= "\x21" && c <= "\x7e");
          const valid = value.length >= 1 && value.length <= 128 && printable;
          expect(isUserId(value)).toBe(valid);
          const result = onlyBadUserInput("userId", () => assertUserId(value, "userId"));
          expect(result.ok).toBe(valid);
          if (result.ok) expect(result.value).toBe(value);
        },
      ),
    );
  });
});

describe("Content rules", () => {
  const config = loadConfig({
    CONTENT_DENY_WORDS: "ass",
    CONTENT_DENY_DOMAINS: "evil.example",
  }).safety;
  const guard = new ContentGuard(config);
  const around = (chars: string[]) => fc.constantFrom(...chars);

  it("should refuse a denied domain whatever punctuation surrounds it and however it is cased", () => {
    fc.assert(
      fc.property(
        around(["", " ", "(", "<", '"', "'", "[", "https://", "http://www.", "@", "see: "]),
        around(["", ".", ",", "!", "?", ")", ">", '"', "'s", ";", ":443", "/x", "./", " ok"]),
        fc.boolean(),
        (before, after, upper) => {
          const host = upper ? "EVIL.Example" : "evil.example";
          expect(() => guard.check(`${before}${host}${after}`)).toThrow(ContentRejectedError);
        },
      ),
    );
  });

  it("should never refuse text without a denied word or domain, nor throw anything else", () => {
    fc.assert(
      fc.property(utf16(200), (text) => {
        try {
          guard.check(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ContentRejectedError);
          const folded = text
            .normalize("NFKC")
            .replace(/\p{Cf}/gu, "")
            .toLowerCase();
          expect(folded.includes("ass") || folded.includes("evil.example")).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
