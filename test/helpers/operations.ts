import { gqlOk } from "./client";
import type { TestUser } from "./tokens";

export const MESSAGE_FIELDS = `id conversationId seq kind text clientMessageId createdAt
  sender { id displayName } attachments { mediaId url mimeType }`;

export const CREATE_CONVERSATION = `mutation($input: CreateConversationInput!) {
  createConversation(input: $input) { id kind title subject lastSeq participants { role user { id } } }
}`;

export const SEND_MESSAGE = `mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { ${MESSAGE_FIELDS} }
}`;

export const MESSAGE_ADDED = `subscription($conversationId: ID, $afterSeq: Int) {
  messageAdded(conversationId: $conversationId, afterSeq: $afterSeq) { ${MESSAGE_FIELDS} }
}`;

export async function createDirect(url: string, from: TestUser, to: TestUser, subject?: string) {
  const data = await gqlOk(
    url,
    CREATE_CONVERSATION,
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
    CREATE_CONVERSATION,
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
    SEND_MESSAGE,
    {
      input: { conversationId, text, clientMessageId },
    },
    from.token,
  );
  return data.sendMessage as { id: string; seq: number; text: string };
}
