// The customer help widget, mounted by widget.js inside a Shadow DOM: the host page's CSS cannot reach in and the
// widget's CSS cannot leak out. It talks to deflect's /widget/v1/{widget id}/ API with a public widget id, a
// random session id and, when the site identified the visitor, a short-lived signed identity token. No secret.

import { citationHref, renderMarkdown } from "./markdown.js";
import { getJson, postJson, RequestError, streamEvents } from "./sse.js";

const STRINGS = {
  en: {
    title: "Help",
    greeting: "Hi! Ask a question and I'll look in our help articles.",
    placeholder: "Type your question",
    label: "Your question",
    send: "Send",
    close: "Close help",
    helped: "That helped",
    stillNeed: "I still need help",
    human: "Talk to a person",
    thanks: "Thanks! Glad that helped.",
    sources: "Sources",
    suggested: "Pages that may help",
    excerpt: "Quoted from this page",
    examples: "Examples",
    handoff: "I still need help with this. Please connect me to a person.",
    failed: "Sorry, something went wrong. Please try again.",
    thinking: "Looking for an answer…",
    requests: "Your requests",
    solvedIt: "This solved it",
    solvedElsewhere: "Something else solved it",
    noneHelped: "None of these helped",
    kept: "OK, your request stays with our team.",
    contactLabel: "Your email address, for our reply (optional)",
    contactSend: "Share my email",
    contactSaved: (email) => `Thanks: we will reply to ${email}.`,
    pending: (id) => `Your request ${id} is with our team.`,
    states: { escalated: "with our team", bounced_back: "with our team", claimed: "being worked on",
              started: "being worked on", waiting_on_customer: "waiting for your reply", resolved: "resolved",
              self_served: "solved by you" },
  },
  de: {
    title: "Hilfe",
    greeting: "Hallo! Stellen Sie eine Frage, ich suche in unseren Hilfeartikeln.",
    placeholder: "Ihre Frage",
    label: "Ihre Frage",
    send: "Senden",
    close: "Hilfe schließen",
    helped: "Das hat geholfen",
    stillNeed: "Ich brauche weiter Hilfe",
    human: "Mit einer Person sprechen",
    thanks: "Danke! Schön, dass es geholfen hat.",
    sources: "Quellen",
    suggested: "Seiten, die helfen könnten",
    excerpt: "Zitat aus dieser Seite",
    examples: "Beispiele",
    handoff: "I still need help with this. Please connect me to a person.",
    failed: "Entschuldigung, etwas ist schiefgegangen. Bitte versuchen Sie es erneut.",
    thinking: "Ich suche eine Antwort…",
    requests: "Ihre Anfragen",
    solvedIt: "Das hat es gelöst",
    solvedElsewhere: "Etwas anderes hat es gelöst",
    noneHelped: "Nichts davon hat geholfen",
    kept: "Gut, Ihre Anfrage bleibt bei unserem Team.",
    contactLabel: "Ihre E-Mail-Adresse für unsere Antwort (optional)",
    contactSend: "E-Mail mitteilen",
    contactSaved: (email) => `Danke: Wir antworten an ${email}.`,
    pending: (id) => `Ihre Anfrage ${id} ist bei unserem Team.`,
    states: { escalated: "bei unserem Team", bounced_back: "bei unserem Team", claimed: "in Bearbeitung",
              started: "in Bearbeitung", waiting_on_customer: "wartet auf Ihre Antwort", resolved: "gelöst",
              self_served: "von Ihnen gelöst" },
  },
};

function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function storage(kind = "localStorage") {
  try {
    const probe = "deflect:probe";
    const store = window[kind];
    store.setItem(probe, "1");
    store.removeItem(probe);
    return store;
  } catch {
    const memory = new Map(); // storage blocked (privacy settings): the session lasts as long as the page
    return {
      getItem: (k) => memory.get(k) ?? null,
      setItem: (k, v) => memory.set(k, v),
      removeItem: (k) => memory.delete(k),
    };
  }
}

function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function mount(api, options, base, queue) {
  const widgetId = options.widgetId || "";
  const locale = (options.locale || document.documentElement.lang || "en").slice(0, 2).toLowerCase();
  const t = { ...STRINGS.en, ...(STRINGS[locale] || {}) };
  const title = options.title || t.title;
  const store = storage();
  const sessionKey = `deflect:${widgetId}:session`;
  // An anonymous visitor's last hand-off ({id, contact}) for this tab, so a reload does not lose the reference.
  const tab = storage("sessionStorage");
  const handoffKey = `deflect:${widgetId}:handoff`;
  const state = {
    session: store.getItem(sessionKey) || "",
    token: null,
    history: [],
    conversationId: "",
    busy: false,
  };
  const resetSession = () => {
    state.session = newId();
    state.conversationId = `widget:${newId()}`;
    store.setItem(sessionKey, state.session);
  };
  if (!state.session) resetSession();
  else state.conversationId = `widget:${newId()}`;

  const host = document.createElement("deflect-widget");
  host.dataset.position = options.position === "left" ? "left" : "right";
  if (options.color && CSS.supports("color", options.color)) host.style.setProperty("--deflect-accent", options.color);
  const root = host.attachShadow({ mode: "open" });
  const css = h("link", { rel: "stylesheet", href: new URL("static/deflect/widget.css", base).href });
  const styled = new Promise((resolve) => {
    css.addEventListener("load", resolve);
    css.addEventListener("error", resolve);
  });
  root.append(css);

  const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions text" });
  const input = h("input", {
    id: "deflect-q",
    type: "text",
    maxlength: "2000",
    autocomplete: "off",
    placeholder: t.placeholder,
  });
  const send = h("button", { type: "submit", class: "send", text: t.send });
  const form = h("form", { class: "ask" }, [
    h("label", { for: "deflect-q", class: "visually-hidden", text: t.label }),
    input,
    send,
  ]);
  const closeButton = h("button", { type: "button", class: "close", "aria-label": t.close, text: "×" });
  const human = h("button", { type: "button", class: "link", text: t.human });
  const requests = h("details", { class: "requests" });
  requests.hidden = true;
  const panel = h("div", { class: "panel", id: "deflect-panel", role: "dialog", "aria-labelledby": "deflect-title" }, [
    h("header", {}, [h("h2", { id: "deflect-title", text: title }), closeButton]),
    requests,
    log,
    form,
    h("footer", {}, [human]),
  ]);
  panel.hidden = true;
  panel.lang = locale;
  const launcher = h("button", {
    type: "button",
    class: "launcher",
    "aria-expanded": "false",
    "aria-controls": "deflect-panel",
    text: title,
  });
  root.append(panel, launcher);

  const scroll = () => {
    log.scrollTop = log.scrollHeight;
  };

  function addGreeting() {
    log.append(h("div", { class: "msg bot" }, [h("p", { text: options.greeting || t.greeting })]));
    const examples = (options.examples || "").split("|").map((s) => s.trim()).filter(Boolean).slice(0, 4);
    if (examples.length) {
      const list = h("ul", { class: "examples", "aria-label": t.examples });
      for (const example of examples) {
        list.append(h("li", {}, [h("button", { type: "button", text: example, onclick: () => ask(example) })]));
      }
      log.append(list);
    }
  }

  function headers() {
    const result = { "X-Deflect-Session": state.session };
    if (state.token) result["X-Deflect-Identity"] = state.token;
    return result;
  }

  function citationList(citations) {
    const list = h("ol", { class: "sources", "aria-label": t.sources });
    for (const c of citations) {
      const href = citationHref(c.url, base); // deflect's own address, not the host page's
      const item = h("li", { value: String(c.n) });
      if (href) item.append(h("a", { href, target: "_blank", rel: "noopener noreferrer", text: c.title }));
      else item.append(c.title);
      list.append(item);
    }
    return list;
  }

  // Pages deflect points an escalated visitor at while they wait (no claim, so titles and headings only). The
  // hand-off text introduces them; like citations, a link is made only of an http(s) url or deflect's own path.
  // Each page has a "This solved it" button: the visitor withdraws their own escalation (the server checks it is
  // theirs and that nobody has started on it), and the hand-off text is replaced by the server's message.
  // "None of these helped" keeps the escalation and only puts the buttons away.
  // The first page may carry an excerpt: passages quoted from it alone (the hand-off text says so). It is knowledge-
  // base text like an answer's, so it goes through the same DOM-building Markdown renderer, never innerHTML; its
  // [1] markers all mean "this page", which the excerpt sits under, so they are left out.
  function suggestionList(pages, result, answer) {
    const list = h("ul", { class: "sources suggested", "aria-label": t.suggested });
    const buttons = [];
    const row = h("div", { class: "choices", role: "group", "aria-label": t.suggested });
    // Puts the buttons away and moves focus to what replaces them, so a keyboard user hears the outcome.
    const settle = (note) => {
      for (const button of buttons) button.remove();
      note.setAttribute("tabindex", "-1");
      if (note.isConnected) row.remove();
      else row.replaceWith(note);
      note.focus();
    };
    const solved = async (page) => {
      for (const button of buttons) button.disabled = true;
      try {
        const done = await postJson(
          new URL(`widget/v1/${encodeURIComponent(widgetId)}/escalations/` +
            `${encodeURIComponent(result.escalation_id)}/self_serve`, base).href,
          { page },
          headers(),
        );
        const message = h("p", { text: done.message });
        answer.replaceChildren(message); // the hand-off ("a person will reply") is no longer true
        const bubble = answer.closest(".msg");
        bubble.classList.add("solved");
        bubble.dataset.selfServed = done.page;
        bubble.querySelector("form.contact")?.remove(); // closed: nobody will reply
        if (remembered()?.id === result.escalation_id) tab.removeItem(handoffKey);
        settle(message);
        showRequests();
      } catch (error) {
        const text = error instanceof RequestError && error.message ? error.message : t.failed;
        settle(h("p", { class: "note", role: "alert", text }));
      }
    };
    const offer = Boolean(result.escalation_id);
    for (const page of pages) {
      const href = citationHref(page.url, base);
      const label = page.heading ? `${page.title} > ${page.heading}` : page.title;
      const item = h("li");
      if (href) item.append(h("a", { href, target: "_blank", rel: "noopener noreferrer", text: label }));
      else item.append(label);
      if (typeof page.excerpt === "string" && page.excerpt) {
        const quoted = renderMarkdown(page.excerpt, { cite: () => document.createTextNode("") });
        item.append(h("blockquote", { class: "excerpt", "aria-label": t.excerpt }, [quoted]));
      }
      if (offer) {
        const button = h("button", {
          type: "button",
          class: "solved-it",
          "aria-label": `${t.solvedIt}: ${label}`,
          text: t.solvedIt,
          onclick: () => solved(page.source_id),
        });
        buttons.push(button);
        item.append(" ", button);
      }
      list.append(item);
    }
    if (!offer) return [list];
    const elsewhere = h("button", { type: "button", text: t.solvedElsewhere, onclick: () => solved("other") });
    const keep = () => settle(h("p", { class: "note", text: t.kept }));
    const none = h("button", { type: "button", text: t.noneHelped, onclick: keep });
    buttons.push(elsewhere, none);
    row.append(elsewhere, none);
    return [list, row];
  }

  function remembered() {
    try {
      return JSON.parse(tab.getItem(handoffKey) || "null");
    } catch {
      return null;
    }
  }

  // An anonymous visitor's chat is gone once they leave it, so the hand-off text says nobody can reply here and this
  // form takes an address for the reply (optional; stored with the escalation for the agent).
  function contactForm(escalationId) {
    const field = h("input", { id: `deflect-email-${escalationId}`, type: "email", maxlength: "254",
                               autocomplete: "email", required: "" });
    const submit = h("button", { type: "submit", text: t.contactSend });
    const form = h("form", { class: "contact" }, [
      h("label", { for: field.id, text: t.contactLabel }), field, submit,
    ]);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const email = field.value.trim();
      if (!email) return;
      submit.disabled = true;
      form.querySelector("[role=alert]")?.remove();
      try {
        const url = `widget/v1/${encodeURIComponent(widgetId)}/escalations/${encodeURIComponent(escalationId)}/contact`;
        const done = await postJson(new URL(url, base).href, { email }, headers());
        tab.setItem(handoffKey, JSON.stringify({ id: escalationId, contact: done.contact_email }));
        const note = h("p", { class: "note", tabindex: "-1", text: t.contactSaved(done.contact_email) });
        form.replaceWith(note);
        note.focus();
      } catch (error) {
        const text = error instanceof RequestError && error.message ? error.message : t.failed;
        form.append(h("p", { class: "note", role: "alert", text }));
        submit.disabled = false;
      }
    });
    return form;
  }

  // After a reload: the reference of the hand-off this tab made, and the form if no address was left yet.
  function showPending() {
    const pending = state.token ? null : remembered();
    if (!pending || typeof pending.id !== "string") return;
    const bubble = h("div", { class: "msg bot handoff pending" }, [h("p", { text: t.pending(pending.id) })]);
    bubble.append(pending.contact ? h("p", { class: "note", text: t.contactSaved(pending.contact) })
                                  : contactForm(pending.id));
    log.append(bubble);
  }

  // An identified visitor's hand-offs, from any device they used: the reference and where each stands.
  async function showRequests() {
    if (!state.token) {
      requests.hidden = true;
      return;
    }
    let items = [];
    try {
      items = await getJson(new URL(`widget/v1/${encodeURIComponent(widgetId)}/requests`, base).href, headers());
    } catch {
      items = [];
    }
    const list = h("ul");
    for (const item of items) {
      const where = (t.states && t.states[item.state]) || item.state.replace(/_/g, " ");
      list.append(h("li", {}, [h("span", { class: "q", text: item.question.slice(0, 120) }), h("br"),
        h("span", { class: "note", text: `${item.id} · ${where}` })]));
    }
    requests.replaceChildren(h("summary", { text: `${t.requests} (${items.length})` }), list);
    requests.hidden = items.length === 0;
  }

  async function feedback(answerId, helpful) {
    return postJson(
      new URL(`widget/v1/${encodeURIComponent(widgetId)}/answers/${encodeURIComponent(answerId)}/feedback`, base).href,
      { helpful },
      headers(),
    );
  }

  function followUp(bubble, result) {
    const row = h("div", { class: "choices", role: "group", "aria-label": t.helped });
    const done = (text) => row.replaceWith(h("p", { class: "note", text }));
    row.append(
      h("button", {
        type: "button",
        text: t.helped,
        onclick: async () => {
          try {
            await feedback(result.id, true);
            done(t.thanks);
          } catch (error) {
            done(error.message || t.failed);
          }
        },
      }),
      h("button", {
        type: "button",
        text: t.stillNeed,
        onclick: async () => {
          row.remove();
          try {
            await feedback(result.id, false);
          } catch {
            // the hand-off matters more than the vote
          }
          ask(t.handoff);
        },
      }),
    );
    bubble.append(row);
  }

  async function ask(question) {
    question = question.trim();
    if (!question || state.busy) return;
    state.busy = true;
    send.disabled = true;
    log.append(h("div", { class: "msg user" }, [h("p", { text: question })]));
    const answer = h("div", { class: "answer", "aria-busy": "true" }, [h("p", { class: "note", text: t.thinking })]);
    const bubble = h("div", { class: "msg bot" }, [answer]);
    log.append(bubble);
    scroll();
    let text = "";
    let citations = [];
    let result = null;
    const render = () => {
      const cite = (n) => (citations.some((c) => c.n === n) ? h("sup", { class: "cite", text: `[${n}]` }) : null);
      answer.replaceChildren(renderMarkdown(text, { cite }));
    };
    try {
      const url = new URL(`widget/v1/${encodeURIComponent(widgetId)}/ask/stream`, base).href;
      const body = { question, conversation: state.history.slice(-20), conversation_id: state.conversationId };
      await streamEvents(url, body, headers(), (name, data) => {
        if (name === "citations") {
          citations = data.citations;
          if (text) render(); // a streaming model's sentences came first: mark their citations now
        }
        else if (name === "decision") bubble.dataset.decision = data.decision;
        else if (name === "delta") {
          text += data.text;
          render();
          scroll();
        } else if (name === "done") result = data;
        else if (name === "error") throw new RequestError(0, data, null);
      });
      if (!result) throw new Error(t.failed);
      text = result.answer;
      render();
      if (citations.length) bubble.append(citationList(citations));
      // `conversation` is the customer's earlier messages (the API's definition): deflect's own answers are not
      // theirs, and an answer's "if it does not work" must not count as the customer's frustration.
      state.history.push(question.slice(0, 2000));
      if (result.decision === "answer") followUp(bubble, result);
      else {
        bubble.classList.add("handoff");
        if (result.suggested && result.suggested.length) bubble.append(...suggestionList(result.suggested, result, answer));
        if (result.escalation_id && !state.token) {
          tab.setItem(handoffKey, JSON.stringify({ id: result.escalation_id, contact: null }));
          bubble.append(contactForm(result.escalation_id));
        }
        showRequests();
      }
    } catch (error) {
      bubble.classList.add("error");
      const message = error instanceof RequestError && error.message ? error.message : t.failed;
      answer.replaceChildren(h("p", { role: "alert", text: message }));
    } finally {
      answer.setAttribute("aria-busy", "false");
      state.busy = false;
      send.disabled = false;
      scroll();
    }
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    input.focus();
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    input.value = "";
    ask(question);
  });
  human.addEventListener("click", () => ask(t.handoff));
  addGreeting();
  showPending();

  api.open = open;
  api.close = close;
  api.identify = (token) => {
    state.token = typeof token === "string" && token ? token : null;
    return showRequests();
  };
  api.reset = () => {
    state.token = null;
    state.history = [];
    tab.removeItem(handoffKey);
    resetSession();
    log.replaceChildren();
    requests.hidden = true;
    addGreeting();
  };
  api.ask = ask;
  // Nothing shows until the widget's own stylesheet applies: no flash of unstyled buttons on the host page.
  launcher.hidden = true;
  document.body.append(host);
  styled.then(() => {
    launcher.hidden = false;
    for (const [name, args] of queue.splice(0)) api[name](...args);
    host.dataset.ready = "1";
  });
}
