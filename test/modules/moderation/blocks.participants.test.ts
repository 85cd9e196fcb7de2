import { AddParticipantsDocument, SetParticipantRoleDocument } from "../../gql/graphql";
import { codeOf, gql, gqlOk } from "../../helpers/client";
import { createGroup, signIn } from "../../helpers/operations";
import { testUser } from "../../helpers/tokens";
import { blockingSuite } from "../../helpers/blocking-suite";

describe("Blocking", () => {
  const { app, block, unblock, people } = blockingSuite();

  describe("Mutation.addParticipants", () => {
    it.each([
      ["the owner blocked the user", "owner"],
      ["the user blocked the owner", "user"],
    ])(
      "should refuse adding a user to a group when %s, whoever adds them, with BLOCKED",
      async (_label, who) => {
        const [owner, admin, user] = await people();
        const group = await createGroup(app.url, owner, [admin], "owned");
        await gqlOk(
          app.url,
          SetParticipantRoleDocument,
          { conversationId: group.id, userId: admin.id, role: "ADMIN" },
          owner.token,
        );
        if (who === "owner") await block(owner, user);
        else await block(user, owner);
        for (const adder of [owner, admin]) {
          const result = await gql(
            app.url,
            AddParticipantsDocument,
            { conversationId: group.id, userIds: [user.id] },
            adder.token,
          );
          expect(codeOf(result)).toBe("BLOCKED");
        }
        // A block between the user and the admin alone does not stop the owner.
        const other = await testUser("dave");
        await signIn(app.url, other);
        await block(other, admin);
        const added = await gqlOk(
          app.url,
          AddParticipantsDocument,
          { conversationId: group.id, userIds: [other.id] },
          owner.token,
        );
        const ids = added.addParticipants.participants.map((p: any) => p.user.id);
        expect(ids).toContain(other.id);
        expect(ids).not.toContain(user.id);

        if (who === "owner") await unblock(owner, user);
        else await unblock(user, owner);
        const after = await gqlOk(
          app.url,
          AddParticipantsDocument,
          { conversationId: group.id, userIds: [user.id] },
          admin.token,
        );
        expect(after.addParticipants.participants.map((p: any) => p.user.id)).toContain(user.id);
      },
    );
  });
});
