// Sending from a session: text, or a file (sent as base64 media with its type and name, and a
// caption). Each send carries an Idempotency-Key, so a retry after a lost answer never sends twice.
import { useState } from "preact/hooks";
import { api, ok } from "../api/client";
import type { paths } from "../api/openapi.gen";
import { Notice } from "../components/Notice";
import { useAction } from "../components/useAsync";

/** The media types the API takes (its own enum, from the OpenAPI document); it refuses others with a clear error. */
type SendBody = NonNullable<paths["/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/messages"]["post"]["requestBody"]>["content"]["application/json"];
type Mimetype = NonNullable<SendBody["media"]>["mimetype"];

export function base64Of(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function SendForm({ workspaceId, sessionId, to: fixedTo, replyTo, onSent }: { workspaceId: string; sessionId: string; to?: string; replyTo?: string; onSent?(sent: { id: string; to: string; body: string; ack: string; timestamp: number; filename?: string }): void }) {
  const [to, setTo] = useState("");
  const [text, setText] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [fileKey, setFileKey] = useState(0);
  const action = useAction();

  const submit = (e: Event) => {
    e.preventDefault();
    void action.run("send", async () => {
      const target = (fixedTo ?? to).trim();
      let body: SendBody;
      if (file) {
        body = { to: target, media: { mimetype: (file.type || "application/octet-stream") as Mimetype, data: base64Of(await file.arrayBuffer()), filename: file.name }, ...(text ? { caption: text } : {}) };
      } else body = { to: target, text };
      const sent = await ok(
        api.POST("/api/v1/workspaces/{workspaceId}/sessions/{sessionId}/messages", {
          params: { path: { workspaceId, sessionId }, header: { "Idempotency-Key": crypto.randomUUID() } },
          body: replyTo ? ({ ...body, replyTo } as SendBody) : body,
        }),
      );
      setText("");
      setFile(null);
      setFileKey((k) => k + 1);
      onSent?.({ id: sent.id, to: sent.to, body: text, ack: sent.ack, timestamp: sent.timestamp, filename: file?.name });
      return `Sent to ${sent.to} (${sent.ack}).`;
    });
  };

  return (
    <section class="card" aria-labelledby={`send-title-${sessionId}`}>
      <h2 id={`send-title-${sessionId}`}>{fixedTo ? "Reply" : "Send a message"}</h2>
      <form class="stack" method="post" onSubmit={submit}>
        {!fixedTo && (
          <>
            <label for="send-to">To (phone number or chat id)</label>
            <input id="send-to" inputMode="tel" placeholder="15550002222" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} required />
          </>
        )}
        <label for={`send-text-${sessionId}`}>{file ? "Caption (optional)" : "Message"}</label>
        <textarea id={`send-text-${sessionId}`} rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} required={!file} />
        <label for={`send-file-${sessionId}`}>File (optional)</label>
        <input id={`send-file-${sessionId}`} key={fileKey} type="file" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
        <div>
          <button type="submit" class="primary" disabled={action.busy !== ""}>
            {action.busy ? "Sending…" : "Send"}
          </button>
        </div>
      </form>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.message && <Notice kind="ok">{action.message}</Notice>}
    </section>
  );
}
