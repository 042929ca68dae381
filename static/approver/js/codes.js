// Session codes (fallbacks app): codes the server sent to this phone for a sign-in waiting elsewhere.
// The user reads the code here and types it on the sign-in page. They arrive over the live socket
// ({"type": "session.code", ...}) and are fetched from the device API on refresh; nothing is stored.

import { request } from "./api.js";

const ENDPOINT = "/api/v1/device/codes";
const codes = new Map(); // approval_id -> {approval_id, code, expires_at, application}

export async function refreshCodes() {
  let answer;
  try {
    answer = await request(ENDPOINT, { headers: { Accept: "application/json" } });
  } catch (err) {
    return; // offline or no answer: the live socket or the next refresh brings them
  }
  if (!answer.response.ok || !Array.isArray(answer.body)) return;
  codes.clear();
  for (const item of answer.body) codes.set(item.approval_id, item);
  render();
}

export function addCode(message) {
  codes.set(message.approval_id, message);
  render();
}

export function dropCode(approvalId) {
  if (codes.delete(approvalId)) render();
}

function render() {
  const list = document.getElementById("codes-list");
  if (!list) return;
  const now = Date.now();
  list.replaceChildren();
  for (const [approvalId, item] of codes) {
    if (Date.parse(item.expires_at) <= now) {
      codes.delete(approvalId);
      continue;
    }
    const li = document.createElement("li");
    li.className = "card";
    const label = document.createElement("span");
    label.textContent = `Code for ${item.application}: `;
    const code = document.createElement("strong");
    code.className = "session-code";
    code.textContent = item.code;
    li.append(label, code);
    list.append(li);
  }
  list.hidden = list.children.length === 0;
}
