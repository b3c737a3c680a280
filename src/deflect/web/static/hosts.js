// Host adapters: where the panel runs, and how it gets the ticket and puts a reply back.
//
// Every adapter normalises the ticket to one shape:
//   {ticket_id, subject, last_customer_message, requester: {name, email}, tags: [], conversation: [text],
//    customer_id, agent?}
// where `conversation` is the customer's messages only, as deflect's API defines it (agents' replies are not the
// customer's words, and the frustration trigger would read an agent's "sorry, still not fixed" as theirs).
// and offers insertReply(text) -> true when the host put the text into its reply box (false: copy instead).
//
// - standalone: ?q= (the question) or ?ticket= (a ticket text), or the paste box.
// - chatwoot: a Chatwoot Dashboard App. Chatwoot posts a JSON *string* {"event":"appContext","data":{conversation,
//   contact, currentAgent}} (older versions: conversation and contact only) with target "*", so the origin is
//   checked against the configured helpdesk origins; the panel asks for fresh context by posting the string
//   "chatwoot-dashboard-app:fetch-info" to its parent. Chatwoot has no documented way for an app to write into
//   the reply box, so "Use" copies.
// - zendesk: a Zendesk ticket sidebar app (ZAF): ZAFClient.init(), client.get([...ticket paths]),
//   client.invoke("comment.appendText", text). The SDK script comes from settings.zaf_sdk_url.

const EMPTY = {
  ticket_id: "",
  subject: "",
  last_customer_message: "",
  requester: null,
  tags: [],
  conversation: [],
  customer_id: "",
};
const MAX_MESSAGES = 20;
const MAX_CHARS = 2000;

function clip(text) {
  return String(text ?? "").trim().slice(0, MAX_CHARS);
}

/** Which host this page is in, from its URL (Zendesk adds origin and app_guid to its apps' iframe URLs). */
export function detectHost(url) {
  const params = new URL(url).searchParams;
  const host = params.get("host");
  if (host === "chatwoot" || host === "zendesk" || host === "standalone") return host;
  if (params.has("app_guid")) return "zendesk";
  return "standalone";
}

/** A ticket from `?q=` / `?ticket=`, or from pasted text. */
export function standaloneTicket(url) {
  const params = new URL(url).searchParams;
  const text = clip(params.get("q") || params.get("ticket") || "");
  return { ...EMPTY, ticket_id: params.get("ticket_id") || "", last_customer_message: text };
}

/** Chatwoot's appContext data -> the ticket shape. Chatwoot marks customer messages with message_type 0. */
export function chatwootTicket(data) {
  const conversation = (data && data.conversation) || {};
  const contact = (data && data.contact) || (conversation.meta && conversation.meta.sender) || {};
  const messages = (conversation.messages || []).filter((m) => m && typeof m.content === "string" && !m.private);
  const incoming = messages.filter((m) => m.message_type === 0 || m.message_type === "incoming");
  const last = incoming.length ? incoming[incoming.length - 1].content : "";
  const attrs = conversation.additional_attributes || {};
  const agent = (data && data.currentAgent) || null;
  return {
    customer_id: customerId("chatwoot", contact.id),
    ticket_id: conversation.id != null ? String(conversation.id) : "",
    subject: clip(attrs.mail_subject || attrs.subject || ""),
    last_customer_message: clip(last),
    requester: contact.name || contact.email ? { name: contact.name || "", email: contact.email || "" } : null,
    tags: Array.isArray(conversation.labels) ? conversation.labels.map(String) : [],
    conversation: incoming.slice(-MAX_MESSAGES).map((m) => clip(m.content)),
    agent: agent ? String(agent.email || agent.name || agent.id || "") : "",
  };
}

/** Zendesk comment HTML -> text, without running or loading anything (DOMParser documents are inert). */
function htmlText(value) {
  const doc = new DOMParser().parseFromString(String(value ?? ""), "text/html");
  return clip(doc.body.textContent || "");
}

/** The response of client.get([...]) -> the ticket shape. */
export function zendeskTicket(data) {
  const comments = Array.isArray(data["ticket.comments"]) ? data["ticket.comments"] : [];
  const texts = comments.map((c) => ({ text: htmlText(c.value), role: c.author && c.author.role }));
  const fromCustomer = texts.filter((c) => c.role === "end-user");
  const requester = data["ticket.requester"] || null;
  const description = clip(data["ticket.description"] || "");
  const user = data.currentUser || null;
  return {
    customer_id: customerId("zendesk", requester && requester.id),
    ticket_id: data["ticket.id"] != null ? String(data["ticket.id"]) : "",
    subject: clip(data["ticket.subject"] || ""),
    last_customer_message: fromCustomer.length ? fromCustomer[fromCustomer.length - 1].text : description,
    requester: requester ? { name: requester.name || "", email: requester.email || "" } : null,
    tags: Array.isArray(data["ticket.tags"]) ? data["ticket.tags"].map(String) : [],
    conversation: fromCustomer.slice(-MAX_MESSAGES).map((c) => c.text),
    // The agent using the app, named in the audit log (X-Actor) as Chatwoot's currentAgent is.
    agent: user ? String(user.email || user.name || user.id || "") : "",
  };
}

/**
 * The helpdesk's own id of the customer ("zendesk:5"), sent as the ask's customer_id (an agent key's is trusted):
 * repeat contacts of one customer are then seen, and their escalations listed together. Not the email: customer ids
 * are stored unscrubbed in the audit log.
 */
function customerId(host, id) {
  return id != null && String(id) !== "" ? `${host}:${String(id).slice(0, 100)}` : "";
}

class Standalone {
  constructor(win) {
    this.name = "standalone";
    this.win = win;
  }
  start(onTicket) {
    onTicket(standaloneTicket(this.win.location.href));
  }
  refresh() {}
  async insertReply() {
    return false;
  }
}

/**
 * Whether a message's origin is one of the configured helpdesk origins. An entry may name every subdomain with
 * "*." ("https://*.chatwoot.example"), exactly as the /panel CSP frame-ancestors setting does, so one setting
 * means the same to the browser's framing check and to this one; the wildcard never matches the bare domain.
 */
export function originAllowed(origin, allowed) {
  return allowed.some((entry) => {
    const star = entry.indexOf("://*.");
    if (star < 0) return entry === origin;
    const scheme = entry.slice(0, star + 3);
    const rest = entry.slice(star + 4); // ".chatwoot.example[:port]"
    return origin.startsWith(scheme) && origin.endsWith(rest) && origin.length > scheme.length + rest.length;
  });
}

class Chatwoot {
  constructor(win, origins) {
    this.name = "chatwoot";
    this.win = win;
    this.origins = origins;
  }
  start(onTicket) {
    this.win.addEventListener("message", (event) => {
      if (!originAllowed(event.origin, this.origins)) return; // Chatwoot posts to "*": anyone could, so check who did
      if (typeof event.data !== "string") return;
      let payload;
      try {
        payload = JSON.parse(event.data);
      } catch {
        return;
      }
      if (payload && payload.event === "appContext" && payload.data) onTicket(chatwootTicket(payload.data));
    });
    this.refresh();
  }
  refresh() {
    if (this.win.parent !== this.win) this.win.parent.postMessage("chatwoot-dashboard-app:fetch-info", "*");
  }
  async insertReply() {
    return false;
  }
}

const ZENDESK_PATHS = [
  "ticket.id",
  "ticket.subject",
  "ticket.description",
  "ticket.requester",
  "ticket.tags",
  "ticket.comments",
  "currentUser",
];

class Zendesk {
  constructor(win, sdkUrl) {
    this.name = "zendesk";
    this.win = win;
    this.sdkUrl = sdkUrl;
    this.client = null;
  }
  async load() {
    if (this.win.ZAFClient) return;
    await new Promise((resolve, reject) => {
      const script = this.win.document.createElement("script");
      script.src = this.sdkUrl;
      script.onload = resolve;
      script.onerror = () => reject(new Error("the Zendesk app SDK did not load"));
      this.win.document.head.append(script);
    });
  }
  async start(onTicket, onError) {
    try {
      await this.load();
      this.client = this.win.ZAFClient.init();
      this.onTicket = onTicket;
      if (this.client && this.client.on) this.client.on("ticket.updated", () => this.refresh());
      await this.refresh();
    } catch (error) {
      onError(error);
    }
  }
  async refresh() {
    if (!this.client) return;
    const data = await this.client.get(ZENDESK_PATHS);
    this.onTicket(zendeskTicket(data));
  }
  async insertReply(text) {
    if (!this.client) return false;
    await this.client.invoke("comment.appendText", text);
    return true;
  }
}

/** The adapter for this page. */
export function hostAdapter(win, config) {
  const host = detectHost(win.location.href);
  if (host === "chatwoot") return new Chatwoot(win, config.origins);
  if (host === "zendesk") return new Zendesk(win, config.zafSdkUrl);
  return new Standalone(win);
}
