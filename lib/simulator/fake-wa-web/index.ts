// The fake WhatsApp Web page for the real wwebjs engine (DESIGN section 4): built into
// `<dir>/<version>.html`, which whatsapp-web.js serves for https://web.whatsapp.com/ when given
// `webVersion` + `webVersionCache: {type: 'local', path: dir, strict: true}`. The page connects to
// the simulated network named in `window.__wafleetFakeWaWeb` (set by `fakePageBootScript`). Its
// script is one module per family of WhatsApp Web modules (runtime, connection, linking,
// collections, media, messaging, message actions, presence, contacts, calls, labels, groups), each a function serialised into the page.
import { promises as fs } from "node:fs";
import path from "node:path";
import { installCalls } from "./calls";
import { installCollections } from "./collections";
import { installConnection } from "./connection";
import { installContacts } from "./contacts";
import { installGroups } from "./groups";
import { installLabels } from "./labels";
import { installLinking } from "./linking";
import { installMedia } from "./media";
import { installMessageActions } from "./message-actions";
import { installMessaging } from "./messaging";
import { installPresence } from "./presence";
import type { FakePageConfig } from "./runtime";
import { fakePageRuntime, startFakePage } from "./runtime";

export type { FakePageConfig } from "./runtime";

/** The families in install order (later ones use what earlier ones put on the page). */
const FAMILIES = [installConnection, installLinking, installCollections, installMedia, installMessaging, installMessageActions, installPresence, installContacts, installCalls, installLabels, installGroups];

/** The version the fake page claims (`window.Debug.VERSION`); any string works as the file name. */
export const FAKE_WA_WEB_VERSION = "2.3000.1017054665-wafleet-fake";

/**
 * The modules whatsapp-web.js 1.34.7 asks `window.require` for on the paths wafleet uses (QR and
 * pairing-code login, restore, send text and media, receive text and media, acks, logout, conflict). The first group is
 * implemented; the second is optional (the client checks for `undefined`), so the page answers
 * `undefined` for them. A library upgrade that asks for anything else shows up in the page's
 * `__fakeWaWeb.unknown` list, and the tests fail on it.
 */
export const FAKE_PAGE_MODULES = [
  // connection.ts
  "WAWebSocketModel",
  "WAWebCmd",
  "WAWebConnModel",
  "WAWebStreamModel",
  "WAWebOfflineHandler",
  // linking.ts
  "WAWebAltDeviceLinkingApi",
  "WABase64",
  "WAWebCompanionRegClientUtils",
  "WAWebAdvSignatureApi",
  "WAWebUserPrefsInfoStore",
  "WAWebSignalStoreApi",
  "WAWebUserPrefsMultiDevice",
  "WAWebUserPrefsMeUser",
  // collections.ts
  "WAWebCollections",
  "WAWebSyncGatingUtils",
  "WAWebWidFactory",
  "WAWebQueryExistsJob",
  "WAWebFindChatAction",
  "WAWebChatGetters",
  // messaging.ts
  "WAWebUpdateUnreadChatAction",
  "WALinkify",
  "WAWebMsgKey",
  "WAWebGetEphemeralFieldsMsgActionsUtils",
  "WAWebSendMsgChatAction",
  "WAWebMsgReply",
  "WAWebVcardParsingUtils",
  "WAWebVcardGetNameFromParsed",
  // message-actions.ts: reactions, edits, revokes, read, chat state, the reaction table
  "WAWebSendReactionMsgAction",
  "WAWebSendMessageEditAction",
  "WAWebMsgActionCapability",
  "WAWebChatStateBridge",
  "WAWebAddonReactionTableMode",
  "WAWebAddonPollVoteTableMode",
  "WAWebChatLoadMessages",
  // presence.ts: contacts' chat states (read by the wwebjs engine, not by the library)
  "WAWebPresenceCollection",
  // contacts.ts: lookups, LIDs, contact getters, block list and actions, about, picture
  "WAWebApiContact",
  "WAWebContactGetters",
  "WAWebFrontendContactGetters",
  "WAWebContactStatusBridge",
  "WAWebContactProfilePicThumbBridge",
  "WAWebBlockContactUtils",
  "WAWebBlockContactAction",
  // media.ts: upload on send, download on receive
  "WAWebMediaOpaqueData",
  "WAWebPrepRawMedia",
  "WAWebMediaStorage",
  "WAWebMmsMediaTypes",
  "WAWebMediaDataUtils",
  "WAWebMediaMmsV4Upload",
  "WAWebDownloadManager",
  // calls.ts: incoming calls, rejecting one
  "WAWebCallCollection",
  "WAWap",
  "WADeprecatedSendIq",
  // groups.ts: metadata, create, participants, info and settings, invites, leave, picture
  "WAWebLidMigrationUtils",
  "WAWebWidToJid",
  "WAWebGroupCreateJob",
  "WAWebGroupQueryJob",
  "WASmaxGroupsAddParticipantsRPC",
  "WAWebModifyParticipantsGroupAction",
  "WAWebGroupModifyInfoJob",
  "WAWebSetPropertyGroupAction",
  "WAWebMexFetchGroupInviteCodeJob",
  "WAWebExitGroupAction",
  "WAWebGroupInviteJob",
] as const;

export const FAKE_PAGE_OPTIONAL_MODULES = ["WAWebBackendJobsCommon", "WAWebE2EProtoUtils"] as const;

/**
 * Chromium flags the fake page needs: it is served as https://web.whatsapp.com/ and opens a
 * WebSocket to the network on a loopback address, which Local Network Access checks would block.
 */
export const FAKE_PAGE_CHROME_ARGS: readonly string[] = ["--disable-features=LocalNetworkAccessChecks"];

export interface FakePageBuildOptions {
  version?: string;
  /**
   * A URL whose script the page loads synchronously before anything else: pointed at a server that
   * never answers, the page's `load` never fires (whatsapp-web.js waits for it with no timeout).
   */
  blockingScriptUrl?: string;
}

/** The page's HTML, every script inline (only https://web.whatsapp.com/ itself is intercepted). */
export function buildFakePage(opts: FakePageBuildOptions = {}): string {
  const version = opts.version ?? FAKE_WA_WEB_VERSION;
  const blocking = opts.blockingScriptUrl ? `<script src="${encodeURI(opts.blockingScriptUrl)}"></script>\n` : "";
  const install = FAMILIES.map((f) => `(${f.toString()})(page);`).join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>WhatsApp (wafleet fake)</title><link rel="icon" href="data:,">
${blocking}<script>
"use strict";
{
const page = (${fakePageRuntime.toString()})(${JSON.stringify(version)});
${install}
(${startFakePage.toString()})(page, ${JSON.stringify([...FAKE_PAGE_OPTIONAL_MODULES])});
}
</script></head><body></body></html>
`;
}

/** Writes `<dir>/<version>.html` and returns the options that point whatsapp-web.js at it. */
export async function writeFakePage(dir: string, opts: FakePageBuildOptions = {}): Promise<{ webVersion: string; webVersionCache: { type: "local"; path: string; strict: true }; extraChromeArgs: readonly string[] }> {
  const version = opts.version ?? FAKE_WA_WEB_VERSION;
  if (!/^[A-Za-z0-9._-]+$/.test(version)) throw new Error(`Not a usable fake WhatsApp Web version: ${version}`);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${version}.html`);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, buildFakePage(opts));
  await fs.rename(tmp, file);
  return { webVersion: version, webVersionCache: { type: "local", path: dir, strict: true }, extraChromeArgs: FAKE_PAGE_CHROME_ARGS };
}

/** The script (for whatsapp-web.js's `evalOnNewDoc`) that tells the page where the network is. */
export function fakePageBootScript(config: FakePageConfig): string {
  return `window.__wafleetFakeWaWeb = ${JSON.stringify(config)};`;
}
