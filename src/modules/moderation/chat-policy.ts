import type { SafetyConfig } from "../../config";
import { AppError, ErrorCode } from "../../core/errors";
import type { Logger } from "../../core/logger";

/** What the product's policy endpoint is asked, e.g. "may these users chat about booking:9f1c?" */
export interface PolicyRequest {
  action: "createConversation" | "addParticipants";
  actorId: string;
  participantIds: string[];
  kind: string;
  subject: string | null;
  conversationId: string | null;
}

/**
 * The optional eligibility check (CHAT_POLICY_URL): POSTs the request as JSON and expects
 * `{ "allow": true }` or `{ "allow": false, "reason": "..." }`. No answer in time, or any other
 * answer, refuses: it fails closed.
 */
export class ChatPolicy {
  constructor(
    private readonly config: Readonly<SafetyConfig>,
    private readonly logger: Logger,
  ) {}

  async check(request: PolicyRequest): Promise<void> {
    const { policyUrl, policyToken, policyTimeoutMs } = this.config;
    if (!policyUrl) return;
    let verdict: { allow?: unknown; reason?: unknown };
    try {
      const response = await fetch(policyUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(policyToken ? { authorization: `Bearer ${policyToken}` } : {}),
        },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(policyTimeoutMs),
      });
      if (!response.ok) throw new Error(`policy answered HTTP ${response.status}`);
      verdict = (await response.json()) as typeof verdict;
    } catch (error) {
      this.logger.warn({ err: error, action: request.action }, "chat policy unavailable");
      throw new AppError(ErrorCode.FORBIDDEN, "The chat policy could not be checked; try again", {
        reason: "POLICY_UNAVAILABLE",
      });
    }
    if (verdict.allow !== true) {
      const reason = typeof verdict.reason === "string" ? verdict.reason.slice(0, 500) : null;
      throw new AppError(ErrorCode.FORBIDDEN, reason ?? "Not allowed by the chat policy", {
        reason: "POLICY_DENIED",
      });
    }
  }
}
