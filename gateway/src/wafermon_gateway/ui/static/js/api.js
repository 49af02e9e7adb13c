// The gateway's API as the page uses it: the key from sessionStorage as a Bearer token, JSON
// errors turned into exceptions, and the SSE stream read with fetch (EventSource cannot send
// an Authorization header).
const KEY = "wafermon.apiKey";

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY)),
};

function headers(extra = {}) {
  const key = apiKey.get();
  return key ? { Authorization: `Bearer ${key}`, ...extra } : extra;
}

export async function getJSON(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (Array.isArray(value)) value.forEach((v) => query.append(name, v));
    else if (value !== undefined && value !== null && value !== "") query.append(name, value);
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: headers({ Accept: "application/json" }) });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let field = null;
    try {
      const body = await response.json();
      message = body.error || message;
      field = body.field || null;
    } catch { /* not the gateway's JSON error shape */ }
    throw new ApiError(response.status, message, field);
  }
  return response.json();
}

// Follows GET /v1/stream; calls onEvent(kind, row) per message and onState("live"|"retrying"|...).
// Reconnects with Last-Event-ID after a drop. Returns a function that stops it.
export function followStream(params, onEvent, onState) {
  const controller = new AbortController();
  let lastId = null;
  let stopped = false;
  const query = new URLSearchParams(params);

  async function run() {
    while (!stopped) {
      try {
        const h = headers({ Accept: "text/event-stream" });
        if (lastId !== null) h["Last-Event-ID"] = lastId;
        const response = await fetch(`/v1/stream?${query}`, { headers: h, signal: controller.signal });
        if (response.status === 401 || response.status === 403) {
          const body = await response.json().catch(() => ({}));
          onState("denied", body.error || "not allowed");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        onState("live");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let kind = "message", data = "", id = null;
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) kind = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
              else if (line.startsWith("id: ")) id = line.slice(4);
            }
            if (id !== null) lastId = id;
            if (data) onEvent(kind, JSON.parse(data));
          }
        }
      } catch (error) {
        if (stopped) return;
      }
      if (stopped) return;
      onState("retrying");
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
  run();
  return () => { stopped = true; controller.abort(); };
}
