import type { RateLimiters } from "../../core/rate-limit";
import type { BlockService } from "./block.service";
import type { ChatPolicy } from "./chat-policy";
import type { ContentGuard } from "./content.guard";

/** The checks the messaging services consult before they change anything. */
export interface Safety {
  limiters: RateLimiters;
  content: ContentGuard;
  policy: ChatPolicy;
  blocks: BlockService;
}
