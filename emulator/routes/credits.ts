/**
 * Child credits (pages 003 and 004, CONTRACT.md "Credits"): allocate (Idempotency-Key required),
 * the wallet, the ledger, and the credit config (cap + auto-refill).
 */
import { archivedConflict, validation } from '../errors';
import { configJson, patchCreditConfig, type CreditConfigPatch } from '../store/credit-config';
import { allocate, available, balances, ledgerJson, wallet } from '../store/credits';
import {
  LEDGER_EVENT_TYPES,
  bodyObject,
  integer,
  metadataMap,
  optionalString,
  timestampParam,
  type Json,
} from '../validate';
import { child, ok, orgIdParam, page, pageQuery, route, selfOrChild, type RequestCtx } from './kit';

/** The GET and PATCH credit-config response: the config plus the live balances. */
const creditConfigView = (ctx: RequestCtx, orgId: string): Json => ({
  organizationId: orgId,
  config: configJson(ctx.store, orgId),
  ...balances(ctx.store, orgId),
});

const allocateRoute = route('POST', '/v1/organizations/:orgId/credits/allocate', 'org:admin', {
  idempotency: 'required',
  markReplays: true,
  validate: (ctx) => {
    const id = orgIdParam(ctx);
    const b = bodyObject(ctx.body, ['credits', 'description', 'metadata']);
    const credits = integer(b.credits, 'credits', 1, { required: true }) as number;
    const description = optionalString(b, 'description', 0, 500) ?? null;
    const metadata = metadataMap(b.metadata) ?? {};
    return { id, credits, description, metadata };
  },
  execute: (
    ctx,
    input: { id: string; credits: number; description: string | null; metadata: Record<string, string> },
  ) =>
    ok(
      allocate(
        ctx.store,
        ctx.acting.id,
        child(ctx, input.id),
        input.credits,
        input.description,
        input.metadata,
      ),
    ),
});

const getCredits = route('GET', '/v1/organizations/:orgId/credits', 'org:admin', {
  validate: orgIdParam,
  execute: (ctx, id: string) => {
    const org = selfOrChild(ctx, id);
    const w = wallet(ctx.store, org.id);
    return ok({
      organizationId: org.id,
      balance: w.balance,
      available: available(w),
      reservedCredits: w.reserved,
      usedThisMonth: w.usedThisMonth,
      billingPeriod: w.usagePeriod,
    });
  },
});

interface EventsQuery {
  id: string;
  eventType: string | null;
  since: number | null;
  until: number | null;
  limit: number;
  cursor: number | null;
}

const listEvents = route('GET', '/v1/organizations/:orgId/credits/events', 'org:admin', {
  validate: (ctx): EventsQuery => {
    const eventType = ctx.query.get('eventType');
    if (eventType !== null && !(LEDGER_EVENT_TYPES as readonly string[]).includes(eventType)) {
      throw validation('eventType', `must be one of ${LEDGER_EVENT_TYPES.join(', ')}`);
    }
    return {
      id: orgIdParam(ctx),
      eventType,
      since: timestampParam(ctx.query.get('since'), 'since'),
      until: timestampParam(ctx.query.get('until'), 'until'),
      ...pageQuery(ctx, 100),
    };
  },
  execute: (ctx, q: EventsQuery) => {
    const org = selfOrChild(ctx, q.id);
    const all = (ctx.store.ledgerByOrg.get(org.id) ?? []).filter(
      (e) =>
        (q.eventType === null || e.eventType === q.eventType) &&
        (q.since === null || e.createdAt >= q.since) &&
        (q.until === null || e.createdAt < q.until),
    );
    return page(all, q, ledgerJson);
  },
});

const getCreditConfig = route('GET', '/v1/organizations/:orgId/credit-config', 'org:admin', {
  validate: orgIdParam,
  execute: (ctx, id: string) => ok(creditConfigView(ctx, child(ctx, id).id)),
});

const patchCreditConfigRoute = route('PATCH', '/v1/organizations/:orgId/credit-config', 'org:admin', {
  validate: (ctx) => {
    const id = orgIdParam(ctx);
    const b = bodyObject(ctx.body, [
      'monthlyCreditCap',
      'refillThreshold',
      'refillAmount',
      'autoRefillEnabled',
    ]);
    if (b.autoRefillEnabled !== undefined) {
      throw validation(
        'autoRefillEnabled',
        'is derived (read-only); set refillThreshold and refillAmount instead',
      );
    }
    const patch: CreditConfigPatch = {};
    const cap = integer(b.monthlyCreditCap, 'monthlyCreditCap', 0, { nullable: true });
    const threshold = integer(b.refillThreshold, 'refillThreshold', 0, { nullable: true });
    const amount = integer(b.refillAmount, 'refillAmount', 1, { nullable: true });
    if (cap !== undefined) patch.monthlyCreditCap = cap;
    if (threshold !== undefined) patch.refillThreshold = threshold;
    if (amount !== undefined) patch.refillAmount = amount;
    return { id, patch };
  },
  execute: (ctx, input: { id: string; patch: CreditConfigPatch }) => {
    const org = child(ctx, input.id);
    // An empty body is a no-op that echoes the config — except on an archived child (terminal: 409).
    if (Object.keys(input.patch).length === 0) {
      if (org.status === 'archived') throw archivedConflict(org.id);
    } else {
      patchCreditConfig(ctx.store, org, input.patch);
    }
    return ok(creditConfigView(ctx, org.id));
  },
});

export const creditRoutes = [allocateRoute, getCredits, listEvents, getCreditConfig, patchCreditConfigRoute];
