// A modal confirmation (the native <dialog>: focus is trapped, Escape cancels) for what cannot be
// undone: deleting a session, logging it out, restoring a workspace, draining a node.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

interface Ask {
  title: string;
  body: ComponentChildren;
  confirm: string;
  danger?: boolean;
  resolve(ok: boolean): void;
}

export function useConfirm(): [ComponentChildren, (title: string, body: ComponentChildren, confirm: string, danger?: boolean) => Promise<boolean>] {
  const [ask, setAsk] = useState<Ask | null>(null);
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    if (ask && ref.current && !ref.current.open) ref.current.showModal();
  }, [ask]);
  const done = (ok: boolean) => {
    ref.current?.close();
    ask?.resolve(ok);
    setAsk(null);
  };
  const element = ask ? (
    <dialog ref={ref} class="dialog" aria-labelledby="confirm-title" onCancel={(e) => (e.preventDefault(), done(false))}>
      <h2 id="confirm-title">{ask.title}</h2>
      <div class="dialog-body">{ask.body}</div>
      <div class="row end">
        <button type="button" onClick={() => done(false)}>
          Cancel
        </button>
        <button type="button" class={ask.danger ? "danger" : "primary"} onClick={() => done(true)}>
          {ask.confirm}
        </button>
      </div>
    </dialog>
  ) : null;
  const open = (title: string, body: ComponentChildren, confirm: string, danger = true) => new Promise<boolean>((resolve) => setAsk({ title, body, confirm, danger, resolve }));
  return [element, open];
}
