import assert from "node:assert/strict";
import { test } from "node:test";

import { messageFor } from "../../static/approver/js/messages.js";

test("server codes and browser errors map to user messages", () => {
  assert.match(messageFor({ code: "approval_expired" }), /expired/);
  assert.match(messageFor({ code: "number_mismatch" }), /denied/);
  assert.match(messageFor({ name: "NotAllowedError" }), /Nothing was approved/);
  assert.match(messageFor({ code: "network_error" }), /No connection/);
  assert.match(messageFor({ code: "network_timeout" }), /did not answer in time/);
});

test("unknown errors get a generic message, server errors say so", () => {
  assert.equal(messageFor({ code: "whatever" }), "Something went wrong. Please try again.");
  assert.match(messageFor({ code: "x", status: 503 }), /service had a problem/);
  assert.equal(messageFor(null), "Something went wrong. Please try again.");
});
