// The promise an engine's start() returns, shared by both engines so their start semantics cannot
// drift: it resolves once, on the first QR or on ready; a stop, a failure or its deadline rejects
// it; a second start() while one is pending gets the same promise.

export class StartGate {
  private waiter: { promise: Promise<void>; resolve(): void; reject(err: Error): void; timer: NodeJS.Timeout } | undefined;

  /** A start waits: start() returns this while it is pending. */
  get promise(): Promise<void> | undefined {
    return this.waiter?.promise;
  }

  get pending(): boolean {
    return this.waiter !== undefined;
  }

  /** Opens the gate; `onDeadline` runs if it is neither settled nor rejected within `timeoutMs`. */
  open(timeoutMs: number, onDeadline: () => void): Promise<void> {
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.waiter = { promise, resolve, reject, timer: setTimeout(onDeadline, timeoutMs) };
    return promise;
  }

  /** The start succeeded (a QR is shown, or the session is ready). */
  settle(): void {
    const w = this.take();
    w?.resolve();
  }

  /** The start failed or was stopped. */
  reject(err: Error): void {
    const w = this.take();
    w?.reject(err);
  }

  private take() {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) clearTimeout(w.timer);
    return w;
  }
}
