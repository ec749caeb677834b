import { test } from "node:test";
import assert from "node:assert/strict";
import { SessionSecretCache } from "../../mod.ts";

const key = (byte: number) => new Uint8Array(32).fill(byte);

test("insert, get, contains, len, isEmpty", () => {
  const cache = new SessionSecretCache();
  assert.ok(cache.isEmpty());
  cache.insert("a", key(1));
  cache.insert("b", key(2));
  assert.equal(cache.len(), 2);
  assert.ok(!cache.isEmpty());
  assert.ok(cache.contains("a"));
  assert.ok(!cache.contains("c"));
  assert.deepEqual(cache.get("b"), key(2));
  assert.equal(cache.get("c"), undefined);
});

test("insert stores a copy and get returns a copy", () => {
  const cache = new SessionSecretCache();
  const original = key(7);
  cache.insert("a", original);
  original.fill(0);
  const out = cache.get("a")!;
  out.fill(9);
  assert.deepEqual(cache.get("a"), key(7));
  assert.notEqual(cache.get("a"), cache.get("a"));
});

test("insert replaces an existing key", () => {
  const cache = new SessionSecretCache();
  cache.insert("a", key(1));
  cache.insert("a", key(2));
  assert.equal(cache.len(), 1);
  assert.deepEqual(cache.get("a"), key(2));
});

test("remove returns the key and forgets it", () => {
  const cache = new SessionSecretCache();
  cache.insert("a", key(3));
  assert.deepEqual(cache.remove("a"), key(3));
  assert.equal(cache.remove("a"), undefined);
  assert.ok(!cache.contains("a"));
});

test("clear zeroes the key bytes before dropping them", () => {
  const cache = new SessionSecretCache();
  cache.insert("a", key(5));
  const held = cache.inner().get("a")!;
  cache.clear();
  assert.ok(cache.isEmpty());
  assert.deepEqual(held, key(0));
});

test("clone and fromShared share one map", () => {
  const map = new Map<string, Uint8Array>();
  const first = SessionSecretCache.fromShared(map);
  const second = first.clone();
  first.insert("a", key(1));
  assert.ok(second.contains("a"));
  second.remove("a");
  assert.ok(!first.contains("a"));
  assert.equal(first.inner(), map);
  assert.equal(second.inner(), map);
  const third = SessionSecretCache.fromShared(map);
  third.insert("b", key(2));
  assert.equal(first.len(), 1);
});

test("separate caches do not share", () => {
  const a = new SessionSecretCache();
  const b = new SessionSecretCache();
  a.insert("x", key(1));
  assert.ok(!b.contains("x"));
});
