// aws-local-stepfunctions 3.0.0 calls Promise.withResolvers, which Node.js has
// from version 22; vocagno runs on Node.js 20, so the standard method is
// added here (same contract: a promise and its resolve and reject functions).
// NOTE: remove once the project's minimum Node.js version is 22.
if (typeof (Promise as unknown as Record<string, unknown>).withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((onResolve, onReject) => {
        resolve = onResolve;
        reject = onReject;
      });
      return { promise, resolve, reject };
    },
  });
}
