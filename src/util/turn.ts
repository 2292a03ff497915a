// Yielding the event loop between slices of work done on the calling thread.

/** Resolves after the event loop has polled for I/O once (setImmediate). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
