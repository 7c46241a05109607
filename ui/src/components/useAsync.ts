// Loading state for one request at a time, with the error kept for display.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { describe } from "../api/client";

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: string; failure: unknown; loading: boolean; reload(): Promise<void>; set(v: T): void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState("");
  const [failure, setFailure] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const v = await load();
      if (mine === seq.current) {
        setData(v);
        setError("");
        setFailure(undefined);
      }
    } catch (err) {
      if (mine === seq.current) {
        setError(describe(err));
        setFailure(err);
      }
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    setData(undefined);
    void reload();
  }, [reload]);
  return { data, error, failure, loading, reload, set: setData };
}

/** Runs an action (a button's click), keeping "busy" and the last error or success message. */
export function useAction(): { busy: string; error: string; message: string; run(name: string, fn: () => Promise<string | void>): Promise<boolean>; clear(): void } {
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const [message, setMessage] = useState("");
  const run = async (name: string, fn: () => Promise<string | void>) => {
    setBusy(name);
    setError("");
    setMessage("");
    try {
      const m = await fn();
      if (m) setMessage(m);
      return true;
    } catch (err) {
      setError(describe(err));
      return false;
    } finally {
      setBusy("");
    }
  };
  return { busy, error, message, run, clear: () => (setError(""), setMessage("")) };
}
