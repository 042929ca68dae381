// node --test tests/js : the pure parts of the approver's ES modules (no browser needed).
import assert from "node:assert/strict";
import { test } from "node:test";

import { b64urlToBuffer, bufferToB64url, webauthnAvailable } from "../../static/approver/js/webauthn.js";

test("base64url round trip keeps every byte value", () => {
  const bytes = new Uint8Array(256).map((_, i) => i);
  const encoded = bufferToB64url(bytes.buffer);
  assert.ok(!/[+/=]/.test(encoded));
  assert.deepEqual(new Uint8Array(b64urlToBuffer(encoded)), bytes);
});

test("base64url decodes unpadded input of every length", () => {
  for (const [text, expected] of [["", []], ["AA", [0]], ["AAE", [0, 1]], ["AAEC", [0, 1, 2]], ["_-8", [255, 239]]]) {
    assert.deepEqual([...new Uint8Array(b64urlToBuffer(text))], expected, text);
  }
});

test("webauthnAvailable is false without PublicKeyCredential", async () => {
  globalThis.window = {};
  assert.equal(await webauthnAvailable(), false);
});

test("webauthnAvailable asks for a user-verifying platform authenticator", async () => {
  globalThis.window = { PublicKeyCredential: {} };
  globalThis.PublicKeyCredential = { isUserVerifyingPlatformAuthenticatorAvailable: async () => true };
  Object.defineProperty(globalThis, "navigator", { value: { credentials: {} }, configurable: true });
  assert.equal(await webauthnAvailable(), true);
  globalThis.PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable = async () => {
    throw new Error("boom");
  };
  assert.equal(await webauthnAvailable(), false);
});
