import assert from "node:assert/strict";
import { test } from "node:test";

import { passcodeAt } from "../../static/approver/js/passcode.js";

// RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (base32 below); the last 6 of the 8 digits.
const record = { secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", digits: 6, period: 30, algorithm: "SHA1" };

test("passcodes match the RFC 6238 SHA-1 test vectors", () => {
  assert.equal(passcodeAt(record, 59_000).code, "287082");
  assert.equal(passcodeAt(record, 1_111_111_109_000).code, "081804");
  assert.equal(passcodeAt(record, 1_234_567_890_000).code, "005924");
  assert.equal(passcodeAt(record, 2_000_000_000_000).code, "279037");
});

test("seconds left count down to the end of the 30 s step", () => {
  assert.equal(passcodeAt(record, 60_000).secondsLeft, 30);
  assert.equal(passcodeAt(record, 89_999).secondsLeft, 1);
  assert.equal(passcodeAt(record, 75_500).secondsLeft, 15);
});
