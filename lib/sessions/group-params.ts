// Validation schemas (fastest-validator) for the group, call and label actions (capabilities
// groups, calls, labels); the OpenAPI document is generated from them like from lib/sessions/params.
import { CHAT_ID_PATTERN, CONTACT_ID_PATTERN, GROUP_ID_PATTERN } from "../whatsapp";
import { CALL_REPLY_MAX } from "./call-policy";
import { sessionIdParam, workspaceIdParam } from "./params";

/** Participants one call may add (WhatsApp allows 1,024 members per group: add more in further calls). */
export const GROUP_PARTICIPANTS_PER_CALL = 256;
/** A group picture's size, decoded. */
export const GROUP_PICTURE_MAX_BYTES = 1024 * 1024;

const ref = { $$strict: true, workspaceId: workspaceIdParam, sessionId: sessionIdParam } as const;
const groupIdParam = { type: "string", pattern: GROUP_ID_PATTERN, messages: { stringPattern: "expected a group id: <digits>@g.us (or the older <phone>-<seconds>@g.us)" } } as const;
const contactIdParam = { type: "string", pattern: CONTACT_ID_PATTERN, messages: { stringPattern: "expected a person id: a phone number, <digits>@c.us or <digits>@lid" } } as const;
const participantsParam = {
  type: "array",
  min: 1,
  max: GROUP_PARTICIPANTS_PER_CALL,
  unique: true,
  items: contactIdParam,
  messages: { arrayMax: `at most ${GROUP_PARTICIPANTS_PER_CALL} participants per call; add more in further calls`, arrayUnique: "each participant once" },
} as const;
const subjectParam = { type: "string", min: 1, max: 100, pattern: /\S/, messages: { stringPattern: "expected a subject that is not only spaces" } } as const;
const settingsParam = { type: "object", strict: true, minProps: 1, props: { announce: { type: "boolean", optional: true }, restrict: { type: "boolean", optional: true } } } as const;

export const groupRef = { ...ref, groupId: groupIdParam } as const;
export const groupParticipantRef = { ...groupRef, contactId: contactIdParam } as const;
export const createGroupParams = { ...ref, subject: subjectParam, participants: { ...participantsParam, min: 0 } } as const;
export const listGroupsParams = { ...ref, limit: { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true }, cursor: { type: "string", min: 1, max: 512, optional: true } } as const;
export const updateGroupParams = {
  ...groupRef,
  subject: { ...subjectParam, optional: true },
  description: { type: "string", max: 2048, optional: true },
  settings: { ...settingsParam, optional: true },
} as const;
export const addParticipantsParams = { ...groupRef, participants: participantsParam } as const;
export const joinGroupParams = {
  ...ref,
  code: { type: "string", pattern: /^(?:https:\/\/chat\.whatsapp\.com\/)?[A-Za-z0-9_-]{10,64}$/, messages: { stringPattern: "expected an invite code, or its https://chat.whatsapp.com/<code> link" } },
} as const;
export const groupPictureParams = {
  ...groupRef,
  mimetype: { type: "enum", values: ["image/jpeg", "image/png"] },
  data: { type: "string", min: 4, max: Math.ceil(GROUP_PICTURE_MAX_BYTES / 3) * 4, base64: true, messages: { stringBase64: "expected standard base64 (A-Z a-z 0-9 + /, padded with =)", stringMax: "the picture is larger than 1 MiB" } },
} as const;

export const callRef = { ...ref, callId: { type: "string", pattern: /^[A-Za-z0-9_-]{1,128}$/, messages: { stringPattern: "expected a call id (letters, digits, _ and -)" } } } as const;
export const callPolicyRef = ref;
export const callPolicyParams = { ...ref, autoReject: { type: "boolean" }, message: { type: "string", min: 1, max: CALL_REPLY_MAX, optional: true, nullable: true } } as const;

export const labelsParams = ref;
export const chatLabelsParams = { ...ref, chatId: { type: "string", pattern: CHAT_ID_PATTERN, messages: { stringPattern: "expected a chat id: a phone number, <digits>@c.us, <digits>@lid or a group <digits>@g.us" } } } as const;
export const chatLabelParams = { ...chatLabelsParams, labelId: { type: "string", pattern: /^[A-Za-z0-9_-]{1,64}$/, messages: { stringPattern: "expected a label id" } } } as const;
