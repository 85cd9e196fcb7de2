import {
  ConversationDocument,
  EditMessageDocument,
  SendMessageDocument,
  type SendMessageInput,
} from "../../gql/graphql";
import { codeOf, gql, gqlOk } from "../../helpers/client";
import { createDirect, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

const image = (url: string) => ({ mediaId: "m1", url, mimeType: "image/png" });

describe("Content rules", () => {
  const env = testEnv({
    CONTENT_DENY_WORDS: "ass, Scam-Coin ,badword",
    CONTENT_DENY_PATTERNS: JSON.stringify(["\\b\\d{4}(?:[ -]?\\d{4}){3}\\b", "buy\\s+now"]),
    CONTENT_DENY_DOMAINS: "evil.example,Spam.Test",
    FLOOD_MAX_REPEATS: "2",
    FLOOD_WINDOW_MS: "60000",
  });
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let conversationId: string;

  const send = (input: Partial<SendMessageInput>, from = alice) =>
    gql(app.url, SendMessageDocument, { input: { conversationId, ...input } }, from.token);
  const lastSeq = async () =>
    (await gqlOk(app.url, ConversationDocument, { id: conversationId }, alice.token)).conversation!
      .lastSeq;

  beforeAll(async () => {
    app = await startTestApp(env);
    [alice, bob] = await Promise.all([testUser("alice"), testUser("bob")]);
    conversationId = (await createDirect(app.url, alice, bob, "content")).id;
  });
  afterAll(async () => {
    await app?.stop();
  });

  /** Each text is refused with CONTENT_REJECTED naming the field and the rule, and nothing is stored. */
  async function expectRejected(cases: Array<[string, string]>) {
    const before = await lastSeq();
    for (const [text, rule] of cases) {
      const result = await send({ text });
      expect({ text, code: codeOf(result), extensions: result.errors?.[0]?.extensions }).toEqual({
        text,
        code: "CONTENT_REJECTED",
        extensions: { code: "CONTENT_REJECTED", field: "text", rule },
      });
      expect(result.data).toBeNull();
    }
    expect(await lastSeq()).toBe(before);
  }

  async function expectAccepted(texts: string[]) {
    for (const text of texts) {
      const result = await send({ text });
      expect({ text, errors: result.errors }).toEqual({ text, errors: undefined });
    }
  }

  describe("CONTENT_DENY_WORDS", () => {
    it("should refuse a denied word as a whole word, whatever its case", async () => {
      await expectRejected([
        ["ass", "word"],
        ["you ASS!", "word"],
        ["what an Ass.", "word"],
        ["(ass)", "word"],
        ["this is a BadWord here", "word"],
        ["get scam-coin today", "word"],
        // Full-width letters and invisible characters do not hide it.
        ["you \uff41\uff53\uff53", "word"],
        ["a\u200bss", "word"],
      ]);
    });

    it("should accept words that merely contain a denied word", async () => {
      await expectAccepted([
        "class starts at nine",
        "passing the assessment",
        "Massachusetts",
        "badwords are plural",
        "scam-coins",
      ]);
    });
  });

  describe("CONTENT_DENY_PATTERNS", () => {
    it("should refuse text matching a configured regular expression, case-insensitively", async () => {
      await expectRejected([
        ["my card is 4111 1111 1111 1111", "pattern"],
        ["4111-1111-1111-1111", "pattern"],
        ["BUY   NOW while it lasts", "pattern"],
      ]);
      await expectAccepted(["call me at 4111 1111", "buyer knows"]);
    });
  });

  describe("CONTENT_DENY_DOMAINS", () => {
    it("should refuse links to a denied domain or its subdomains in text", async () => {
      await expectRejected([
        ["see https://evil.example/offer", "domain"],
        ["see http://EVIL.example", "domain"],
        ["go to evil.example now", "domain"],
        ["https://www.cdn.evil.example/path?q=1", "domain"],
        ["visit spam.test:8080/x", "domain"],
        // Punctuation after a link still ends it: the end of a sentence, a comma, brackets.
        ["Go to evil.example.", "domain"],
        ["evil.example, then pay", "domain"],
        ["(https://evil.example)", "domain"],
        ["<https://evil.example/x>", "domain"],
        ["https://evil.example./x", "domain"],
        ["evil\uff0eexample", "domain"],
      ]);
      await expectAccepted([
        "https://notevil.example/ is fine",
        "https://evil.example.org/ is another domain",
        "evil example",
      ]);
    });

    it("should refuse attachment URLs on a denied domain, naming the attachment", async () => {
      const result = await send({
        attachments: [
          image("https://media.good.test/a.png"),
          image("https://files.evil.example/b.png"),
        ],
      });
      expect(codeOf(result)).toBe("CONTENT_REJECTED");
      expect(result.errors?.[0]?.extensions).toMatchObject({
        field: "attachments[1].url",
        rule: "domain",
      });
      const ok = await send({ attachments: [image("https://media.good.test/a.png")] });
      expect(ok.errors).toBeUndefined();
    });
  });

  describe("Mutation.editMessage", () => {
    it("should check the edited text against the same rules", async () => {
      const message = await sendText(app.url, alice, conversationId, "a harmless first draft");
      for (const [text, rule] of [
        ["now it is ass", "word"],
        ["buy now", "pattern"],
        ["https://evil.example", "domain"],
      ]) {
        const result = await gql(
          app.url,
          EditMessageDocument,
          { id: message.id, text },
          alice.token,
        );
        expect({ text, code: codeOf(result), rule: result.errors?.[0]?.extensions?.rule }).toEqual({
          text,
          code: "CONTENT_REJECTED",
          rule,
        });
      }
      const fine = await gqlOk(
        app.url,
        EditMessageDocument,
        { id: message.id, text: "a classy edit" },
        alice.token,
      );
      expect(fine.editMessage.text).toBe("a classy edit");
    });
  });

  describe("flood detection", () => {
    it("should refuse the same text a third time within the window with RATE_LIMITED and retryAfterMs", async () => {
      const flooder = await testUser("flooder");
      const other = await testUser("other");
      const { id } = await createDirect(app.url, flooder, other, "flood");
      const sendAs = (text: string) =>
        gql(app.url, SendMessageDocument, { input: { conversationId: id, text } }, flooder.token);
      expect((await sendAs("Same old line")).errors).toBeUndefined();
      expect((await sendAs("same old line")).errors).toBeUndefined();
      const third = await sendAs("SAME OLD LINE");
      expect(codeOf(third)).toBe("RATE_LIMITED");
      expect(third.errors?.[0]?.extensions?.retryAfterMs).toBeGreaterThan(0);
      expect(third.errors?.[0]?.extensions?.retryAfterMs).toBeLessThanOrEqual(60_000);
      // Other texts, and the same text from someone else, still go through.
      expect((await sendAs("something new")).errors).toBeUndefined();
      for (let i = 0; i < 2; i++) {
        const fromOther = await gql(
          app.url,
          SendMessageDocument,
          { input: { conversationId: id, text: "same old line" } },
          other.token,
        );
        expect(fromOther.errors).toBeUndefined();
      }
    });
  });
});
