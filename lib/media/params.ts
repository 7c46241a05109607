// Validation schemas of the media routes; the gateway and the OpenAPI document use the same objects.
import { workspaceIdParam } from "../sessions/params";
import { MEDIA_ID_PATTERN } from "./ids";

export const mediaIdParam = { type: "string", pattern: MEDIA_ID_PATTERN, messages: { stringPattern: "expected a mediaId (26 characters, as POST /workspaces/:workspaceId/media or an event's media descriptor gives it)" } } as const;

export const mediaUploadParams = {
  $$strict: true,
  workspaceId: workspaceIdParam,
  // eslint-disable-next-line no-control-regex
  filename: { type: "string", min: 1, max: 255, pattern: /^(?!\.{1,2}$)[^/\\\x00-\x1f]+$/, optional: true, messages: { stringPattern: "expected a file name without slashes or control characters" } },
} as const;

export const mediaParams = { $$strict: true, workspaceId: workspaceIdParam, mediaId: mediaIdParam } as const;
