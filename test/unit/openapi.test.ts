// The OpenAPI 3.1 document is generated from the route table and the validation schemas, and a
// real validator (@apidevtools/swagger-parser) accepts it.
import { buildOpenApiDocument, openapiPath, ruleToJsonSchema } from "../../lib/api/openapi";
import { ROUTES } from "../../lib/api/routes";
import { ERROR_CATALOGUE } from "../../lib/errors";
import { validateOpenApi } from "../e2e/api-harness";


const doc = buildOpenApiDocument({ version: "test" });

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    await expect(validateOpenApi(doc)).resolves.toMatch(/^valid: 3\.1\.0/);
    expect(doc.openapi).toBe("3.1.0");
  });

  it("documents every route of the table once, and nothing else", () => {
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const routes = ROUTES.map((r) => `${r.method} ${openapiPath(r)}`);
    expect(new Set(routes).size).toBe(routes.length);
    expect(documented.sort()).toEqual(routes.sort());
  });

  it("takes each operation's fields from the schema the action validates with", () => {
    const send = doc.paths["/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/messages"].post;
    const body = send.requestBody.content["application/json"].schema;
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(body.properties).sort()).toEqual(["caption", "contact", "linkPreview", "location", "media", "mentionAll", "mentions", "poll", "replyTo", "text", "to", "voice"]);
    expect(body.required).toEqual(["to"]);
    expect(body.properties.media.properties.mimetype.enum).toContain("image/png");
    expect(body.properties.media.properties.data.contentEncoding).toBe("base64");
    expect(send.parameters.map((p: any) => p.name ?? p.$ref)).toEqual(["workspaceId", "sessionId", "#/components/parameters/IdempotencyKey"]);
    expect(send.parameters[0].schema.pattern).toBe("^[A-Za-z0-9_-]{1,64}$");

    const deliveries = doc.paths["/api/v1/workspaces/{workspaceId}/webhook/deliveries"].get;
    expect(deliveries.parameters.find((p: any) => p.name === "status")).toMatchObject({ in: "query", required: false, schema: { enum: ["failed", "delivered", "pending"] } });
    expect(doc.paths["/api/v1/cluster"].get["x-wafleet-admin"]).toBe(true);
    expect(doc.paths["/api/v1/openapi.json"].get.security).toEqual([]);
    expect(doc.paths["/api/whatsapp/sessions/create"].post.requestBody.content["application/json"].schema.required).toEqual(["workspace_id"]);
  });

  it("lists every error code of the catalogue", () => {
    expect(doc.components.schemas.ErrorCode.enum).toEqual(expect.arrayContaining(Object.keys(ERROR_CATALOGUE)));
  });

  it.each([
    [{ type: "string", min: 1, max: 3, pattern: /^a+$/ }, { type: "string", minLength: 1, maxLength: 3, pattern: "^a+$" }],
    [{ type: "number", integer: true, min: 0, convert: true, optional: true }, { type: "integer", minimum: 0 }],
    [{ type: "string", optional: true, nullable: true }, { type: ["string", "null"] }],
    [{ type: "array", items: { type: "enum", values: ["a", "b"] }, unique: true, max: 2 }, { type: "array", items: { enum: ["a", "b"] }, uniqueItems: true, maxItems: 2 }],
    [{ type: "record", key: { type: "string" }, value: { type: "number" } }, { type: "object", propertyNames: { type: "string" }, additionalProperties: { type: "number" } }],
    [{ type: "multi", rules: [{ type: "string" }, { type: "number", integer: true }] }, { oneOf: [{ type: "string" }, { type: "integer" }] }],
    [{ type: "object", strict: true, props: { a: { type: "boolean" }, b: { type: "string", optional: true } } }, { type: "object", properties: { a: { type: "boolean" }, b: { type: "string" } }, required: ["a"], additionalProperties: false }],
  ])("converts the rule %j", (rule, schema) => {
    expect(ruleToJsonSchema(rule)).toEqual(schema);
  });
});
