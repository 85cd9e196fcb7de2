import { Field, ObjectType, registerEnumType } from "type-graphql";

export enum SystemEventType {
  PARTICIPANTS_ADDED = "PARTICIPANTS_ADDED",
  PARTICIPANT_REMOVED = "PARTICIPANT_REMOVED",
  PARTICIPANT_LEFT = "PARTICIPANT_LEFT",
  OWNER_CHANGED = "OWNER_CHANGED",
  ROLE_CHANGED = "ROLE_CHANGED",
}

registerEnumType(SystemEventType, { name: "SystemEventType" });

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
