// The agent side panel: ticket context from the host, a streamed cited answer, and the actions around it.
// Plain ES modules, no build step: what runs is what is in this folder.

import { hostAdapter } from "./hosts.js";
import { citationHref, plainText, renderMarkdown } from "./markdown.js";
import { getJson, getPage, postJson, streamEvents } from "./sse.js";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "deflect.panel.key";
const ESCALATE_PHRASE = "Please escalate this to a person.";
const QUEUE_PAGE = 20;

const REASONS = {
  low_confidence: "The best knowledge-base match is not confident enough to answer.",
  no_relevant_source: "No relevant source was found in the knowledge base.",
  no_answer_text: "The sources found do not contain an answer sentence.",
  unknown_name: "The question names something the knowledge base never mentions.",
  index_unavailable: "The knowledge base could not be searched just now.",
  human_requested: "The customer asked for a person.",
  frustration: "The customer sounds frustrated.",
  repeat_contact: "The customer has contacted us about this before.",
};

export function reasonText(code) {
  if (REASONS[code]) return REASONS[code];
  if (code.startsWith("risk_topic:")) {
    return `Risk topic "${code.slice(11).replace(/_/g, " ")}": always handled by a person.`;
  }
  return code.replace(/_/g, " ");
}

const state = {
  key: localStorage.getItem(KEY_STORE) || "",
  adapter: null,
  ticket: null,
  agent: "",
  result: null, // {id, decision, answer, citations, escalation_id, draft_answer, reasons, confidence}
  escalation: null,
  vote: null,
  voted: false, // a vote on this result was stored (sent, or counted by "Use")
};

function headers() {
  const h = { Authorization: `Bearer ${state.key}` };
  if (state.agent) h["X-Actor"] = state.agent.slice(0, 100);
  return h;
}

function say(text, kind = "info") {
  const status = $("status");
  status.textContent = text;
  status.dataset.kind = kind;
}

function problem(error) {
  if (error && error.status === 401) {
    showSettings(true);
    return "deflect refused the API key: enter an agent key.";
  }
  return error && error.message ? error.message : "Something went wrong.";
}

function showSettings(open) {
  $("settings").hidden = !open;
  $("settings-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("api-key").focus();
}

// --- ticket context ---------------------------------------------------------------------------------------------

/** A labelled value appended to a <dl>, as text; empty values are left out. */
function fact(dl, label, value) {
  if (!value) return;
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

function showTicket(ticket) {
  state.ticket = ticket;
  const facts = $("ticket-facts");
  facts.replaceChildren();
  const add = (label, value) => fact(facts, label, value);
  add("Ticket", ticket.ticket_id);
  add("Subject", ticket.subject);
  if (ticket.requester) add("Requester", [ticket.requester.name, ticket.requester.email].filter(Boolean).join(" · "));
  add("Tags", (ticket.tags || []).join(", "));
  add("Last message", ticket.last_customer_message);
  const any = facts.childElementCount > 0;
  facts.hidden = !any;
  $("ticket-empty").hidden = any;
  const question = $("question");
  if (ticket.last_customer_message && !question.dataset.edited) question.value = ticket.last_customer_message;
}

// --- asking -----------------------------------------------------------------------------------------------------

function citationLink(citations) {
  return (n) => {
    const c = citations.find((x) => x.n === n);
    if (!c) return null;
    const a = document.createElement("a");
    a.href = `#cite-${n}`;
    a.className = c.audience === "internal" ? "cite internal" : "cite";
    a.textContent = `[${n}]`;
    a.setAttribute("aria-label", `source ${n}${c.audience === "internal" ? ", internal" : ""}`);
    return a;
  };
}

/** A source's title as text: a link opening in a new tab when its url is safe to follow, plain otherwise. */
function pageTitle(source) {
  const href = citationHref(source.url, location.href); // the panel is served by deflect itself
  const title = document.createElement(href ? "a" : "span");
  title.textContent = source.title || source.source_id;
  if (href) {
    title.href = href;
    title.target = "_blank";
    title.rel = "noopener noreferrer";
  }
  return title;
}

function renderAnswer(target, text, citations) {
  target.replaceChildren(renderMarkdown(text, { cite: citationLink(citations) }));
}

function showCitations(citations, related) {
  const list = $("citations");
  list.replaceChildren();
  for (const c of citations) {
    const li = document.createElement("li");
    li.id = `cite-${c.n}`;
    li.value = c.n;
    li.append(pageTitle(c));
    if (c.audience === "internal") {
      li.classList.add("internal");
      const badge = document.createElement("span");
      badge.className = "badge internal";
      badge.textContent = "Internal";
      li.append(" ", badge);
    }
    const id = document.createElement("span");
    id.className = "muted source-id";
    id.textContent = c.source_id;
    li.append(" ", id);
    list.append(li);
  }
  $("no-sources").hidden = citations.length > 0;
  const internal = citations.filter((c) => c.audience === "internal");
  const warning = $("internal-warning");
  warning.hidden = internal.length === 0;
  warning.textContent = internal.length
    ? `Cites internal ${internal.length === 1 ? "source" : "sources"} ${internal.map((c) => `[${c.n}]`).join(" ")}: ` +
      "do not send this to a customer as it is."
    : "";
  const box = $("related-box");
  const ul = $("related");
  ul.replaceChildren();
  for (const r of related || []) {
    const li = document.createElement("li");
    li.textContent = r.title || r.source_id;
    if (r.audience === "internal") {
      const badge = document.createElement("span");
      badge.className = "badge internal";
      badge.textContent = "Internal";
      li.append(" ", badge);
    }
    ul.append(li);
  }
  box.hidden = ul.childElementCount === 0;
}

function showVerdict(decision) {
  const verdict = $("verdict");
  const pct = Math.round((decision.confidence || 0) * 100);
  verdict.replaceChildren();
  const badge = document.createElement("span");
  badge.className = `badge ${decision.decision}`;
  badge.textContent = decision.decision === "answer" ? "Answered" : "Escalated";
  verdict.append(badge, ` Confidence ${pct}%`);
  if (decision.escalation_id) verdict.append(` · ${decision.priority || ""} priority · ${decision.escalation_id}`);
  const reasons = $("reasons");
  reasons.replaceChildren(
    ...decision.reasons.map((code) => {
      const li = document.createElement("li");
      li.textContent = reasonText(code);
      li.dataset.code = code;
      return li;
    }),
  );
}

function resetResult() {
  state.result = null;
  state.vote = null;
  state.voted = false;
  $("result").hidden = false;
  $("answer").replaceChildren();
  $("answer").dataset.deltas = "0";
  $("draft-box").hidden = true;
  $("verdict").textContent = "Working…";
  $("reasons").replaceChildren();
  $("citations").replaceChildren();
  $("internal-warning").hidden = true;
  $("related-box").hidden = true;
  $("confirm-use").hidden = true;
  for (const id of ["vote-up", "vote-down"]) $(id).setAttribute("aria-pressed", "false");
  $("feedback-comment").value = "";
  setActions(false);
}

function setActions(enabled) {
  for (const id of ["use", "escalate", "resolve-open", "vote-up", "vote-down", "feedback-send"]) $(id).disabled = !enabled;
}

function conversationOf(ticket, question) {
  const messages = (ticket && ticket.conversation) || [];
  const earlier = messages.length && messages[messages.length - 1] === question ? messages.slice(0, -1) : messages;
  return earlier.slice(-20);
}

async function ask(question) {
  if (!state.key) {
    showSettings(true);
    say("Enter an agent API key first.", "error");
    return;
  }
  resetResult();
  $("ask-button").disabled = true;
  const answer = $("answer");
  answer.setAttribute("aria-busy", "true");
  let text = "";
  let citations = [];
  let draftCitations = [];
  const body = { question, conversation: conversationOf(state.ticket, question) };
  if (state.ticket && state.ticket.ticket_id) body.conversation_id = `${state.adapter.name}:${state.ticket.ticket_id}`;
  if (state.ticket && state.ticket.requester && state.ticket.requester.name) {
    body.customer_name = state.ticket.requester.name.slice(0, 200);
  }
  if (state.ticket && state.ticket.customer_id) body.customer_id = state.ticket.customer_id;
  say("Asking deflect…");
  try {
    await streamEvents("/v1/ask/stream", body, headers(), (name, data) => {
      if (name === "citations") {
        citations = data.citations;
        showCitations(data.citations, data.related);
        // A streaming model's sentences came first: link their [n] markers now.
        if (text) renderAnswer(answer, text, citations);
      } else if (name === "decision") {
        draftCitations = data.draft_citations || [];
        showVerdict(data);
      } else if (name === "delta") {
        text += data.text;
        renderAnswer(answer, text, citations);
        answer.dataset.deltas = String(Number(answer.dataset.deltas || 0) + 1);
      } else if (name === "done") {
        state.result = data;
        state.result.citations = citations;
        document.body.dataset.answerId = data.id;
        renderAnswer(answer, data.answer, citations);
        if (data.draft_answer) {
          $("draft-box").hidden = false;
          $("draft-unsure").hidden = !data.draft_below_threshold;
          renderAnswer($("draft"), data.draft_answer, draftCitations);
          if (!citations.length && draftCitations.length) {
            // Nothing was answered: the sources shown (and quoted by "Use") are the draft's.
            showCitations(draftCitations, []);
            state.result.citations = draftCitations;
          }
        }
      } else if (name === "error") {
        throw Object.assign(new Error(data.error.message), { status: 0 });
      }
    });
    if (!state.result) throw new Error("the answer stream ended early");
    setActions(true);
    say(state.result.decision === "answer" ? "Answer ready." : "deflect escalated this question.");
    if (state.result.escalation_id) loadQueue();
  } catch (error) {
    $("verdict").textContent = "No answer.";
    say(problem(error), "error");
  } finally {
    answer.setAttribute("aria-busy", "false");
    $("ask-button").disabled = false;
    document.body.dataset.asked = String(Number(document.body.dataset.asked || 0) + 1); // tests wait on this
  }
}

// --- Use ---------------------------------------------------------------------------------------------------------

// The reply a customer reads: plain text, and a line with a link for every source a marker [n] in it names: its
// own url, else deflect's page for it (/sources/<id>, on deflect's address). Internal sources are never linked,
// and their markers are dropped, so no marker is left without its source line.
function replyText() {
  const r = state.result;
  const lines = new Map();
  for (const c of r.citations) {
    if (c.audience === "internal") continue;
    const href = citationHref(c.url || `/sources/${encodeURIComponent(c.source_id)}`, location.href);
    if (href) lines.set(c.n, `[${c.n}] ${c.title || c.source_id}: ${href}`);
  }
  const cited = new Set();
  const body = plainText(r.draft_answer || r.answer, {
    cite: (n) => {
      if (!lines.has(n)) return "";
      cited.add(n);
      return `[${n}]`;
    },
  });
  const sources = [...lines].filter(([n]) => cited.has(n)).map(([, line]) => line);
  return sources.length ? `${body}\n\n${sources.join("\n")}` : body;
}

// Using an answer or a draft in a reply is the agent saying it answers the ticket: it counts as their helpful vote
// (for ranking and for the calibration, deflect.calibrate.traffic), unless they chose a vote themselves. Best effort:
// the reply was inserted or copied, which is what they asked for; the status says whether the vote was stored.
async function countUse() {
  const r = state.result;
  if (!r || !r.id || state.vote !== null || state.voted) return "";
  try {
    await postJson(`/v1/answers/${encodeURIComponent(r.id)}/feedback`, { helpful: true }, headers());
    state.voted = true;
    return " Counted as a helpful vote.";
  } catch {
    return " (The helpful vote it counts as was not stored.)";
  }
}

async function use() {
  const text = replyText();
  try {
    if (await state.adapter.insertReply(text)) {
      say(`Inserted into the reply.${await countUse()}`);
      return;
    }
  } catch (error) {
    say(`The helpdesk did not take the reply (${problem(error)}); copying instead.`, "error");
  }
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    say("Copying failed: select the answer and press Ctrl+C.", "error");
    return;
  }
  say(`Copied to the clipboard.${await countUse()}`);
}

function askToUse() {
  const internal = state.result.citations.filter((c) => c.audience === "internal");
  if (!internal.length) {
    use();
    return;
  }
  $("confirm-use-text").textContent =
    `This answer cites internal ${internal.length === 1 ? "source" : "sources"} ` +
    `(${internal.map((c) => c.title).join(", ")}). Customers must not see internal runbooks or notes. ` +
    "Use it anyway?";
  $("confirm-use").hidden = false;
  $("confirm-cancel").focus();
}

// --- escalation --------------------------------------------------------------------------------------------------

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function showPacket(view) {
  const esc = view.escalation;
  state.escalation = esc;
  const packet = $("packet");
  packet.replaceChildren();
  const dl = document.createElement("dl");
  const add = (label, value) => fact(dl, label, value);
  add("Reference", esc.id);
  add("State", esc.state.replace(/_/g, " "));
  add("Priority", esc.priority);
  add("Tier", esc.tier);
  add("Acknowledge by", `${when(view.sla.acknowledge_deadline)}${view.sla.acknowledge_breached ? " (breached)" : ""}`);
  add("Resolve by", `${when(view.sla.resolve_deadline)}${view.sla.resolve_breached ? " (breached)" : ""}`);
  add("Reasons", esc.reasons.map(reasonText).join(" "));
  if (esc.assignee) add("Held by", esc.assignee);
  // An anonymous widget visitor's only channel: the address they left after the hand-off.
  if (esc.contact_email) add("Reply by email to", esc.contact_email);
  add("Resolution", esc.resolution);
  const known = view.knowledge;
  if (known) add("Knowledge", `${known.sources.join(", ")}: ${known.state}${known.last_error ? ` (${known.last_error})` : ""}`);
  // Withdrawn by the customer: which page solved it ("other": something deflect did not suggest). Nothing to do.
  if (esc.state === "self_served") add("Solved by the customer with", esc.self_served_page || "other");
  packet.append(dl);
  const h = document.createElement("h3");
  h.textContent = "Checklist";
  const ul = document.createElement("ul");
  ul.className = "checklist";
  for (const item of esc.checklist) {
    const li = document.createElement("li");
    li.className = item.value == null ? "missing" : "present";
    const label = document.createElement("strong");
    label.textContent = item.label;
    li.append(label, ": ", item.value == null ? "missing, ask the customer" : item.value);
    ul.append(li);
  }
  packet.append(h, ul, ...shownToCustomer(esc.sources || []), ...takeoverForm(esc));
  $("escalation").hidden = false;
}

// A claim makes an escalation its assignee's: only they may start, wait, resume or resolve it (the API refuses
// anyone else with a 409 naming them). Taking it over is an explicit, audited action with a reason.
function takeoverForm(esc) {
  const held = esc.assignee && ["claimed", "started", "waiting_on_customer"].includes(esc.state);
  if (!held || (state.agent && esc.assignee === state.agent)) return [];
  const form = document.createElement("form");
  form.className = "takeover";
  const label = document.createElement("label");
  label.htmlFor = "takeover-reason";
  label.textContent = `Take over from ${esc.assignee}: why?`;
  const input = document.createElement("input");
  input.id = "takeover-reason";
  input.required = true;
  input.maxLength = 2000;
  const go = document.createElement("button");
  go.type = "submit";
  go.textContent = "Take over";
  form.append(label, input, go);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const esc2 = await postJson(
        `/v1/escalations/${encodeURIComponent(esc.id)}/takeover`,
        { reason: input.value.trim() },
        headers(),
      );
      await openEscalation(esc.id);
      say(`Took over ${esc.id} from ${esc.assignee}; it is ${esc2.assignee}'s now.`);
      loadQueue();
    } catch (error) {
      say(problem(error), "error");
    }
  });
  return [form];
}

// What the customer read quoted from a suggested page with the hand-off (the checklist only says "with a quoted
// excerpt"), so the agent does not repeat it. Knowledge-base text like an answer's: the same DOM-building Markdown
// renderer, never innerHTML. Its [n] markers all mean the page named above it, so they are left out (as in the widget).
function shownToCustomer(sources) {
  const quoted = sources.filter((s) => typeof s.excerpt === "string" && s.excerpt);
  if (!quoted.length) return [];
  const h = document.createElement("h3");
  h.textContent = "Shown to the customer";
  const figures = quoted.map((s) => {
    const figure = document.createElement("figure");
    figure.className = "shown-excerpt";
    const caption = document.createElement("figcaption");
    caption.append("Quoted from ", pageTitle(s));
    const quote = document.createElement("blockquote");
    quote.className = "excerpt";
    quote.append(renderMarkdown(s.excerpt, { cite: () => document.createTextNode("") }));
    figure.append(caption, quote);
    return figure;
  });
  return [h, ...figures];
}

async function openEscalation(id) {
  const view = await getJson(`/v1/escalations/${encodeURIComponent(id)}`, headers());
  showPacket(view);
  return view;
}

async function escalate() {
  try {
    let id = state.result.escalation_id;
    if (!id) {
      // The agent overrides an answer: ask again with an explicit hand-off request, so the policy records it as
      // `human_requested` with the ticket's conversation in the packet.
      const question = `${$("question").value.trim()}\n\n${ESCALATE_PHRASE}`;
      const body = { question, conversation: conversationOf(state.ticket, $("question").value.trim()) };
      if (state.ticket && state.ticket.ticket_id) body.conversation_id = `${state.adapter.name}:${state.ticket.ticket_id}`;
      const result = await postJson("/v1/ask", body, headers());
      if (!result.escalation_id) throw new Error("deflect did not escalate");
      id = result.escalation_id;
      state.result.escalation_id = id;
    }
    await openEscalation(id);
    say(`Escalated: ${id}.`);
    loadQueue();
    $("escalation-h").focus?.();
  } catch (error) {
    say(problem(error), "error");
  }
}

function openResolve(prefill) {
  $("escalation").hidden = false;
  $("resolve-form").hidden = false;
  $("resolution").value = plainText(prefill || "");
  $("resolution").focus();
}

async function resolveWith() {
  try {
    if (!state.result.escalation_id) {
      say("Escalate first: a resolution closes an escalation.", "error");
      return;
    }
    await openEscalation(state.result.escalation_id);
    openResolve(state.result.draft_answer || (state.result.decision === "answer" ? state.result.answer : ""));
  } catch (error) {
    say(problem(error), "error");
  }
}

async function resolve(event) {
  event.preventDefault();
  const esc = state.escalation;
  if (!esc) return;
  const id = encodeURIComponent(esc.id);
  try {
    // resolve is allowed from `started`: take the steps an agent would (claim, start) first. Only for one nobody
    // holds, or one this agent holds: on someone else's claim `start` is refused naming them, and nothing is done.
    let current = esc.state;
    const steps = [];
    if (current === "escalated" || current === "bounced_back") {
      current = (await postJson(`/v1/escalations/${id}/claim`, {}, headers())).state;
      steps.push("claimed");
    }
    if (current === "claimed") {
      current = (await postJson(`/v1/escalations/${id}/start`, {}, headers())).state;
      steps.push("started");
    }
    const done = await postJson(
      `/v1/escalations/${id}/resolve`,
      { resolution: $("resolution").value.trim(), publish: $("publish").checked },
      headers(),
    );
    $("resolve-form").hidden = true;
    const view = await openEscalation(esc.id);
    const first = steps.length ? ` (${steps.join(" and ")} it first, as you)` : "";
    say(`Resolved ${esc.id}${first}. ${knowledgeText(done, view.knowledge)}`);
    loadQueue();
  } catch (error) {
    say(problem(error), "error");
  }
}

// What became of the resolution's knowledge. `pending`: committed, but the index could not take it yet (the API
// gives no time then); the knowledge job retries it, and the escalation view says why it is waiting.
function knowledgeText(done, known) {
  const sources = done.knowledge_sources.join(", ");
  if (!sources) return "No new knowledge was recorded.";
  if (done.knowledge_state === "pending" || done.searchable_ms == null) {
    const why = known && known.last_error ? ` (${known.last_error})` : "";
    return `New knowledge ${sources} is pending, not searchable yet${why}: deflect retries it.`;
  }
  return `New knowledge ${sources} searchable after ${Math.round(done.searchable_ms)} ms.`;
}

// --- feedback ----------------------------------------------------------------------------------------------------

function vote(helpful) {
  state.vote = helpful;
  $("vote-up").setAttribute("aria-pressed", String(helpful === true));
  $("vote-down").setAttribute("aria-pressed", String(helpful === false));
}

async function sendFeedback() {
  if (state.vote === null) {
    say("Choose Helpful or Not helpful first.", "error");
    $("vote-up").focus();
    return;
  }
  const body = { helpful: state.vote };
  const comment = $("feedback-comment").value.trim();
  if (comment) body.comment = comment;
  try {
    const stored = await postJson(`/v1/answers/${encodeURIComponent(state.result.id)}/feedback`, body, headers());
    state.voted = true;
    say(`Feedback stored (${stored.id}). Thank you.`);
  } catch (error) {
    say(problem(error), "error");
  }
}

// --- the queue ---------------------------------------------------------------------------------------------------

async function queueAction(esc, action, payload = {}) {
  try {
    await postJson(`/v1/escalations/${encodeURIComponent(esc.id)}/${action}`, payload, headers());
    say(`${action} ${esc.id}: done.`);
    loadQueue();
  } catch (error) {
    say(problem(error), "error");
  }
}

function queueItem(esc) {
  const li = document.createElement("li");
  li.dataset.id = esc.id;
  const title = document.createElement("p");
  const strong = document.createElement("strong");
  strong.textContent = esc.question.slice(0, 160);
  title.append(strong);
  const meta = document.createElement("p");
  meta.className = "muted";
  meta.textContent = `${esc.id} · ${esc.priority} · ${esc.state.replace(/_/g, " ")}${esc.assignee ? ` · held by ${esc.assignee}` : ""}`;
  const buttons = document.createElement("div");
  buttons.className = "actions";
  const button = (label, handler) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("aria-label", `${label} ${esc.id}`);
    b.addEventListener("click", handler);
    buttons.append(b);
  };
  if (esc.state === "escalated" || esc.state === "bounced_back") button("Claim", () => queueAction(esc, "claim"));
  button("Add note", () => {
    const form = document.createElement("form");
    const id = `note-${esc.id}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = `Note on ${esc.id}`;
    const input = document.createElement("input");
    input.id = id;
    input.required = true;
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = "Save note";
    form.append(label, input, save);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      queueAction(esc, "update", { note: input.value.trim() });
    });
    li.append(form);
    input.focus();
  });
  button("Resolve", async () => {
    try {
      await openEscalation(esc.id);
      openResolve(esc.draft_answer || "");
    } catch (error) {
      say(problem(error), "error");
    }
  });
  li.append(title, meta, buttons);
  return li;
}

// What needs attention first: open escalations by priority, then SLA deadline (the API's `order=priority`), a page
// at a time, with how many there are, so an old urgent one is never hidden behind newer minor ones.
async function loadQueue(more = false) {
  if (!state.key) return;
  const queue = $("queue");
  const offset = more ? queue.querySelectorAll("li[data-id]").length : 0;
  try {
    const { items, total } = await getPage(
      `/v1/escalations?open=true&order=priority&limit=${QUEUE_PAGE}&offset=${offset}`,
      headers(),
    );
    // A page shifts when escalations arrive or close meanwhile: never list one twice.
    if (more) queue.append(...items.filter((e) => !queue.querySelector(`li[data-id="${CSS.escape(e.id)}"]`)).map(queueItem));
    else queue.replaceChildren(...items.map(queueItem));
    const shown = queue.querySelectorAll("li[data-id]").length;
    const count = total ?? shown;
    $("queue-summary").textContent = count
      ? `${count} open, most urgent first${shown < count ? ` (showing ${shown})` : ""}.`
      : "";
    $("queue-more").hidden = shown >= count;
    if (!count) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No open escalations.";
      queue.append(li);
    }
  } catch (error) {
    say(problem(error), "error");
  }
}

async function openById(event) {
  event.preventDefault();
  const id = $("open-id").value.trim();
  if (!id) return;
  try {
    await openEscalation(id);
    $("open-id").value = "";
    $("escalation-h").focus?.();
  } catch (error) {
    say(problem(error), "error");
  }
}

// --- start -------------------------------------------------------------------------------------------------------

function meta(name) {
  const node = document.querySelector(`meta[name="${name}"]`);
  return node ? node.content : "";
}

function start() {
  const origins = meta("deflect-panel-origins").split(/\s+/).filter(Boolean);
  state.adapter = hostAdapter(window, { origins, zafSdkUrl: meta("deflect-zaf-sdk") });
  $("host-name").textContent = state.adapter.name === "standalone" ? "" : `in ${state.adapter.name}`;
  document.body.dataset.host = state.adapter.name;
  setActions(false);

  $("settings-toggle").addEventListener("click", () => showSettings($("settings").hidden));
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("api-key").value.trim();
    localStorage.setItem(KEY_STORE, state.key);
    $("api-key").value = "";
    showSettings(false);
    say("Key saved.");
    loadQueue();
  });
  $("question").addEventListener("input", () => {
    $("question").dataset.edited = "1";
  });
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question) ask(question);
  });
  $("paste-use").addEventListener("click", () => {
    const text = $("paste-text").value.trim().slice(0, 2000);
    showTicket({ ...(state.ticket || {}), last_customer_message: text, conversation: [text] });
    $("question").value = text;
    $("question").focus();
  });
  $("use").addEventListener("click", askToUse);
  $("confirm-cancel").addEventListener("click", () => {
    $("confirm-use").hidden = true;
    $("use").focus();
  });
  $("confirm-go").addEventListener("click", () => {
    $("confirm-use").hidden = true;
    use();
    $("use").focus();
  });
  $("confirm-use").addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("confirm-cancel").click();
  });
  $("escalate").addEventListener("click", escalate);
  $("resolve-open").addEventListener("click", resolveWith);
  $("resolve-form").addEventListener("submit", resolve);
  $("vote-up").addEventListener("click", () => vote(true));
  $("vote-down").addEventListener("click", () => vote(false));
  $("feedback-send").addEventListener("click", sendFeedback);
  $("queue-refresh").addEventListener("click", () => loadQueue());
  $("queue-more").addEventListener("click", () => loadQueue(true));
  $("open-form").addEventListener("submit", openById);

  if (!state.key) showSettings(true);
  state.adapter.start(
    (ticket) => {
      if (ticket.agent) state.agent = ticket.agent;
      showTicket(ticket);
    },
    (error) => say(problem(error), "error"),
  );
  loadQueue();
  document.body.dataset.ready = "1";
}

start();
