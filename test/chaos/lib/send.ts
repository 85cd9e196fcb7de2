import { SendMessageDocument } from "../../gql/graphql";
import { sourceOf } from "../../helpers/client";
import type { Delivered, Intent, Target, World } from "./world";

/** Sends that take longer are abandoned as hung (the service bounds its own waits far below). */
export const SEND_TIMEOUT_MS = 15_000;

const SEND_MESSAGE = sourceOf(SendMessageDocument);

export type SendOutcome = "acked" | "retry" | "rejected";

interface SendAnswer {
  data?: { sendMessage?: Delivered & { clientMessageId: string; text: string } } | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/**
 * One sendMessage request for intent, and what its answer means for the send. Throws when the
 * request itself fails (cut, timed out, refused by the network): the caller retries those.
 */
export async function postSend(
  target: Target,
  token: string,
  intent: Intent,
  world: World,
  signal: AbortSignal,
): Promise<SendOutcome> {
  const response = await fetch(target.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: SEND_MESSAGE,
      variables: {
        input: {
          conversationId: intent.conversationId,
          text: intent.text,
          clientMessageId: intent.clientMessageId,
        },
      },
    }),
    signal,
  });
  const body = (await response.json()) as SendAnswer;
  const message = body.data?.sendMessage;
  if (message) {
    acknowledge(intent, message, world);
    return "acked";
  }
  return judgeError(intent, response, body, world);
}

/** The answer must be the message sent, and the same one on every attempt. */
function acknowledge(
  intent: Intent,
  message: NonNullable<NonNullable<SendAnswer["data"]>["sendMessage"]>,
  world: World,
): void {
  if (
    message.clientMessageId !== intent.clientMessageId ||
    message.conversationId !== intent.conversationId ||
    message.text !== intent.text
  ) {
    world.violation(`send ${intent.clientMessageId} acknowledged another message`);
  }
  if (intent.acked && intent.acked.id !== message.id) {
    world.violation(`send ${intent.clientMessageId} acknowledged twice, differently`);
  }
  intent.acked = { id: message.id, seq: message.seq };
}

/** An error answer: outages and masked errors are retried, anything else refuses a valid send. */
function judgeError(
  intent: Intent,
  response: Response,
  body: SendAnswer,
  world: World,
): SendOutcome {
  const stats = world.stats;
  const code = body.errors?.[0]?.extensions?.code ?? `HTTP ${response.status}`;
  stats.count(stats.sendErrors, code);
  if (code === "INTERNAL_SERVER_ERROR") {
    world.note(`INTERNAL_SERVER_ERROR: request ${response.headers.get("x-request-id")}`);
  }
  if (code === "UNAVAILABLE" || code === "INTERNAL_SERVER_ERROR" || code === "RATE_LIMITED") {
    return "retry";
  }
  if (response.status >= 500 && !body.errors?.[0]?.extensions?.code) return "retry";
  intent.rejected = `${code}: ${body.errors?.[0]?.message}`;
  world.violation(`send ${intent.clientMessageId} refused: ${intent.rejected}`);
  return "rejected";
}

export function networkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return `network ${cause?.code ?? cause?.message ?? (error as Error)?.message ?? "error"}`;
}
