import { randomUUID } from "node:crypto";
import {
  LeaveConversationDocument,
  RemoveParticipantDocument,
  ReportDocument,
  ReportsDocument,
  ResolveReportDocument,
  type ReportInput,
  type ReportsQuery,
  type ReportStatus,
} from "../../gql/graphql";
import { codeOf, gql, gqlOk } from "../../helpers/client";
import { createDirect, createGroup, sendText, signIn } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

type ReportNode = ReportsQuery["reports"]["edges"][number]["node"];

describe("Reports", () => {
  let app: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  let moderator: TestUser;
  let direct: { id: string };
  let message: { id: string };

  const report = (by: TestUser, input: Partial<ReportInput>) =>
    gql(app.url, ReportDocument, { input: { reason: "HARASSMENT", ...input } }, by.token);
  const reportOk = async (by: TestUser, input: Partial<ReportInput>) => {
    const result = await report(by, input);
    expect(result.errors).toBeUndefined();
    return result.data!.report;
  };

  /** Every report with the status, walking the whole list `first` at a time. */
  async function everyReport(status: ReportStatus | null, first: number): Promise<ReportNode[]> {
    const all: ReportNode[] = [];
    let after: string | null = null;
    for (let page = 0; ; page++) {
      const { reports }: ReportsQuery = await gqlOk(
        app.url,
        ReportsDocument,
        { status, first, after },
        moderator.token,
      );
      expect(reports.edges.length).toBeLessThanOrEqual(first);
      expect(reports.pageInfo.hasPreviousPage).toBe(after !== null);
      all.push(...reports.edges.map((e) => e.node));
      if (!reports.pageInfo.hasNextPage) return all;
      expect(reports.pageInfo.endCursor).toBe(reports.edges.at(-1)!.cursor);
      after = reports.pageInfo.endCursor;
      if (page > 1000) throw new Error("endless paging");
    }
  }

  beforeAll(async () => {
    app = await startTestApp(testEnv());
    [alice, bob, mallory] = await Promise.all([
      testUser("alice"),
      testUser("bob"),
      testUser("mallory"),
    ]);
    moderator = await testUser("mod", { roles: ["moderator"] });
    await signIn(app.url, alice, bob, mallory, moderator);
    direct = await createDirect(app.url, alice, bob, "reports");
    message = await sendText(app.url, bob, direct.id, "something nasty");
  });
  afterAll(async () => {
    await app?.stop();
  });

  describe("Mutation.report", () => {
    it("should report a message the reporter can read, and return the same open report when repeated", async () => {
      const first = await reportOk(alice, { messageId: message.id, details: "  rude  " });
      expect(first).toMatchObject({
        status: "OPEN",
        reason: "HARASSMENT",
        details: "rude",
        reporter: { id: alice.id },
        reportedUser: null,
        message: { id: message.id, text: "something nasty" },
      });
      const again = await reportOk(alice, { messageId: message.id, reason: "SPAM" });
      expect(again.id).toBe(first.id);
      expect(again.reason).toBe("HARASSMENT");
    });

    it("should report a user who shares a conversation with the reporter", async () => {
      const first = await reportOk(bob, { userId: alice.id, reason: "SCAM" });
      expect(first).toMatchObject({
        status: "OPEN",
        reason: "SCAM",
        reporter: { id: bob.id },
        reportedUser: { id: alice.id },
        message: null,
      });
      expect((await reportOk(bob, { userId: alice.id })).id).toBe(first.id);
    });

    it("should answer NOT_FOUND for a message in a conversation the reporter is not in", async () => {
      const carol = await testUser("carol");
      const group = await createGroup(app.url, alice, [bob, carol], "left later");
      const inGroup = await sendText(app.url, bob, group.id, "group secret");
      await gqlOk(app.url, LeaveConversationDocument, { conversationId: group.id }, carol.token);
      for (const [who, messageId] of [
        [mallory, message.id],
        [mallory, inGroup.id],
        // A former participant no longer reads the conversation.
        [carol, inGroup.id],
        [alice, randomUUID()],
      ] as const) {
        const result = await report(who, { messageId });
        expect({ who: who.id, code: codeOf(result) }).toEqual({ who: who.id, code: "NOT_FOUND" });
        expect(result.data).toBeNull();
        expect(JSON.stringify(result)).not.toContain("secret");
      }
    });

    it("should answer NOT_FOUND for a user the reporter shares no conversation with, known or not", async () => {
      for (const userId of [alice.id, bob.id, "never-signed-in-user"]) {
        const result = await report(mallory, { userId });
        expect({ userId, code: codeOf(result) }).toEqual({ userId, code: "NOT_FOUND" });
        expect(result.data).toBeNull();
      }
    });

    it("should answer NOT_FOUND for a former co-member, whoever went, exactly as for a stranger", async () => {
      const [carol, dave, erin] = await Promise.all([
        testUser("carol"),
        testUser("dave"),
        testUser("erin"),
      ]);
      await signIn(app.url, carol, dave, erin);
      const group = await createGroup(app.url, alice, [carol, dave, erin], "went");
      // Dave leaves and alice removes carol: each shared the group with everyone, before.
      await gqlOk(app.url, LeaveConversationDocument, { conversationId: group.id }, dave.token);
      await gqlOk(
        app.url,
        RemoveParticipantDocument,
        { conversationId: group.id, userId: carol.id },
        alice.token,
      );
      const stranger = await report(carol, { userId: mallory.id });
      expect(codeOf(stranger)).toBe("NOT_FOUND");
      for (const [who, userId] of [
        [carol, dave.id],
        [carol, alice.id],
        [carol, erin.id],
        [dave, erin.id],
        [alice, dave.id],
        [erin, carol.id],
      ] as const) {
        const result = await report(who, { userId });
        expect({ who: who.id, userId, result }).toEqual({ who: who.id, userId, result: stranger });
      }
      // Those who still share the group report each other.
      expect((await reportOk(erin, { userId: alice.id })).reportedUser).toEqual({ id: alice.id });
    });

    it("should refuse anything but exactly one of messageId and userId with BAD_USER_INPUT", async () => {
      for (const input of [
        {},
        { messageId: null, userId: null },
        { messageId: message.id, userId: bob.id },
        { messageId: "not-a-uuid" },
        { userId: alice.id, details: "x".repeat(1001) },
      ]) {
        const result = await report(alice, input);
        expect({ input, code: codeOf(result) }).toEqual({ input, code: "BAD_USER_INPUT" });
      }
      expect(codeOf(await report(alice, { userId: alice.id }))).toBe("BAD_USER_INPUT");
    });
  });

  describe("Query.reports and Mutation.resolveReport", () => {
    it("should be FORBIDDEN for everyone but moderators, the reporter included", async () => {
      const own = await reportOk(alice, { userId: bob.id, reason: "SPAM" });
      const notModerator = await testUser("user", { roles: ["admin", "moderators"] });
      for (const user of [alice, bob, mallory, notModerator]) {
        const list = await gql(app.url, ReportsDocument, {}, user.token);
        expect({ user: user.id, code: codeOf(list) }).toEqual({ user: user.id, code: "FORBIDDEN" });
        expect(list.data).toBeNull();
        const resolved = await gql(
          app.url,
          ResolveReportDocument,
          { id: own.id, status: "DISMISSED" },
          user.token,
        );
        expect({ user: user.id, code: codeOf(resolved) }).toEqual({
          user: user.id,
          code: "FORBIDDEN",
        });
      }
      const [stillOpen] = (await everyReport("OPEN", 100)).filter((r) => r.id === own.id);
      expect(stillOpen.status).toBe("OPEN");
    });

    it("should list newest first with paging and filter by status", async () => {
      const dave = await testUser("dave");
      const group = await createGroup(app.url, dave, [alice, bob], "paging");
      const messages = [];
      for (let i = 0; i < 3; i++) messages.push(await sendText(app.url, bob, group.id, `m${i}`));
      const mine: string[] = [];
      for (const m of messages) {
        mine.push((await reportOk(dave, { messageId: m.id })).id);
        // Distinct timestamps, so "newest first" is the reverse of creation order.
        await new Promise((r) => setTimeout(r, 5));
      }
      const all = await everyReport(null, 2);
      const ids = all.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      const byNewest = [...all].sort(
        (x, y) => y.createdAt.localeCompare(x.createdAt) || y.id.localeCompare(x.id),
      );
      expect(ids).toEqual(byNewest.map((r) => r.id));
      expect(ids.filter((id) => mine.includes(id))).toEqual([...mine].reverse());
      // Moderators see the reported message whatever conversation it is in.
      const newest = all.find((r) => r.id === mine[2])!;
      expect(newest).toMatchObject({ reporter: { id: dave.id }, message: { text: "m2" } });

      await gqlOk(
        app.url,
        ResolveReportDocument,
        { id: mine[1], status: "RESOLVED" },
        moderator.token,
      );
      await gqlOk(
        app.url,
        ResolveReportDocument,
        { id: mine[0], status: "DISMISSED" },
        moderator.token,
      );
      const open = await everyReport("OPEN", 3);
      expect(open.every((r) => r.status === "OPEN")).toBe(true);
      expect(open.map((r) => r.id)).toContain(mine[2]);
      expect(open.map((r) => r.id)).not.toContain(mine[1]);
      expect((await everyReport("RESOLVED", 100)).map((r) => r.id)).toContain(mine[1]);
      expect((await everyReport("DISMISSED", 100)).map((r) => r.id)).toContain(mine[0]);
    });

    it("should refuse bad page arguments and cursors with BAD_USER_INPUT", async () => {
      for (const variables of [{ first: 0 }, { first: 101 }, { after: "garbage" }]) {
        const result = await gql(app.url, ReportsDocument, variables, moderator.token);
        expect({ variables, code: codeOf(result) }).toEqual({ variables, code: "BAD_USER_INPUT" });
      }
    });

    it("should resolve to RESOLVED or DISMISSED only, and then let a new report on the same target open", async () => {
      const erin = await testUser("erin");
      const conversation = await createDirect(app.url, erin, bob, "resolve");
      const target = await sendText(app.url, bob, conversation.id, "spam spam");
      const first = await reportOk(erin, { messageId: target.id });

      const reopen = await gql(
        app.url,
        ResolveReportDocument,
        { id: first.id, status: "OPEN" },
        moderator.token,
      );
      expect(codeOf(reopen)).toBe("BAD_USER_INPUT");
      const unknown = await gql(
        app.url,
        ResolveReportDocument,
        { id: randomUUID(), status: "RESOLVED" },
        moderator.token,
      );
      expect(codeOf(unknown)).toBe("NOT_FOUND");
      expect(
        codeOf(
          await gql(
            app.url,
            ResolveReportDocument,
            { id: "x", status: "RESOLVED" },
            moderator.token,
          ),
        ),
      ).toBe("BAD_USER_INPUT");

      for (const status of ["RESOLVED", "DISMISSED"] as const) {
        const current = await reportOk(erin, { messageId: target.id });
        const resolved = await gqlOk(
          app.url,
          ResolveReportDocument,
          { id: current.id, status },
          moderator.token,
        );
        expect(resolved.resolveReport).toEqual({ id: current.id, status });
        const next = await reportOk(erin, { messageId: target.id });
        expect(next.id).not.toBe(current.id);
        expect(next.status).toBe("OPEN");
      }
      // The same holds for user reports.
      const user = await reportOk(erin, { userId: bob.id });
      await gqlOk(
        app.url,
        ResolveReportDocument,
        { id: user.id, status: "RESOLVED" },
        moderator.token,
      );
      expect((await reportOk(erin, { userId: bob.id })).id).not.toBe(user.id);
    });
  });
});
