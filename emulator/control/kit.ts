/** What the control API's handlers share: the call they receive and small body helpers. */
import { notFound, validation } from '../errors';
import type { Reply } from '../http-io';
import type { Routable } from '../router';
import type { Emulator } from '../server';
import type { Store } from '../store';
import type { Org } from '../store/organizations';
import { checkId, type Json, type JsonObject } from '../validate';

export interface ControlCall {
  emu: Emulator;
  store: Store;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body (parsed on demand: routes that take none ignore whatever was sent). */
  json(): Json | undefined;
  /** The JSON body as an object holding only `allowed` keys. */
  body(allowed: readonly string[] | null): JsonObject;
}

export interface ControlRoute extends Routable {
  method: 'GET' | 'POST' | 'DELETE';
  handle(c: ControlCall): Reply;
}

export function bool(v: Json | undefined, field: string): boolean {
  if (typeof v !== 'boolean') throw validation(field, 'must be a boolean');
  return v;
}

/** `organizationId` from the body (any org, parents included), or the bootstrap parent when absent. */
export function optionalOrg(c: ControlCall, b: JsonObject): Org {
  if (b.organizationId === undefined || b.organizationId === null) {
    return c.store.orgs.get(c.emu.parentOrganizationId) as Org;
  }
  if (typeof b.organizationId !== 'string') throw validation('organizationId', 'must be an org id');
  const org = c.store.orgs.get(checkId(b.organizationId, 'org_', 'organizationId'));
  if (!org) throw notFound('Organization');
  return org;
}
