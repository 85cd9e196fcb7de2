import { Client } from "pg";
import { gql, gqlOk, type GraphQLResponse, type WsClient } from "../helpers/client";
import { testDatabaseUrl } from "../helpers/env";
import type { TestUser } from "../helpers/tokens";

/** Everything a client renders of a message, SYSTEM notices included. */
export const FULL_MESSAGE = `id conversationId seq kind text clientMessageId createdAt editedAt deletedAt
  sender { id }
  attachments { mediaId url mimeType name size width height }
  systemEvent { type actor { id } users { id } }`;

export const PARTICIPANTS = `participants { role lastReadSeq lastReadAt joinedAt user { id } }`;

export const CONVERSATION = `query($id: ID!) {
  conversation(id: $id) {
    id kind title lastSeq unreadCount viewerRole ${PARTICIPANTS}
    lastMessage { ${FULL_MESSAGE} }
  }
}`;

export const MESSAGES = `query($conversationId: ID!, $first: Int, $after: String) {
  messages(conversationId: $conversationId, first: $first, after: $after) {
    edges { node { ${FULL_MESSAGE} readBy { id } } }
  }
}`;

export const ADD_PARTICIPANTS = `mutation($conversationId: ID!, $userIds: [ID!]!) {
  addParticipants(conversationId: $conversationId, userIds: $userIds) {
    id lastSeq viewerRole participants { role user { id } }
  }
}`;

export const REMOVE_PARTICIPANT = `mutation($conversationId: ID!, $userId: ID!) {
  removeParticipant(conversationId: $conversationId, userId: $userId) {
    id lastSeq viewerRole participants { role user { id } }
  }
}`;

export const LEAVE = `mutation($conversationId: ID!) { leaveConversation(conversationId: $conversationId) }`;

export const SET_ROLE = `mutation($conversationId: ID!, $userId: ID!, $role: ParticipantRole!) {
  setParticipantRole(conversationId: $conversationId, userId: $userId, role: $role) {
    id lastSeq participants { role user { id } }
  }
}`;

export const EDIT = `mutation($id: ID!, $text: String!) { editMessage(id: $id, text: $text) { ${FULL_MESSAGE} } }`;

export const DELETE = `mutation($id: ID!) { deleteMessage(id: $id) { ${FULL_MESSAGE} } }`;

export const MARK_READ = `mutation($conversationId: ID!, $upToSeq: Int) {
  markRead(conversationId: $conversationId, upToSeq: $upToSeq) { id unreadCount ${PARTICIPANTS} }
}`;

export const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { ${FULL_MESSAGE} } }`;

export const MESSAGE_ADDED_FULL = `subscription($conversationId: ID) {
  messageAdded(conversationId: $conversationId) { ${FULL_MESSAGE} }
}`;

export const MESSAGE_UPDATED = `subscription($conversationId: ID) {
  messageUpdated(conversationId: $conversationId) { ${FULL_MESSAGE} }
}`;

export const READ_RECEIPT = `subscription($conversationId: ID) {
  readReceipt(conversationId: $conversationId) { conversationId user { id } lastReadSeq readAt }
}`;

export const CONVERSATION_UPDATED = `subscription {
  conversationUpdated { id viewerRole participants { user { id } } }
}`;

/** The Redis channels an instance subscribes to, under the instance's key prefix. */
export function channels(prefix: string) {
  return {
    messageAdded: (id: string) => `${prefix}conversation:${id}:message-added`,
    messageUpdated: (id: string) => `${prefix}conversation:${id}:message-updated`,
    readReceipt: (id: string) => `${prefix}conversation:${id}:read-receipt`,
    conversationUpdated: (userId: string) => `${prefix}user:${userId}:conversation-updated`,
    membership: (userId: string) => `${prefix}user:${userId}:membership`,
  };
}

/** Asserts that the request failed with `code` (and, when given, on `field`), without data. */
export function expectError(result: GraphQLResponse, code: string, field?: string): void {
  expect(result.errors?.[0]?.extensions?.code).toBe(code);
  if (field !== undefined) expect(result.errors?.[0]?.extensions?.field).toBe(field);
}

export async function messagesOf(url: string, user: TestUser, conversationId: string) {
  const data = await gqlOk(url, MESSAGES, { conversationId, first: 100 }, user.token);
  return data.messages.edges.map((e: { node: Record<string, any> }) => e.node);
}

export async function conversationOf(url: string, user: TestUser, id: string) {
  return (await gqlOk(url, CONVERSATION, { id }, user.token)).conversation;
}

export const roles = (conversation: {
  participants: Array<{ role: string; user: { id: string } }>;
}) => Object.fromEntries(conversation.participants.map((p) => [p.user.id, p.role]));

export async function addParticipants(url: string, by: TestUser, id: string, users: TestUser[]) {
  return gql(
    url,
    ADD_PARTICIPANTS,
    { conversationId: id, userIds: users.map((u) => u.id) },
    by.token,
  );
}

export async function setRole(url: string, by: TestUser, id: string, user: TestUser, role: string) {
  return gql(url, SET_ROLE, { conversationId: id, userId: user.id, role }, by.token);
}

/** Runs one statement against the tests' database, as an operator would. */
export async function sql(text: string, values: unknown[] = []): Promise<void> {
  const client = new Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** Disposes WebSocket clients left open by a test. */
export async function disposeAll(clients: WsClient[]): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
}
