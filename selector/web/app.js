// Ensemble selector page: start a meeting, join a room by name, show the fleet.
// Served as a file so the Content-Security-Policy can forbid inline script.
"use strict";

// Mirrors rooms.Normalize on the server; the server still validates every name.
const ROOM = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const RESERVED = new Set(["api", "metrics", "static", "assets", "health", "healthz", "ready", "favicon", "robots"]);

function roomProblem(name) {
  if (name === "") return "Enter a room name.";
  if (name.length > 64) return "A room name has at most 64 characters.";
  if (!ROOM.test(name)) return 'Use letters, digits, "-" and "_" only, starting with a letter or digit.';
  if (RESERVED.has(name.toLowerCase())) return '"' + name + '" is reserved; choose another name.';
  return "";
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return "HTTP " + resp.status;
}

function setupStart() {
  const form = document.getElementById("start-form");
  const status = document.getElementById("start-status");
  const button = document.getElementById("start-button");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    status.textContent = "Finding a server…";
    try {
      const resp = await fetch("/api/v1/rooms", { method: "POST", headers: { "Accept": "application/json" } });
      if (resp.status !== 201) throw new Error(await errorText(resp));
      const room = await resp.json();
      status.textContent = "Meeting " + room.room + " on " + room.node + ": opening…";
      window.location.assign(room.url);
    } catch (err) {
      status.textContent = "Could not start a meeting: " + err.message;
      button.disabled = false;
    }
  });
}

function setupJoin() {
  const form = document.getElementById("join-form");
  const input = document.getElementById("room");
  const error = document.getElementById("room-error");
  const check = () => {
    const problem = roomProblem(input.value.trim());
    input.setCustomValidity(problem);
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    return problem;
  };
  input.addEventListener("input", () => { const p = check(); error.textContent = input.value === "" ? "" : p; });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const problem = check();
    error.textContent = problem;
    if (problem) { input.focus(); return; }
    // The same path a browser without JavaScript ends on: the server redirects to the room's node.
    window.location.assign("/" + encodeURIComponent(input.value.trim().toLowerCase()));
  });
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function fmt(v, digits) { return v === null || v === undefined ? "—" : v.toFixed(digits); }

async function refreshFleet() {
  const body = document.getElementById("fleet-body");
  const status = document.getElementById("fleet-status");
  try {
    const resp = await fetch("/api/v1/nodes", { headers: { "Accept": "application/json" } });
    if (!resp.ok) throw new Error(await errorText(resp));
    const fleet = await resp.json();
    const rows = fleet.nodes.map((n) => {
      const tr = document.createElement("tr");
      tr.className = n.state;
      tr.dataset.node = n.id;
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = n.id;
      tr.appendChild(th);
      cell(tr, n.region || "—");
      cell(tr, n.state);
      cell(tr, n.load === null ? "—" : Math.round(n.load * 100) + " %", "num");
      cell(tr, fmt(n.stress, 2), "num");
      cell(tr, String(n.endpoints), "num");
      cell(tr, String(n.pending), "num");
      cell(tr, n.rooms === null ? "—" : String(n.rooms), "num");
      cell(tr, n.age_seconds === null ? "unknown" : fmt(n.age_seconds, 1) + " s", "num");
      return tr;
    });
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 9;
      td.textContent = "No nodes registered.";
      tr.appendChild(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    const notes = [];
    if (!fleet.fresh) notes.push("fleet view is stale");
    // The Consul store counts bound rooms at each sweep, not live: say how old the counts are.
    if (fleet.rooms_age_seconds !== undefined) notes.push("bound rooms counted " + Math.round(fleet.rooms_age_seconds) + " s ago");
    if (fleet.degraded.length) notes.push("degraded: " + fleet.degraded.join(", "));
    status.textContent = "Policy " + fleet.policy + (notes.length ? "; " + notes.join("; ") : "") + ".";
  } catch (err) {
    status.textContent = "Could not load the fleet: " + err.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupStart();
  setupJoin();
  refreshFleet();
  setInterval(refreshFleet, 5000);
});
