// Shortcuts for the operations tests run all the time, through the typed documents in test/gql.
import {
  AddParticipantsDocument,
  ConversationDocument,
  CreateConversationDocument,
  MeDocument,
  MessagesFullDocument,
  SendMessageDocument,
  SetParticipantRoleDocument,
  type ParticipantRole,
} from "../gql/graphql";
import { gql, gqlOk } from "./client";
import type { TestUser } from "./tokens";

export async function createDirect(url: string, from: TestUser, to: TestUser, subject?: string) {
  const data = await gqlOk(
    url,
    CreateConversationDocument,
    {
      input: { kind: "DIRECT", participantIds: [to.id], subject },
    },
    from.token,
  );
  return data.createConversation as { id: string; lastSeq: number };
}

export async function createGroup(
  url: string,
  owner: TestUser,
  members: TestUser[],
  title = "Group",
) {
  const data = await gqlOk(
    url,
    CreateConversationDocument,
    {
      input: { kind: "GROUP", participantIds: members.map((m) => m.id), title },
    },
    owner.token,
  );
  return data.createConversation as { id: string };
}

export async function sendText(
  url: string,
  from: TestUser,
  conversationId: string,
  text: string,
  clientMessageId?: string,
) {
  const data = await gqlOk(
    url,
    SendMessageDocument,
    {
      input: { conversationId, text, clientMessageId },
    },
    from.token,
  );
  return data.sendMessage as { id: string; seq: number; text: string };
}

/** Users exist once they have made a request; blocks and reports need an existing target. */
export async function signIn(url: string, ...users: TestUser[]): Promise<void> {
  await Promise.all(users.map((user) => gqlOk(url, MeDocument, {}, user.token)));
}

/** The first 100 messages of a conversation, oldest first, as the user reads them. */
export async function messagesOf(
  url: string,
  user: TestUser,
  conversationId: string,
): Promise<any[]> {
  const data = await gqlOk(url, MessagesFullDocument, { conversationId, first: 100 }, user.token);
  return data.messages.edges.map((e) => e.node);
}

export async function conversationOf(url: string, user: TestUser, id: string): Promise<any> {
  return (await gqlOk(url, ConversationDocument, { id }, user.token)).conversation!;
}

/** Each participant's role, by user id. */
export const roles = (conversation: {
  participants: Array<{ role: string; user: { id: string } }>;
}) => Object.fromEntries(conversation.participants.map((p) => [p.user.id, p.role]));

export async function addParticipants(url: string, by: TestUser, id: string, users: TestUser[]) {
  return gql(
    url,
    AddParticipantsDocument,
    { conversationId: id, userIds: users.map((u) => u.id) },
    by.token,
  );
}

export async function setRole(
  url: string,
  by: TestUser,
  id: string,
  user: TestUser,
  role: ParticipantRole,
) {
  return gql(
    url,
    SetParticipantRoleDocument,
    { conversationId: id, userId: user.id, role },
    by.token,
  );
}
