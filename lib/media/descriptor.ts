// What an event and an API answer say about a stored media object: the descriptor. The bytes stay
// in the media store; `url` is the API route that streams them.
import { API_BASE } from "../api/routes";

export interface MediaDescriptor {
  mediaId: string;
  mimetype: string;
  /** Bytes. */
  size: number;
  /** Hex SHA-256 of the bytes (also the download's ETag). */
  sha256: string;
  filename?: string;
  /** GET it with an API key of the workspace: `/api/v1/workspaces/:w/media/:mediaId` (relative to the API's base URL). */
  url: string;
  /** With MEDIA_PRESIGN_SECONDS on an S3 store: a URL that reads the bytes without a key, until presignedUntil. */
  presignedUrl?: string;
  presignedUntil?: string;
}

/** The descriptor's stored form (`<mediaId>.json` beside the bytes): what the API does not show. */
export interface StoredMedia extends MediaDescriptor {
  workspaceId: string;
  /** The session that received it; absent for uploads. */
  sessionId?: string;
  createdAt: string;
}

export function mediaUrl(workspaceId: string, mediaId: string): string {
  return `${API_BASE}/workspaces/${encodeURIComponent(workspaceId)}/media/${mediaId}`;
}

export function descriptorOf(m: StoredMedia): MediaDescriptor {
  return { mediaId: m.mediaId, mimetype: m.mimetype, size: m.size, sha256: m.sha256, ...(m.filename ? { filename: m.filename } : {}), url: m.url };
}
