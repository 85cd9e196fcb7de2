import type { MikroORM } from "@mikro-orm/postgresql";
import type { Config } from "./config";
import type { AppServices } from "./context";
import type { Logger } from "./core/logger";
import { Metrics } from "./core/metrics";
import type { PubSub } from "./core/pubsub";
import { RateLimiters } from "./core/rate-limit";
import { createTokenVerifier } from "./modules/auth/token.service";
import { ConversationService } from "./modules/conversations/conversation.service";
import { ConversationStreams } from "./modules/conversations/conversation.stream";
import { MembershipPublisher } from "./modules/conversations/membership.publisher";
import { MembershipService } from "./modules/conversations/membership.service";
import { appendSystemMessage } from "./modules/messages/message.append";
import { MessagePublisher } from "./modules/messages/message.publisher";
import { MessageService } from "./modules/messages/message.service";
import { MessageStreams } from "./modules/messages/message.stream";
import { NotificationRelay } from "./modules/notifications/notification.relay";
import { BlockService } from "./modules/moderation/block.service";
import { ChatPolicy } from "./modules/moderation/chat-policy";
import { ContentGuard } from "./modules/moderation/content.guard";
import { ReportService } from "./modules/moderation/report.service";
import type { Safety } from "./modules/moderation/safety";
import { PresenceService } from "./modules/presence/presence.service";
import { createPresenceStore } from "./modules/presence/presence.store";
import { ReceiptService } from "./modules/receipts/receipt.service";
import { TypingService } from "./modules/typing/typing.service";
import { createTypingStore } from "./modules/typing/typing.store";
import { UserService } from "./modules/users/user.service";

/** Rate limits, content rules, the chat policy and blocks, which most services consult. */
function createSafety(config: Readonly<Config>, logger: Logger, pubsub: PubSub): Safety {
  const limiters = new RateLimiters(config.safety, pubsub.redis, config.redisPrefix);
  return {
    limiters,
    content: new ContentGuard(config.safety),
    policy: new ChatPolicy(config.safety, logger),
    blocks: new BlockService(pubsub, limiters),
  };
}

/** The composition: every service of one instance, built once, each given what it uses. */
export function createServices(
  config: Readonly<Config>,
  logger: Logger,
  orm: MikroORM,
  pubsub: PubSub,
): AppServices {
  const users = new UserService();
  const safety = createSafety(config, logger, pubsub);
  const conversationStreams = new ConversationStreams(orm, pubsub, logger);
  const typing = new TypingService(
    config.realtime,
    createTypingStore(pubsub.redis, config.redisPrefix),
    pubsub,
    logger,
    safety,
  );
  const presence = new PresenceService(
    config.realtime,
    createPresenceStore(pubsub.redis, config.redisPrefix),
    pubsub,
    orm,
    logger,
  );
  const metrics = new Metrics();
  const notifications = new NotificationRelay(
    config.notifications,
    orm,
    pubsub,
    presence,
    metrics,
    logger,
  );
  const publisher = new MessagePublisher(pubsub);
  const messages = new MessageService(
    config,
    orm,
    publisher,
    typing,
    safety,
    metrics,
    notifications,
  );
  const announce = new MembershipPublisher(pubsub, publisher, typing, logger);
  const membership = new MembershipService(config, users, safety, announce, appendSystemMessage);
  const conversations = new ConversationService(config, users, safety, announce);
  return {
    config,
    scope: {
      orm,
      logger,
      presence: (em, viewerId, ids) => presence.statuses(em, viewerId, ids),
    },
    orm,
    pubsub,
    logger,
    verifyToken: createTokenVerifier(config.jwt),
    users,
    conversations,
    membership,
    messages,
    conversationStreams,
    messageStreams: new MessageStreams(
      orm,
      conversationStreams,
      logger,
      config.realtime.streamGapWaitMs,
    ),
    receipts: new ReceiptService(pubsub),
    typing,
    presence,
    safety,
    blocks: safety.blocks,
    reports: new ReportService(config, safety.limiters),
    metrics,
    notifications,
  };
}
