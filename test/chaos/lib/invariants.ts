import type { SimClient } from "./client";
import type { ChaosCluster } from "./cluster";
import { waitFor } from "./infra";
import type { Intent, World } from "./world";

interface StoredMessage {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string | null;
  client_message_id: string | null;
  text: string | null;
}

interface StoredConversation {
  id: string;
  last_seq: number;
  last_message_id: string;
}

/** Every client catches up with what is stored; one still behind after convergeMs is a violation. */
export async function awaitConvergence(
  cluster: ChaosCluster,
  conversationIds: string[],
  clients: SimClient[],
  convergeMs: number,
  world: World,
): Promise<void> {
  const positions = new Map(
    (
      await cluster.query<{ id: string; last_seq: number }>(
        "select id, last_seq from conversation where id = any($1::uuid[])",
        [conversationIds],
      )
    ).map((row) => [row.id, Number(row.last_seq)]),
  );
  const lagging = () =>
    clients.flatMap((client) =>
      [...client.views.values()]
        .filter((view) => view.last < positions.get(view.conversationId)!)
        .map((view) => ({ client, view })),
    );
  await waitFor("clients to catch up", async () => lagging().length === 0, convergeMs).catch(() => {
    for (const { client, view } of lagging()) {
      world.violation(
        `client ${client.id} conversation ${view.conversationId}: has 1..${view.last} of ${positions.get(view.conversationId)} after ${convergeMs} ms (connected: ${client.connected})`,
      );
    }
  });
}

/**
 * The check: every view against the stored messages, every send against what was stored, and no
 * instance crashed. Returns how many messages are stored, and how many abandoned sends were
 * stored anyway.
 */
export async function checkInvariants(
  cluster: ChaosCluster,
  conversationIds: string[],
  clients: SimClient[],
  world: World,
): Promise<{ messages: number; abandonedButStored: number }> {
  const rows = await cluster.query<StoredMessage>(
    `select id, conversation_id, seq, sender_id, client_message_id, text from message
      where conversation_id = any($1::uuid[]) order by conversation_id, seq`,
    [conversationIds],
  );
  const conversations = await cluster.query<StoredConversation>(
    "select id, last_seq, last_message_id from conversation where id = any($1::uuid[])",
    [conversationIds],
  );
  const stored = new Map<string, StoredMessage[]>();
  for (const row of rows) {
    const list = stored.get(row.conversation_id) ?? [];
    list.push(row);
    stored.set(row.conversation_id, list);
  }
  checkSequences(conversations, stored, world);
  checkViews(clients, stored, world);
  const abandonedButStored = checkSends(rows, world.intents, world);
  for (const crash of cluster.crashes) world.violation(`instance crashed: ${crash}`);
  return { messages: rows.length, abandonedButStored };
}

/** Each conversation stores seqs 1..last_seq, without gaps, and points at its last message. */
function checkSequences(
  conversations: StoredConversation[],
  stored: Map<string, StoredMessage[]>,
  world: World,
): void {
  for (const conversation of conversations) {
    const list = stored.get(conversation.id) ?? [];
    const lastSeq = Number(conversation.last_seq);
    if (list.length !== lastSeq || list.some((row, i) => Number(row.seq) !== i + 1)) {
      world.violation(`conversation ${conversation.id}: stored seqs are not exactly 1..${lastSeq}`);
    }
    if (lastSeq && conversation.last_message_id !== list[list.length - 1]?.id) {
      world.violation(
        `conversation ${conversation.id}: last_message_id is not the message at last_seq`,
      );
    }
  }
}

/** Each client's view of a conversation is exactly what is stored, in order. */
function checkViews(
  clients: SimClient[],
  stored: Map<string, StoredMessage[]>,
  world: World,
): void {
  for (const client of clients) {
    for (const view of client.views.values()) {
      const expected = (stored.get(view.conversationId) ?? []).map((row) => row.id);
      const mismatch = view.ids.findIndex((id, i) => id !== expected[i]);
      if (mismatch >= 0) {
        world.violation(
          `client ${client.id} conversation ${view.conversationId}: seq ${mismatch + 1} is ${view.ids[mismatch]}, stored ${expected[mismatch]}`,
        );
      } else if (view.ids.length !== expected.length) {
        world.violation(
          `client ${client.id} conversation ${view.conversationId}: has ${view.ids.length} messages, stored ${expected.length}`,
        );
      }
    }
  }
}

/**
 * Every stored clientMessageId was sent, every send is stored at most once with its content, and
 * every acknowledged one is stored as acknowledged. Returns the abandoned sends stored anyway.
 */
function checkSends(rows: StoredMessage[], intents: Map<string, Intent>, world: World): number {
  const byClientId = new Map<string, StoredMessage[]>();
  for (const row of rows) {
    if (row.client_message_id === null) continue;
    const key = `${row.sender_id}\u0000${row.client_message_id}`;
    byClientId.set(key, [...(byClientId.get(key) ?? []), row]);
    if (
      !intents.has(row.client_message_id) ||
      intents.get(row.client_message_id)!.senderId !== row.sender_id
    ) {
      world.violation(`message ${row.id} has clientMessageId ${row.client_message_id} nobody sent`);
    }
  }
  let abandonedButStored = 0;
  for (const intent of intents.values()) {
    const copies = byClientId.get(`${intent.senderId}\u0000${intent.clientMessageId}`) ?? [];
    if (copies.length > 1) {
      world.violation(`send ${intent.clientMessageId} stored ${copies.length} times`);
    }
    const copy = copies[0];
    if (copy && (copy.text !== intent.text || copy.conversation_id !== intent.conversationId)) {
      world.violation(`send ${intent.clientMessageId} stored with other content`);
    }
    if (intent.acked) {
      if (!copy) world.violation(`acknowledged send ${intent.clientMessageId} is not stored`);
      else if (copy.id !== intent.acked.id || Number(copy.seq) !== intent.acked.seq) {
        world.violation(`acknowledged send ${intent.clientMessageId} is stored as another message`);
      }
    } else if (copy) abandonedButStored++;
  }
  return abandonedButStored;
}
