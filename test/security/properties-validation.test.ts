import fc from "fast-check";
import { loadConfig } from "../../src/config";
import { ContentRejectedError } from "../../src/core/errors";
import { assertUserId, assertUuid, isUserId } from "../../src/core/ids";
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
import { onlyBadUserInput, utf16 } from "../helpers/arbitraries";

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
