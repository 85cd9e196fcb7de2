import { MeDocument } from "../../gql/graphql";
import { gqlOk } from "../../helpers/client";
import { createGroup, sendText } from "../../helpers/operations";
import { startTestApp, testEnv, type TestApp } from "../../helpers/app";
import { testUser, type TestUser } from "../../helpers/tokens";

const INBOX = `query {
  conversations(first: 50) {
    edges { node {
      id unreadCount viewerRole
      lastMessage { text sender { id } }
      participants { user { id } }
    } }
  }
}`;

describe("Query.conversations", () => {
  // One connection: statements run one at a time, so the count cannot vary with batch timing.
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp(testEnv({ DATABASE_POOL_MAX: "1" }));
    // Its passes (a batch delay after each send) are not the inbox's statements.
    await app.app.services.notifications.stop();
  });
  afterAll(async () => {
    await app?.stop();
  });

  /** A user in `count` groups with two friends each, where a friend said something. */
  async function userIn(count: number): Promise<TestUser> {
    const [user, ...friends] = await Promise.all(
      Array.from({ length: 5 }, (_, i) => testUser(i ? `friend${i}` : `in${count}`)),
    );
    for (let start = 0; start < count; start += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, count - start) }, async (_, j) => {
          const i = start + j;
          const members = [friends[i % 4], friends[(i + 1) % 4]];
          const group = await createGroup(app.url, user, members, `group ${i}`);
          await sendText(app.url, members[0], group.id, `hello ${i}`);
        }),
      );
    }
    return user;
  }

  async function inbox(user: TestUser) {
    await gqlOk(app.url, MeDocument, {}, user.token);
    app.statements.length = 0;
    const data = await gqlOk(app.url, INBOX, {}, user.token);
    return { edges: data.conversations.edges, statements: [...app.statements] };
  }

  it("should take as many SQL statements for a user in 40 conversations as for one in 5", async () => {
    const few = await inbox(await userIn(5));
    const many = await inbox(await userIn(40));

    expect(few.edges).toHaveLength(5);
    expect(many.edges).toHaveLength(40);
    for (const { node } of [...few.edges, ...many.edges]) {
      expect(node.viewerRole).toBe("OWNER");
      expect(node.unreadCount).toBe(1);
      expect(node.participants).toHaveLength(3);
      expect(node.lastMessage.text).toMatch(/^hello \d+$/);
      expect(node.lastMessage.sender.id).toMatch(/^friend/);
    }
    expect(many.statements).toHaveLength(few.statements.length);
    // One per loader (list, unread counts, memberships, messages, participants, users), not per row.
    expect(many.statements.length).toBeLessThanOrEqual(8);
  });
});
