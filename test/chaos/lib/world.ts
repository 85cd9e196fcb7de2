import type { Rng } from "./rng";

/** A message as the server hands it out: by messageAdded, or as the answer to sendMessage. */
export interface Delivered {
  id: string;
  seq: number;
  conversationId: string;
}

/** What one client has of one conversation: message ids by seq, 1..last, as its UI would show. */
export interface View {
  readonly conversationId: string;
  last: number;
  ids: string[];
  /** Bumped whenever a subscription is replaced: callbacks of older ones are ignored. */
  generation: number;
  unsubscribe: (() => void) | null;
  retryTimer: NodeJS.Timeout | null;
}

/** One send the user made: retried with the same clientMessageId until acknowledged. */
export interface Intent {
  clientMessageId: string;
  senderId: string;
  conversationId: string;
  text: string;
  attempts: number;
  acked: { id: string; seq: number } | null;
  /** Set when it was still unacknowledged at the end of the run. */
  abandoned: boolean;
  rejected: string | null;
}

export interface Target {
  url: string;
  wsUrl: string;
}

/** What the clients share: where instances are, counters, and the violation log. */
export interface World {
  pickInstance(rng: Rng): Target | null;
  stats: Stats;
  violation(text: string): void;
  /** Something worth knowing when reading a run (not a violation). */
  note(text: string): void;
  intents: Map<string, Intent>;
}

export class Stats {
  deliveries = 0;
  connects = 0;
  resubscribes = 0;
  sendAttempts = 0;
  lostAcks = 0;
  readonly closeCodes = new Map<number, number>();
  readonly sendErrors = new Map<string, number>();
  readonly subscriptionEnds = new Map<string, number>();

  count(map: Map<string | number, number> | Map<string, number>, key: string | number) {
    const m = map as Map<string | number, number>;
    m.set(key, (m.get(key) ?? 0) + 1);
  }
}
