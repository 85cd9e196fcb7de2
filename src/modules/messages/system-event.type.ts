import { Field, ObjectType } from "type-graphql";
import { SystemEventType } from "../conversations/conversation.enums";

/** Stored as JSON on a SYSTEM message; `actor` and `users` resolve from these ids. */
@ObjectType("SystemEvent", { description: "What a SYSTEM message records: who did what to whom." })
export class SystemEvent {
  @Field(() => SystemEventType)
  type!: SystemEventType;

  /** The user who made the change; the leaver for PARTICIPANT_LEFT. */
  actorId!: string;

  /** The users the change was about. */
  userIds!: string[];
}
