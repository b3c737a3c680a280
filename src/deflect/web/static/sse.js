// Read a POST that answers with Server-Sent Events (EventSource only does GET without a body or headers).

export class RequestError extends Error {
  constructor(status, body, retryAfter) {
    const error = body && body.error ? body.error : { code: "http_error", message: `HTTP ${status}` };
    super(error.message);
    this.status = status;
    this.code = error.code;
    this.details = error.details || [];
    this.retryAfter = retryAfter;
  }
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const retry = response.headers.get("Retry-After");
  return new RequestError(response.status, body, retry ? Number(retry) : null);
}

/** POST JSON; resolve the parsed JSON body, or reject with a RequestError carrying deflect's error shape. */
export async function postJson(url, body, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

async function get(url, headers) {
  const response = await fetch(url, { headers });
  if (!response.ok) throw await failure(response);
  return response;
}

/** GET JSON with headers. */
export async function getJson(url, headers = {}) {
  return (await get(url, headers)).json();
}

/** GET one page of a JSON list: its items and the X-Total-Count sent with them (null when there is none). */
export async function getPage(url, headers = {}) {
  const response = await get(url, headers);
  const total = response.headers.get("X-Total-Count");
  return { items: await response.json(), total: total === null ? null : Number(total) };
}

/** POST `body` to `url` and call onEvent(name, data) for each event as it arrives. Comments are skipped. */
export async function streamEvents(url, body, headers, onEvent, signal) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...headers },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      end = buffer.indexOf("\n\n");
    }
  }
}
