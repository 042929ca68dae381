// Where the approver web app keeps its device passcode (TOTP) secret: IndexedDB, bound to this origin.
// Never localStorage (synchronous, string-only, often copied by tooling) and never a cookie (it would
// travel with every request). One record per browser profile: {deviceId, secret, digits, period, ...}.

const DB_NAME = "approver";
const STORE = "passcode";
const KEY = "current";

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, operation) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = operation(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** The stored passcode record, or null (none yet, or IndexedDB unavailable). */
export async function loadPasscode() {
  if (!("indexedDB" in self)) return null;
  try {
    return (await run("readonly", (store) => store.get(KEY))) || null;
  } catch (err) {
    return null;
  }
}

export function savePasscode(record) {
  return run("readwrite", (store) => store.put(record, KEY));
}

export async function clearPasscode() {
  if (!("indexedDB" in self)) return;
  try {
    await run("readwrite", (store) => store.delete(KEY));
  } catch (err) {
    // nothing stored, nothing to forget
  }
}
