import { registerEnumType } from "type-graphql";

export enum ReportReason {
  SPAM = "SPAM",
  HARASSMENT = "HARASSMENT",
  HATE = "HATE",
  SEXUAL_CONTENT = "SEXUAL_CONTENT",
  VIOLENCE = "VIOLENCE",
  SCAM = "SCAM",
  OTHER = "OTHER",
}

export enum ReportStatus {
  OPEN = "OPEN",
  RESOLVED = "RESOLVED",
  DISMISSED = "DISMISSED",
}

registerEnumType(ReportReason, { name: "ReportReason" });
registerEnumType(ReportStatus, { name: "ReportStatus" });
