// Validation schemas (fastest-validator) of the backup actions; the admin REST routes and the
// OpenAPI document use the same objects.
import { workspaceIdParam } from "../sessions/params";

export const snapshotIdParam = { type: "string", pattern: /^\d{8}T\d{9}Z-[0-9a-f]{4}$/, messages: { stringPattern: "expected a snapshot id like 20261129T020000123Z-1a2b" } } as const;

export const backupEmptyParams = { $$strict: true } as const;
export const snapshotParams = { $$strict: true, snapshot: snapshotIdParam } as const;
export const verifyParams = { $$strict: true, snapshot: { ...snapshotIdParam, optional: true } } as const;
export const restoreParams = { $$strict: true, snapshot: snapshotIdParam, workspaceId: { ...workspaceIdParam, optional: true } } as const;
