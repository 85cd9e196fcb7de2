import { createHash } from "node:crypto";
import type { SafetyConfig } from "../../config";
import { ContentRejectedError } from "../../core/errors";

// A host name not glued to more name characters; punctuation after it ("evil.example.") still ends it.
const LINK =
  /(?<![\p{L}\p{N}-])((?:[\p{L}\p{N}-]+\.)+\p{L}{2,})(?![\p{L}\p{N}-]|\.[\p{L}\p{N}-])/giu;

/** The configured deny-list (words, patterns, link domains) and flood detection for messages. */
export class ContentGuard {
  private readonly words: RegExp | null;

  constructor(private readonly config: Readonly<SafetyConfig>) {
    const escaped = config.denyWords.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    // Whole words: no letter or digit on either side.
    this.words = escaped.length
      ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${escaped.join("|")})(?![\\p{L}\\p{N}])`, "iu")
      : null;
  }

  /** Refuses denied words, patterns and link domains in text and attachment URLs. */
  check(raw: string | null, urls: string[] = []): void {
    // Full-width letters and invisible format characters must not slip a word or domain past.
    const text = raw?.normalize("NFKC").replace(/\p{Cf}/gu, "");
    if (text) {
      if (this.words?.test(text)) throw new ContentRejectedError("text", "word");
      if (this.config.denyPatterns.some((p) => p.test(text))) {
        throw new ContentRejectedError("text", "pattern");
      }
      for (const match of text.matchAll(LINK)) {
        if (this.deniedHost(match[1])) throw new ContentRejectedError("text", "domain");
      }
    }
    urls.forEach((url, i) => {
      if (this.deniedHost(new URL(url).hostname)) {
        throw new ContentRejectedError(`attachments[${i}].url`, "domain");
      }
    });
  }

  /**
   * The flood counter of this text from this user (null for none): the same text too often within
   * the flood window is RATE_LIMITED. Counted with the message limit (RateLimiters.consumeSend).
   */
  floodKey(userId: string, text: string | null): string | null {
    if (!text) return null;
    const digest = createHash("sha256").update(text.toLowerCase()).digest("base64url");
    return `${userId}:${digest}`;
  }

  private deniedHost(host: string): boolean {
    const name = host.toLowerCase().replace(/\.$/, "");
    return this.config.denyDomains.some((d) => name === d || name.endsWith(`.${d}`));
  }
}
