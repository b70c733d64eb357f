/**
 * Request validation. Every failure is `422 VALIDATION` with `details.field` naming the offending
 * field and `details.reason` saying why (CONTRACT.md: "malformed body or id, out-of-bounds field").
 */
import { z } from 'zod';
import { validation } from './errors';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export const KNOWN_SCOPES = [
  'org:admin',
  'projects:read',
  'projects:write',
  'content:read',
  'content:write',
] as const;
export type Scope = (typeof KNOWN_SCOPES)[number];
export const WEBHOOK_EVENT_TYPES = [
  'content.generated',
  'post.published',
  'job.completed',
  'test.ping',
] as const;
export const LEDGER_EVENT_TYPES = [
  'usage',
  'refund',
  'grant',
  'purchase',
  'adjustment',
  'allocation',
] as const;

const ID_BODY = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * Ids: a wrong prefix or characters outside [A-Za-z0-9_-] (or > 100 chars) is malformed → 422;
 * a well-prefixed id that matches nothing the caller may see is 404 (anti-enumeration).
 */
export function checkId(value: string, prefix: string, field: string): string {
  if (!value.startsWith(prefix) || !ID_BODY.test(value.slice(prefix.length))) {
    throw validation(field, `must be an id of the form ${prefix}…`);
  }
  return value;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The body must be a JSON object holding only `allowed` keys (unknown fields are refused). */
export function bodyObject(body: Json | undefined, allowed: readonly string[] | null): JsonObject {
  const obj = body === undefined ? {} : body;
  if (!isObject(obj)) throw validation('body', 'must be a JSON object');
  if (allowed) {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) throw validation(k, 'is not a recognized field');
    }
  }
  return obj;
}

/** An empty body (or `{}`) is the only thing accepted where the route takes none. */
export function emptyBody(body: Json | undefined): void {
  bodyObject(body, []);
}

export function requiredString(obj: JsonObject, field: string, min: number, max: number): string {
  const v = obj[field];
  if (v === undefined || v === null) throw validation(field, 'is required');
  return stringIn(v, field, min, max);
}

export function optionalString(
  obj: JsonObject,
  field: string,
  min: number,
  max: number,
): string | null | undefined {
  const v = obj[field];
  if (v === undefined) return undefined;
  if (v === null) return null;
  return stringIn(v, field, min, max);
}

function stringIn(v: Json, field: string, min: number, max: number): string {
  if (typeof v !== 'string') throw validation(field, 'must be a string');
  const len = [...v].length;
  if (len < min || len > max) throw validation(field, `must be ${min}–${max} characters`, { min, max });
  if (min > 0 && v.trim() === '') throw validation(field, 'must not be blank');
  return v;
}

const intSchema = z.number().int().safe();

/** An integer within [min, max]; `nullable` lets `null` through (PATCH clears). */
export function integer(
  v: Json | undefined,
  field: string,
  min: number,
  opts: { nullable?: boolean; required?: boolean } = {},
): number | null | undefined {
  if (v === undefined) {
    if (opts.required) throw validation(field, 'is required');
    return undefined;
  }
  if (v === null) {
    if (opts.nullable) return null;
    throw validation(field, opts.required ? 'is required' : 'must not be null');
  }
  if (!intSchema.safeParse(v).success) throw validation(field, 'must be an integer');
  const n = v as number;
  if (n < min)
    throw validation(field, min === 1 ? 'must be a positive integer (> 0)' : `must be ≥ ${min}`, { min });
  return n;
}

/** String→string metadata, ≤ 50 keys, key 1–40 chars, value ≤ 500 chars. */
export function metadataMap(v: Json | undefined, field = 'metadata'): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw validation(field, 'must be an object of string values');
  const keys = Object.keys(v);
  if (keys.length > 50) throw validation(field, 'must have at most 50 keys', { maxKeys: 50 });
  const out: Record<string, string> = {};
  for (const k of keys) {
    const val = v[k];
    if ([...k].length < 1 || [...k].length > 40)
      throw validation(`${field}.${k}`, 'keys must be 1–40 characters');
    if (typeof val !== 'string') throw validation(`${field}.${k}`, 'values must be strings');
    if ([...val].length > 500) throw validation(`${field}.${k}`, 'values must be at most 500 characters');
    out[k] = val;
  }
  return out;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export function optionalEmail(obj: JsonObject, field: string): string | null | undefined {
  const v = optionalString(obj, field, 3, 254);
  if (typeof v === 'string' && !EMAIL.test(v)) throw validation(field, 'must be an email address');
  return v;
}

export function scopesList(v: Json | undefined, field = 'scopes'): Scope[] {
  if (!Array.isArray(v)) throw validation(field, 'must be an array of scopes');
  if (v.length < 1 || v.length > 64) throw validation(field, 'must hold 1–64 scopes', { min: 1, max: 64 });
  const seen = new Set<string>();
  for (const s of v) {
    if (typeof s !== 'string' || !(KNOWN_SCOPES as readonly string[]).includes(s)) {
      throw validation(field, `unknown scope ${JSON.stringify(s)}`, { knownScopes: KNOWN_SCOPES });
    }
    if (seen.has(s)) throw validation(field, `duplicate scope ${s}`);
    seen.add(s);
  }
  return v as Scope[];
}

export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Webhook URLs: https anywhere; plain http only for loopback hosts (local receivers). */
export function webhookUrl(v: Json | undefined): string {
  if (typeof v !== 'string') throw validation('url', 'is required and must be a string');
  if (v.length > 2048) throw validation('url', 'must be at most 2048 characters');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw validation('url', 'must be an absolute URL');
  }
  const loopback = u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
    throw validation('url', 'must use https (http is accepted only for localhost / 127.0.0.1 / [::1])');
  }
  if (u.username || u.password) throw validation('url', 'must not embed credentials');
  return v;
}

/** Pagination `limit`: integer string within bounds, default when absent. */
export function limitParam(raw: string | null, min: number, max: number, dflt: number): number {
  if (raw === null) return dflt;
  if (!/^\d+$/.test(raw))
    throw validation('limit', `must be an integer between ${min} and ${max}`, { min, max });
  const n = Number(raw);
  if (n < min || n > max)
    throw validation('limit', `must be an integer between ${min} and ${max}`, { min, max });
  return n;
}

/** Opaque cursors encode the sequence number of the last item returned. */
export function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString('base64url');
}

export function cursorParam(raw: string | null): number | null {
  if (raw === null || raw === '') return null;
  const decoded = Buffer.from(raw, 'base64url').toString('utf8');
  const m = /^s:(\d+)$/.exec(decoded);
  if (!m) throw validation('cursor', 'is not a cursor this API returned');
  return Number(m[1]);
}

export function timestampParam(raw: string | null, field: string): number | null {
  if (raw === null) return null;
  const ms = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(ms))
    throw validation(field, 'must be an ISO-8601 timestamp');
  return ms;
}
