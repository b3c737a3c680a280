// A small Markdown renderer that builds DOM nodes and never parses HTML.
//
// Answers quote knowledge-base text, and a source may contain anything (an article pasted from a web page, an
// escalation written by a customer). So nothing here ever goes through innerHTML: every piece of text becomes a
// text node, raw HTML in a source is shown as the characters it is, and links keep only http(s) and mailto
// targets. Supported: paragraphs, headings, bullet and numbered lists, block quotes (holding any of these, as in
// CommonMark), fenced code, tables, inline code, bold, italics, links and citation markers [n].

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const FENCE = /^\s{0,3}(```+|~~~+)\s*([\w+#.-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const STARTS_BLOCK = [FENCE, HEADING, ITEM, QUOTE];
const MAX_QUOTE_DEPTH = 8; // deeper ">>>>…" nesting (a hostile source) is shown as text, not recursed into
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;
const INLINE =
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\[(\d{1,2})\](?!\()|\[([^\]\n]+)\]\(([^()\s]+)\)|\*\*([^*\n]+?)\*\*|(?<![\w])__([^_\n]+?)__(?![\w])|\*([^*\s][^*\n]*?)\*|(?<![\w])_([^_\s][^_\n]*?)_(?![\w])/g;

/** A safe href, or null: relative links and anything but http(s)/mailto are dropped. */
export function safeHref(href) {
  try {
    const url = new URL(href);
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/** A citation's link: its own http(s) url, or deflect's source view (`/sources/<id>`, given to sources that have
 * no url) resolved against deflect's own address `base`. Other relative urls are dropped, as in answers. */
export function citationHref(url, base) {
  if (typeof url === "string" && url.startsWith("/sources/") && base) {
    try {
      return safeHref(new URL(url, base).href);
    } catch {
      return null;
    }
  }
  return safeHref(url);
}

function el(tag, className, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) node.append(child);
  return node;
}

/** Inline Markdown as an array of nodes (text nodes and elements only). */
export function renderInline(text, options = {}, inLink = false) {
  const out = [];
  let last = 0;
  const pattern = new RegExp(INLINE.source, "g"); // one per call: the recursion below must not share lastIndex
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    last = pattern.lastIndex;
    if (m[1]) {
      out.push(el("code", "", [m[2]]));
    } else if (m[3]) {
      const cite = options.cite ? options.cite(Number(m[3])) : null;
      out.push(cite || document.createTextNode(m[0]));
    } else if (m[4]) {
      const href = inLink ? null : safeHref(m[5]);
      if (href) {
        const a = el("a", "", renderInline(m[4], options, true));
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        out.push(a);
      } else {
        out.push(...renderInline(m[4], options, inLink));
      }
    } else if (m[6] || m[7]) {
      out.push(el("strong", "", renderInline(m[6] || m[7], options, inLink)));
    } else {
      out.push(el("em", "", renderInline(m[8] || m[9], options, inLink)));
    }
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function table(lines, options) {
  const head = splitRow(lines[0]);
  const aligns = splitRow(lines[1]).map((c) =>
    c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : "",
  );
  const cell = (tag, text, i) => {
    const node = el(tag, aligns[i] ? `align-${aligns[i]}` : "", renderInline(text, options));
    if (tag === "th") node.scope = "col";
    return node;
  };
  const thead = el("thead", "", [el("tr", "", head.map((c, i) => cell("th", c, i)))]);
  const rows = lines.slice(2).map((line) => {
    const cells = splitRow(line);
    return el("tr", "", head.map((_, i) => cell("td", cells[i] ?? "", i)));
  });
  return el("div", "md-table", [el("table", "", [thead, el("tbody", "", rows)])]);
}

/** The lines of the block quote that starts at lines[start]: each `>` line, and the lazy continuation lines of
 * a paragraph inside it (CommonMark: "> a\nb" is one quote), with their markers stripped; and where the quote ends. */
function quoteLines(lines, start) {
  const inner = [];
  let fence = null; // the marker of a fence open inside the quote: a line after it is code, not a lazy paragraph
  let i = start;
  for (; i < lines.length; i++) {
    const quoted = lines[i].match(QUOTE);
    const line = quoted ? quoted[1] : lines[i];
    if (!quoted) {
      const last = inner[inner.length - 1];
      const lazy = !fence && last.trim() && !FENCE.test(last) && line.trim() && !STARTS_BLOCK.some((re) => re.test(line));
      if (!lazy) break;
    }
    if (fence && line.trim().startsWith(fence)) fence = null;
    else if (!fence && FENCE.test(line)) fence = line.match(FENCE)[1];
    inner.push(line);
  }
  return [inner, i];
}

/** Block Markdown rendered into a DocumentFragment. options.cite(n) may return a node for a marker [n]. */
export function renderMarkdown(text, options = {}) {
  return blocks(String(text ?? "").replace(/\r\n?/g, "\n").split("\n"), options, 0);
}

function blocks(lines, options, depth) {
  const frag = document.createDocumentFragment();
  let para = [];
  let list = null; // {node, ordered}
  const flush = () => {
    if (para.length) frag.append(el("p", "", renderInline(para.join(" "), options)));
    para = [];
  };
  const endList = () => {
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(FENCE);
    if (fence) {
      flush();
      endList();
      const body = [];
      let j = i + 1;
      while (j < lines.length && !lines[j].trim().startsWith(fence[1])) body.push(lines[j++]);
      const code = el("code", fence[2] ? `language-${fence[2]}` : "", [body.join("\n")]);
      frag.append(el("pre", "", [code]));
      i = j;
      continue;
    }
    if (!line.trim()) {
      flush();
      endList();
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      flush();
      endList();
      const rows = [line, lines[i + 1]];
      let j = i + 2;
      while (j < lines.length && lines[j].includes("|") && lines[j].trim()) rows.push(lines[j++]);
      frag.append(table(rows, options));
      i = j - 1;
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      flush();
      endList();
      const level = Math.min(6, heading[1].length + 2);
      frag.append(el(`h${level}`, "", renderInline(heading[2], options)));
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_QUOTE_DEPTH) {
      // Its lines are Markdown of their own (code fences, lists, paragraphs), rendered as one quote.
      flush();
      endList();
      const [inner, end] = quoteLines(lines, i);
      frag.append(el("blockquote", "", [blocks(inner, options, depth + 1)]));
      i = end - 1;
      continue;
    }
    const item = line.match(ITEM);
    if (item) {
      flush();
      const ordered = /\d/.test(item[2]);
      if (!list || list.ordered !== ordered) {
        const node = el(ordered ? "ol" : "ul");
        if (ordered && Number.parseInt(item[2], 10) !== 1) node.start = Number.parseInt(item[2], 10);
        frag.append(node);
        list = { node, ordered };
      }
      list.node.append(el("li", "", renderInline(item[3], options)));
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      // A continuation line of the last list item.
      list.node.lastElementChild.append(" ", ...renderInline(line.trim(), options));
      continue;
    }
    endList();
    para.push(line.trim());
  }
  flush();
  return frag;
}

/** The answer as plain text for a reply box (a customer reads it as it is): code blocks verbatim without their
 * fences, list markers kept, headings and quotes as their text, emphasis and inline-code backticks dropped, links as
 * "text (url)". options.cite(n) may return the text for a marker [n] ("" drops it); by default markers are kept. */
export function plainText(text, options = {}) {
  const out = [];
  let fence = null; // the open fence's marker, inside a code block
  for (const line of String(text ?? "").replace(/\r\n?/g, "\n").split("\n")) {
    if (fence) {
      if (line.trim().startsWith(fence)) fence = null;
      else out.push(line);
      continue;
    }
    const opening = line.match(FENCE);
    if (opening) {
      fence = opening[1];
      continue;
    }
    const block = line.match(HEADING) || line.match(QUOTE);
    const prose = block ? block[block.length - 1] : line;
    // A dropped marker takes the space before it along ("credits [3]." reads "credits.").
    out.push(plainInline(prose, options).replace(/[ \t]*\u0000/g, "").replace(/[ \t]+$/, ""));
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trim();
}

function plainInline(text, options) {
  return text.replace(new RegExp(INLINE.source, "g"), (...m) => {
    if (m[1]) return m[2];
    if (m[3]) return options.cite ? options.cite(Number(m[3])) || "\u0000" : m[0];
    if (m[4]) {
      const label = plainInline(m[4], options);
      const href = safeHref(m[5]);
      return href && href !== label ? `${label} (${href})` : label;
    }
    return plainInline(m[6] || m[7] || m[8] || m[9], options);
  });
}
