// The fake page's calls family: WAWebCallCollection (whatsapp-web.js hooks the `set` of its
// internal Map to announce incoming calls), and the stanza path a rejection takes (WAWap builds a
// `call` stanza with a `reject` child, WADeprecatedSendIq casts it), answered as a `call_reject`
// query to the simulated network. The network's `call` updates become entries of that Map, as
// WhatsApp Web's call collection gets them. Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installCalls(page: FakePage): void {
  // whatsapp-web.js takes the collection's first Map-valued property as its call map
  const calls = { calls: new Map<string, any>(), on: () => undefined, off: () => undefined };
  let nextStanza = 1;

  const previous = page.frames.update;
  page.frames.update = async (f: any) => {
    const u = f.update;
    if (u?.kind !== "call") return previous?.(f);
    calls.calls.set(u.callId, {
      id: u.callId,
      peerJid: u.from,
      isVideo: u.isVideo,
      isGroup: u.isGroup,
      offerTime: u.timestamp,
      outgoing: false,
      canHandleLocally: false,
      webClientShouldHandle: false,
      participants: [],
    });
  };

  Object.assign(page.modules, {
    WAWebCallCollection: calls,
    WAWap: {
      wap: (tag: string, attrs: Record<string, unknown> = {}, content?: unknown) => ({ tag, attrs, content }),
      generateId: () => `fake.${nextStanza++}`,
    },
    WADeprecatedSendIq: {
      deprecatedCastStanza: async (stanza: any) => {
        const reject = Array.isArray(stanza?.content) ? stanza.content.find((c: any) => c?.tag === "reject") : undefined;
        if (stanza?.tag !== "call" || !reject) throw new Error(`the fake page casts only call rejections, not ${JSON.stringify(stanza?.tag)}`);
        const callId = String(reject.attrs["call-id"]);
        if (!(await page.query({ op: "call_reject", callId }))) throw new Error(`no call ${callId} rings this account`);
        calls.calls.delete(callId);
      },
    },
  });
}
