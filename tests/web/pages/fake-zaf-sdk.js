// Test stand-in for Zendesk's ZAF SDK (zaf_sdk.min.js), loaded by the panel from settings.zaf_sdk_url in the
// browser tests only. It offers the documented ZAFClient calls the panel uses (init, get, invoke, on) and
// forwards them to zendesk-parent.html, which answers like a Zendesk ticket. It does not reproduce the SDK's own
// wire protocol, which is Zendesk's.
(function () {
  const pending = new Map();
  let next = 0;
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.source !== window.parent || !data || data.fakeZaf !== true || !pending.has(data.id)) return;
    pending.get(data.id)(data.result);
    pending.delete(data.id);
  });
  function call(message) {
    return new Promise((resolve) => {
      const id = ++next;
      pending.set(id, resolve);
      window.parent.postMessage({ fakeZaf: true, id, ...message }, "*");
    });
  }
  window.ZAFClient = {
    init() {
      return {
        get: (paths) => call({ method: "get", paths: Array.isArray(paths) ? paths : [paths] }),
        invoke: (name, ...args) => call({ method: "invoke", name, args }),
        on: () => {},
      };
    },
  };
})();
