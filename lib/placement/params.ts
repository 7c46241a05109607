// Validation schemas (fastest-validator) for the placement (admin) actions; the gateway and the
// OpenAPI document use the same objects.
import { workspaceIdParam } from "../sessions/params";

/** Moleculer node ids (NODE_ID): 1-64 characters of A-Z a-z 0-9 . _ - */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const nodeIdParam = { type: "string", pattern: NODE_ID_PATTERN, messages: { stringPattern: "expected a node id: 1-64 characters of A-Z a-z 0-9 . _ -" } } as const;

export const clusterParams = { $$strict: true } as const;
export const drainParams = { $$strict: true, node: nodeIdParam } as const;
export const moveParams = { $$strict: true, workspaceId: workspaceIdParam, node: nodeIdParam } as const;
