// The fake page's groups family: each group chat's `groupMetadata` (WAWebCollections.GroupMetadata,
// refreshed from the network's `group` query, as whatsapp-web.js asks before reading it), chat.iAmAdmin,
// WAWebLidMigrationUtils.toPn, and the jobs and actions whatsapp-web.js's group methods call:
// WAWebGroupCreateJob, WAWebGroupQueryJob (metadata, invite reset), WASmaxGroupsAddParticipantsRPC
// with WAWebWidToJid, WAWebModifyParticipantsGroupAction, WAWebGroupModifyInfoJob,
// WAWebSetPropertyGroupAction, WAWebMexFetchGroupInviteCodeJob, WAWebExitGroupAction,
// WAWebGroupInviteJob, the group picture (WAWebCollections.ProfilePicThumb and
// WAWebContactProfilePicThumbBridge's sendSetPicture / requestDeletePicture /
// requestProfilePicFromServer). Every one is a `query` frame to the simulated network, which keeps
// the truth; a refusal is WhatsApp Web's ServerStatusCodeError. The network's `group` updates
// refresh the group and become `gp2` notification messages (what the client's group_join,
// group_leave, group_admin_changed and group_update events come from), with their author.
// Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installGroups(page: FakePage): void {
  const { Model, Collection, MsgKey, createWid } = page;
  const Msg = page.Msg;
  const Chat = page.Chat;

  /** WhatsApp Web's error for a refused group IQ (whatsapp-web.js checks `err.name`). */
  const serverError = (status: number, what: string) => Object.assign(new Error(`ServerStatusCodeError: ${status} ${what}`), { name: "ServerStatusCodeError", statusCode: status });
  /** A group query; the network's refusals as WhatsApp's status codes. */
  const ask = async (q: Record<string, unknown>) => {
    try {
      const r = await page.query(q);
      if (r === null) throw serverError(404, `${String(q.op)}: not found`);
      return r;
    } catch (e: any) {
      if (e?.name === "ServerStatusCodeError") throw e;
      const m = String(e?.message ?? e);
      if (m.startsWith("NOT_ADMIN")) throw serverError(403, m);
      if (m.startsWith("GROUP_FULL")) throw serverError(419, m);
      if (m.startsWith("VALIDATION_ERROR")) throw serverError(400, m);
      throw e;
    }
  };

  function participantsCollection(list: Array<{ id: string; admin: boolean; superAdmin: boolean }>) {
    const parts = new Collection(Model) as any;
    for (const p of list) parts.add(new Model({ id: createWid(p.id), isAdmin: p.admin, isSuperAdmin: p.superAdmin }));
    parts.serialize = () => parts.getModelsArray().map((m: any) => m.serialize());
    return parts;
  }

  /** The group chat with WhatsApp Web's metadata model (empty until the network tells). */
  function attach(chat: any) {
    if (chat.groupMetadata) return chat.groupMetadata;
    const meta = new Model({ id: chat.id, owner: undefined, subject: chat.formattedTitle, desc: "", descId: undefined, creation: 0, participants: participantsCollection([]), announce: false, restrict: false, isLidAddressingMode: false }) as any;
    chat.groupMetadata = meta;
    chat.iAmAdmin = () => !!page.me && meta.participants.get(page.me)?.get("isAdmin") === true;
    return meta;
  }

  // every group chat has metadata, however WhatsApp Web came to open it
  const chatFor = page.chatFor;
  page.chatFor = (wid: any) => {
    const chat = chatFor(wid);
    if (wid.isGroup()) attach(chat);
    return chat;
  };

  /** The network's view of a group (or null: the account is not a member) applied to its chat. */
  function apply(groupId: string, g: any) {
    const chat = page.chatFor(createWid(groupId));
    const meta = attach(chat);
    if (!g) {
      meta.set({ participants: participantsCollection([]) });
      return chat;
    }
    meta.set({ owner: createWid(g.owner), subject: g.subject, desc: g.description, descId: g.description ? `desc-${g.createdAt}-${g.description.length}` : undefined, creation: g.createdAt, participants: participantsCollection(g.participants), announce: g.settings.announce, restrict: g.settings.restrict });
    chat.set({ formattedTitle: g.subject, name: g.subject });
    return chat;
  }

  const refresh = async (groupId: string) => apply(groupId, await page.query({ op: "group", groupId }));
  const idOf = (w: any) => (typeof w === "string" ? w : w._serialized);

  // the account's groups, as WhatsApp Web syncs them at login
  page.onReady.push(async () => {
    let before: string | undefined;
    for (;;) {
      const got = await page.query({ op: "groups", limit: 100, ...(before !== undefined ? { before } : {}) });
      if (!got) return;
      for (const g of got.items) {
        apply(g.id, g);
        await pictureKnown(g.id);
      }
      if (got.next === undefined) return;
      before = got.next;
    }
  });

  /** A network group change as WhatsApp Web's `gp2` notification subtype. */
  const SUBTYPES: Record<string, string> = { create: "create", join: "invite", add: "add", leave: "leave", remove: "remove", promote: "promote", demote: "demote", subject: "subject", description: "description", picture: "picture", invite_revoked: "revoke_invite" };

  const previous = page.frames.update;
  page.frames.update = async (f: any) => {
    const u = f.update;
    if (u?.kind !== "group") return previous?.(f);
    const chat = page.chatFor(createWid(u.groupId));
    const before = { announce: chat.groupMetadata.announce, restrict: chat.groupMetadata.restrict };
    const chatNow = await refresh(u.groupId);
    if (["create", "join", "add", "picture"].includes(u.change) && page.me && chatNow.groupMetadata.participants.get(page.me)) await pictureKnown(u.groupId);
    let subtype = SUBTYPES[u.change];
    if (u.change === "settings") subtype = u.value?.announce !== before.announce ? "announce" : "restrict";
    if (!subtype) throw new Error(`no gp2 notification for a group's ${u.change}`);
    const by = createWid(u.by);
    const fromMe = !!page.me && by.equals(page.me);
    const id = await MsgKey.newId();
    const body = typeof u.value === "string" ? u.value : u.change === "settings" ? (u.value?.[subtype] ? "on" : "off") : "";
    await page.whenListening(() => {
      Msg.add(
        new Model({
          id: new MsgKey({ fromMe, remote: u.groupId, id, participant: by }),
          type: "gp2",
          subtype,
          body,
          t: Math.floor(Date.now() / 1000),
          from: createWid(u.groupId),
          to: page.me,
          author: by,
          recipients: (u.participants ?? []).map((p: string) => createWid(p)),
          self: fromMe ? "out" : "in",
          ack: 1,
          isNewMsg: true,
          local: false,
        }),
      );
    });
  };

  const pictureOf = async (groupId: string) => (await page.query({ op: "group_picture", groupId })) as { mimetype: string; data: string } | null;
  /**
   * Each group's ProfilePicThumb, as WhatsApp Web keeps one per chat: `img` the picture (a data
   * URL here), kept current from the network; whether the account may set or delete it (a member;
   * an admin when only admins edit info).
   */
  const thumbs = new Map<string, any>();
  const thumbFor = (id: any) => {
    const wid = createWid(id);
    let thumb = thumbs.get(wid._serialized);
    if (!thumb) {
      thumb = new Model({ id: wid, img: undefined }) as any;
      const may = () => {
        const chat = Chat.get(wid);
        const meta = chat?.groupMetadata;
        return !!meta && !!page.me && !!meta.participants.get(page.me) && (!meta.restrict || chat.iAmAdmin());
      };
      thumb.canSet = may;
      thumb.canDelete = () => may() && !!thumb.img;
      thumbs.set(wid._serialized, thumb);
    }
    return thumb;
  };
  const pictureKnown = async (groupId: string) => {
    const p = await pictureOf(groupId);
    thumbFor(groupId).set({ img: p ? `data:${p.mimetype};base64,${p.data}` : undefined });
  };
  const thumbOf = async (id: any) => {
    const wid = createWid(id);
    if (!wid.isGroup()) return undefined;
    await refresh(wid._serialized);
    await pictureKnown(wid._serialized);
    return thumbFor(wid);
  };
  /** `data:image/jpeg;base64,...` as the network's picture */
  const pictureFromDataUrl = (url: string) => {
    const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
    if (!m) throw new Error("the picture is not a base64 data URL");
    return { mimetype: m[1], data: m[2] };
  };

  const bridge = page.modules.WAWebContactProfilePicThumbBridge;
  const contactPicture = bridge.requestProfilePicFromServer;
  Object.assign(bridge, {
    requestProfilePicFromServer: async (chat: any) => {
      if (!chat.id.isGroup()) return contactPicture(chat);
      const p = await pictureOf(chat.id._serialized);
      if (!p) throw serverError(404, "no picture");
      // WhatsApp Web gets a URL on its picture servers; the page gives the picture itself
      return { eurl: `data:${p.mimetype};base64,${p.data}`, tag: "fake" };
    },
    sendSetPicture: async (wid: any, _thumbnail: string, picture: string) => {
      await ask({ op: "group_picture_set", groupId: createWid(wid)._serialized, picture: pictureFromDataUrl(picture) });
      thumbFor(wid).set({ img: picture });
      return { status: 200 };
    },
    requestDeletePicture: async (wid: any) => {
      await ask({ op: "group_picture_set", groupId: createWid(wid)._serialized, picture: null });
      thumbFor(wid).set({ img: undefined });
      return { status: 200 };
    },
  });

  /** The network's participant outcome as WhatsApp's add status code. */
  const CODES: Record<string, number> = { added: 200, invite_sent: 403, not_on_whatsapp: 404, already_member: 409 };
  const participantsOf = (list: any[]) => list.map((p) => idOf(p.id ?? p));

  Object.assign(page.modules.WAWebCollections, {
    GroupMetadata: {
      update: async (wid: any) => (await refresh(createWid(wid)._serialized)).groupMetadata,
      get: (wid: any) => Chat.get(wid)?.groupMetadata,
      find: async (wid: any) => (await refresh(createWid(wid)._serialized)).groupMetadata,
    },
    ProfilePicThumb: { get: (id: any) => (createWid(id).isGroup() ? thumbFor(id) : undefined), find: thumbOf },
  });
  const contactGadd = page.Contact.gadd;
  page.Contact.gadd =
    contactGadd ??
    ((wid: any) => {
      const w = createWid(wid);
      return page.Contact.get(w) ?? page.Contact.add(new Model({ id: w, type: "in", isBusiness: false, isEnterprise: false }));
    });

  Object.assign(page.modules, {
    WAWebLidMigrationUtils: { toPn: (wid: any) => (createWid(wid).isLid() ? page.modules.WAWebApiContact.getPhoneNumber(createWid(wid)) : createWid(wid)) },
    WAWebWidToJid: { widToGroupJid: (wid: any) => createWid(wid)._serialized, widToUserJid: (wid: any) => createWid(wid).toJid() },
    WAWebGroupCreateJob: {
      createGroup: async (opts: any, participants: Array<{ phoneNumber: any }>) => {
        const r = await ask({ op: "group_create", subject: opts.title, participants: participants.map((p) => createWid(p.phoneNumber)._serialized) });
        apply(r.group.id, r.group);
        return {
          wid: createWid(r.group.id),
          subject: r.group.subject,
          participants: r.participants.map((p: any) => ({ wid: createWid(p.id), error: p.status === "added" ? undefined : CODES[p.status] ?? 400, type: "participant" })),
        };
      },
    },
    WAWebGroupQueryJob: {
      queryAndUpdateGroupMetadataById: async ({ id }: { id: any }) => (await refresh(idOf(id))).groupMetadata,
      resetGroupInviteCode: async (wid: any) => ({ code: await ask({ op: "group_revoke_invite", groupId: createWid(wid)._serialized }) }),
    },
    WASmaxGroupsAddParticipantsRPC: {
      sendAddParticipantsRPC: async ({ participantArgs, iqTo }: { participantArgs: Array<{ participantJid: string }>; iqTo: string }) => {
        const ids = participantArgs.map((a) => a.participantJid.replace(/@s\.whatsapp\.net$/, "@c.us"));
        const results = await ask({ op: "group_participants", groupId: iqTo, action: "add", participants: ids });
        await refresh(iqTo);
        return {
          name: "AddParticipantsResponseSuccess",
          value: {
            addParticipant: results.map((p: any) => ({
              addParticipantsParticipantAddedOrNonRegisteredWaUserParticipantErrorLidResponseMixinGroup: {
                value: { addParticipantsParticipantMixins: { name: p.status === "invite_sent" ? "ParticipantRequestCodeCanBeSent" : "ParticipantAddedOrNonRegisteredWaUser", value: p.status === "added" ? {} : { error: String(CODES[p.status] ?? 400) } } },
              },
            })),
          },
        };
      },
    },
    WAWebModifyParticipantsGroupAction: Object.fromEntries(
      (["remove", "promote", "demote"] as const).map((action) => [
        `${action}Participants`,
        async (chat: any, participants: any[]) => {
          if (!participants.length) return;
          await ask({ op: "group_participants", groupId: chat.id._serialized, action, participants: participantsOf(participants) });
          await refresh(chat.id._serialized);
        },
      ]),
    ),
    WAWebGroupModifyInfoJob: {
      setGroupSubject: async (wid: any, subject: string) => {
        await ask({ op: "group_update", groupId: createWid(wid)._serialized, subject });
        await refresh(createWid(wid)._serialized);
      },
      setGroupDescription: async (wid: any, description: string) => {
        await ask({ op: "group_update", groupId: createWid(wid)._serialized, description });
        await refresh(createWid(wid)._serialized);
      },
    },
    WAWebSetPropertyGroupAction: {
      setGroupProperty: async (chat: any, property: string, value: number) => {
        const setting = property === "announcement" ? "announce" : property === "restrict" ? "restrict" : undefined;
        if (!setting) throw new Error(`the fake page sets only the announcement and restrict properties, not ${property}`);
        await ask({ op: "group_update", groupId: chat.id._serialized, settings: { [setting]: value === 1 } });
        await refresh(chat.id._serialized);
      },
    },
    WAWebMexFetchGroupInviteCodeJob: { fetchMexGroupInviteCode: async (groupId: any) => ({ code: await ask({ op: "group_invite", groupId: idOf(groupId) }) }) },
    WAWebExitGroupAction: {
      sendExitGroup: async (chat: any) => {
        await ask({ op: "group_leave", groupId: chat.id._serialized });
        await refresh(chat.id._serialized);
      },
    },
    WAWebGroupInviteJob: {
      joinGroupViaInvite: async (code: string) => {
        const g = await ask({ op: "group_join", code });
        apply(g.id, g);
        return { gid: createWid(g.id) };
      },
    },
  });
}
