// The inspector: reads the admin API's event stream (server-sent events, read with
// fetch so that an admin token can go in the Authorization header) and renders each
// `view`. Every name and state is set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("presence-emulator-token") || "";
let view = null;          // the latest view
let receivedAt = 0;       // performance.now() when it came
let seenEvents = new Set();
let firstView = true;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function setConn(state, text) {
  const c = $("conn");
  c.className = "conn " + state;
  $("conn-text").textContent = text;
}

// Seconds of real time since the view came, which the clock also moved unless paused.
function elapsed() {
  if (!view || view.clock.paused) return 0;
  return (performance.now() - receivedAt) / 1000;
}

function fmtLeft(s) {
  if (s <= 0) return "due";
  if (s < 60) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  if (m < 60) return m + " min " + r + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function fmtTime(unixSeconds) {
  const d = new Date(unixSeconds * 1000);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function renderClock() {
  const c = view.clock;
  const now = c.now + elapsed();
  const box = $("clock");
  box.textContent = fmtTime(now);
  if (c.paused) box.append(el("span", { class: "badge", text: "paused" }));
  if (c.advanced > 0) box.append(el("span", { class: "badge", text: "+" + fmtLeft(c.advanced) + " advanced" }));
}

function renderChips() {
  const s = view.stats;
  const chips = [
    ["occupants", s.occupants], ["channels", s.channels], ["users", s.users],
    ["channel groups", s.channel_groups], ["events", s.events.generated],
    ["requests", s.requests.total], ["open connections", s.connections.open],
  ];
  $("chips").replaceChildren(...chips.map(([label, n]) =>
    el("div", { class: "chip", "data-chip": label }, el("b", { text: String(n) }), el("span", { text: label }))));
}

function matches(filter, ch) {
  if (!filter) return true;
  if (ch.name.toLowerCase().includes(filter)) return true;
  return ch.occupants.some((o) => o.uuid.toLowerCase().includes(filter));
}

function renderKeysets() {
  const filter = $("filter").value.trim().toLowerCase();
  const out = [];
  for (const ks of view.keysets) {
    const box = el("div", { class: "keyset", "data-keyset": ks.subscribe_key });
    box.append(el("h3", {}, "keyset ", el("code", { text: ks.subscribe_key }),
      el("span", { class: "muted", text: "  ·  " + ks.channels_total + " channel" + (ks.channels_total === 1 ? "" : "s") })));
    if (ks.channel_groups.length) {
      const g = el("div", { class: "groups" }, "groups: ");
      ks.channel_groups.forEach((grp, i) => {
        if (i) g.append(" · ");
        g.append(el("code", { text: grp.name }), " → " + grp.channels.join(", "));
      });
      box.append(g);
    }
    const shown = ks.channels.filter((ch) => matches(filter, ch));
    if (!shown.length) box.append(el("p", { class: "empty", text: ks.channels.length ? "No channel matches the filter." : "No occupant." }));
    for (const ch of shown) {
      const card = el("div", { class: "channel", "data-channel": ch.name },
        el("div", { class: "head" }, el("span", { class: "name", text: ch.name }),
          el("span", { class: "occ", title: "occupancy", text: String(ch.occupancy) })));
      const rows = ch.occupants.map((o) => {
        const left = Math.max(0, o.seconds_left - elapsed());
        const pct = Math.max(0, Math.min(100, (100 * left) / o.timeout));
        const bar = el("div", { class: "bar" + (pct < 25 ? " low" : "") }, el("i", { style: "width:" + pct.toFixed(1) + "%" }));
        return el("tr", { class: "occupant", "data-uuid": o.uuid },
          el("td", { class: "uuid", text: o.uuid }),
          el("td", { class: "state" }, o.state == null ? el("span", { class: "muted", text: "—" }) : el("code", { text: JSON.stringify(o.state) })),
          el("td", { class: "left", "data-left": String(o.seconds_left), "data-timeout": String(o.timeout) },
            fmtLeft(left) + " of " + o.timeout + " s", bar));
      });
      card.append(el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "user" }), el("th", { text: "state" }), el("th", { text: "time left" }))),
        el("tbody", {}, ...rows)));
      if (ch.occupancy > ch.occupants.length) card.append(el("div", { class: "more", text: "… and " + (ch.occupancy - ch.occupants.length) + " more" }));
      box.append(card);
    }
    if (ks.channels_total > ks.channels.length) box.append(el("p", { class: "more", text: "… and " + (ks.channels_total - ks.channels.length) + " more channels" }));
    out.push(box);
  }
  $("keysets").replaceChildren(...out);
}

function describe(e) {
  const d = e.event;
  if (d.action === "interval") {
    const parts = [];
    for (const k of ["join", "leave", "timeout"]) if (d[k]) parts.push(k + ": " + d[k].join(", "));
    if (d.here_now_refresh) parts.push("here_now_refresh");
    return e.channel + " · occupancy " + d.occupancy + (parts.length ? " · " + parts.join(" · ") : "");
  }
  let s = d.uuid + " @ " + e.channel + " · occupancy " + d.occupancy;
  if (d.data !== undefined) s += " · " + JSON.stringify(d.data);
  return s;
}

function renderEvents() {
  const list = view.events;
  $("events-count").textContent = list.length ? "newest " + list.length : "";
  if (!list.length) { $("events").replaceChildren(el("li", { class: "empty", text: "No presence event yet." })); return; }
  const items = list.map((e) => {
    const key = e.keyset + "/" + e.timetoken;
    const fresh = !firstView && !seenEvents.has(key);
    return el("li", { class: "ev ev-" + e.event.action + (fresh ? " fresh" : ""), "data-action": e.event.action },
      el("span", { class: "pill", text: e.event.action }),
      el("span", { class: "what", text: describe(e) }),
      el("span", { class: "when", text: fmtTime(e.event.timestamp) + " · " + e.keyset }));
  });
  seenEvents = new Set(list.map((e) => e.keyset + "/" + e.timetoken));
  $("events").replaceChildren(...items);
}

function renderFaults() {
  const rules = view.faults || [];
  if (!rules.length) { $("faults").replaceChildren(el("p", { class: "empty", text: "No active fault rule." })); return; }
  $("faults").replaceChildren(...rules.map((r) => el("div", { class: "fault", text: typeof r === "string" ? r : JSON.stringify(r) })));
}

function renderRequests() {
  const by = view.stats.requests.by_operation;
  const ops = Object.keys(by);
  $("requests-total").textContent = view.stats.requests.total + " total · " + view.stats.admin_requests + " admin";
  if (!ops.length) { $("requests").replaceChildren(el("p", { class: "empty", text: "No presence request yet." })); return; }
  const rows = ops.map((op) => el("tr", { "data-operation": op }, el("td", { class: "mono", text: op }),
    el("td", {}, ...Object.entries(by[op]).flatMap(([status, n], i) =>
      [i ? " · " : "", el("span", { class: "status-" + status[0], text: status }), " × " + n]))));
  $("requests").replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "operation" }), el("th", { text: "status × count" }))), el("tbody", {}, ...rows)));
}

function render() {
  if (!view) return;
  renderClock(); renderChips(); renderKeysets(); renderEvents(); renderFaults(); renderRequests();
  firstView = false;
}

// Between views the clock and the time left move on their own.
setInterval(() => { if (view && !view.clock.paused) { renderClock(); renderKeysets(); } }, 1000);
$("filter").addEventListener("input", () => { if (view) renderKeysets(); });
$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $("token-input").value;
  sessionStorage.setItem("presence-emulator-token", token);
  $("token-form").hidden = true;
  connect();
});

let retry = 500;
async function connect() {
  setConn("", "connecting…");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  let resp;
  try {
    resp = await fetch("/_emulator/v1/stream", { headers, cache: "no-store" });
  } catch (e) {
    return again();
  }
  if (resp.status === 401) {
    setConn("down", "needs the admin token");
    $("token-form").hidden = false;
    return;
  }
  if (!resp.ok || !resp.body) return again();
  setConn("live", "live");
  retry = 500;
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let name = "message", data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (name === "view" && data) {
          view = JSON.parse(data);
          receivedAt = performance.now();
          render();
        }
      }
    }
  } catch (e) { /* the stream broke: reconnect */ }
  again();
}

function again() {
  setConn("down", "reconnecting…");
  setTimeout(connect, retry);
  retry = Math.min(retry * 2, 5000);
}

connect();
