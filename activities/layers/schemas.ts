/**
 * zod schemas for every Layers Partner API request and response this product uses, and the
 * TypeScript types inferred from them.
 *
 * Authority: the public Layers API docs, summarised in docs/layers-api-contract.md.
 *
 * Policy:
 * - Strict about what the product relies on: id prefixes (`org_`, `key_`, `txn_`, `prj_`, `whe_`),
 *   credit amounts are integers, enums the workflows branch on, the nullability the docs state.
 * - Lenient about everything else: unknown extra fields are accepted (and kept — `z.looseObject`),
 *   and fields the docs' own examples omit are optional, so the client stays correct if the real
 *   API returns a leaner or richer object than the emulator.
 *
 * Response schemas are used by the client to validate every 2xx body; a mismatch raises a
 * non-retryable `LayersContractError` naming the field. Request schemas document (and type) what
 * the client sends; bounds are enforced by the API (422 VALIDATION), not duplicated client-side.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------------------------

const prefixed = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}[A-Za-z0-9][A-Za-z0-9_-]*$`), {
    message: `expected a ${prefix}-prefixed id`,
  });

export const OrgId = prefixed('org_');
export const KeyId = prefixed('key_');
export const TxnId = prefixed('txn_');
export const ProjectId = prefixed('prj_');
export const WebhookEndpointId = prefixed('whe_');

/** Whole credits. Balances, allocations and config knobs are integers everywhere in the API. */
export const Credits = z.number().int();
export const NonNegativeCredits = z.number().int().nonnegative();

/** ISO-8601 timestamp as the API renders it (`2026-06-01T14:30:00.000000+00:00`). Kept a string. */
export const Timestamp = z.string().min(1);

/** string → string metadata (orgs, allocations, webhook endpoints). */
export const StringMap = z.record(z.string(), z.string());

export const OrganizationStatus = z.enum(['active', 'suspended', 'archived']);
export type OrganizationStatus = z.infer<typeof OrganizationStatus>;

export { KNOWN_SCOPES } from '../../common/onboarding-input';

/** Generic list envelope: `{items, nextCursor}`; `nextCursor` is null on the last page. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.looseObject({
    items: z.array(item),
    nextCursor: z.string().min(1).nullable(),
  });
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// ---------------------------------------------------------------------------------------------
// Errors (the envelope every non-2xx carries)
// ---------------------------------------------------------------------------------------------

export const ErrorEnvelope = z.object({
  error: z.looseObject({
    code: z.string().min(1),
    message: z.string().optional(),
    requestId: z.string().optional(),
    details: z.record(z.string(), z.unknown()).nullish(),
  }),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

// ---------------------------------------------------------------------------------------------
// whoami
// ---------------------------------------------------------------------------------------------

export const WhoAmI = z.looseObject({
  organizationId: OrgId,
  organizationName: z.string(),
  /** null for a root (partner) org; the parent's id for a child org. */
  parentOrganizationId: OrgId.nullable(),
  scopes: z.array(z.string()),
  rateLimitTier: z.string().min(1),
  apiKeyId: KeyId,
  creditBalance: Credits,
  killSwitch: z.boolean(),
  apiAccessRevoked: z.boolean(),
});
export type WhoAmI = z.infer<typeof WhoAmI>;

// ---------------------------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------------------------

export const CreateOrganizationRequest = z.object({
  name: z.string().min(1).max(128),
  metadata: StringMap.optional(),
  billingEmail: z.string().optional(),
});
export type CreateOrganizationRequest = z.infer<typeof CreateOrganizationRequest>;

export const UpdateOrganizationRequest = z.object({ metadata: StringMap });
export type UpdateOrganizationRequest = z.infer<typeof UpdateOrganizationRequest>;

export const Organization = z.looseObject({
  id: OrgId,
  parentOrganizationId: OrgId,
  name: z.string(),
  status: OrganizationStatus,
  metadata: StringMap,
  billingEmail: z.string().nullable(),
  /** Contract lists it; the docs' create example omits it → optional, null until archived. */
  archivedAt: Timestamp.nullable().optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Organization = z.infer<typeof Organization>;

export const CreditConfig = z.looseObject({
  monthlyCreditCap: NonNegativeCredits.nullable(),
  refillThreshold: NonNegativeCredits.nullable(),
  refillAmount: NonNegativeCredits.nullable(),
  autoRefillEnabled: z.boolean(),
});
export type CreditConfig = z.infer<typeof CreditConfig>;

export const OrganizationSummary = z.looseObject({
  projectCount: z.number().int().nonnegative(),
  balance: Credits,
  available: Credits,
  creditConfig: CreditConfig,
});
export type OrganizationSummary = z.infer<typeof OrganizationSummary>;

/**
 * `GET /v1/organizations/:orgId`. The docs' example shows only `id, name, status, summary`, so the
 * other organization fields are optional here (present in the emulator, per the contract).
 */
export const OrganizationWithSummary = z.looseObject({
  ...Organization.shape,
  parentOrganizationId: Organization.shape.parentOrganizationId.optional(),
  metadata: Organization.shape.metadata.optional(),
  billingEmail: Organization.shape.billingEmail.optional(),
  createdAt: Organization.shape.createdAt.optional(),
  updatedAt: Organization.shape.updatedAt.optional(),
  summary: OrganizationSummary,
});
export type OrganizationWithSummary = z.infer<typeof OrganizationWithSummary>;

export const OrganizationPage = pageOf(Organization);

export const ArchiveResult = z.looseObject({
  id: OrgId,
  status: z.literal('archived'),
  archivedAt: Timestamp,
  reclaimedCredits: NonNegativeCredits,
  revokedApiKeys: z.number().int().nonnegative(),
});
export type ArchiveResult = z.infer<typeof ArchiveResult>;

export interface ListOrganizationsQuery {
  status?: OrganizationStatus;
  limit?: number;
  cursor?: string;
}

// ---------------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------------

export const CreateApiKeyRequest = z.object({
  name: z.string().min(1).max(120),
  scopes: z.array(z.string()).min(1).max(64),
  env: z.literal('live').optional(),
});
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

/** A key's display prefix: `lp_live_` plus 16 characters (test keys: `lp_test_`). */
export const ApiKeyPrefix = z
  .string()
  .regex(/^lp_(live|test)_[A-Za-z0-9_-]{16}$/, { message: 'expected lp_<env>_ followed by 16 characters' });

export const ApiKey = z.looseObject({
  id: KeyId,
  organizationId: OrgId,
  name: z.string(),
  prefix: ApiKeyPrefix,
  scopes: z.array(z.string()),
  status: z.string().min(1),
  // Listed by the contract, omitted by the docs' mint example → optional.
  env: z.string().optional(),
  rateLimitTier: z.string().optional(),
  createdAt: Timestamp.optional(),
  lastUsedAt: Timestamp.nullable().optional(),
  rotatedAt: Timestamp.nullable().optional(),
  revokedAt: Timestamp.nullable().optional(),
  graceUntil: Timestamp.nullable().optional(),
  supersededBy: KeyId.nullable().optional(),
});
export type ApiKey = z.infer<typeof ApiKey>;

/** Mint / rotate response. `secret` is shown once: never log it, never put it in an error. */
export const MintedApiKey = z.looseObject({
  apiKey: ApiKey,
  secret: z.string().regex(/^lp_(live|test)_\S+$/, { message: 'expected an lp_<env>_ secret' }),
  warning: z.string().optional(),
});
export type MintedApiKey = z.infer<typeof MintedApiKey>;

export const ApiKeyPage = pageOf(ApiKey);

export const RevokeApiKeyResult = z.looseObject({
  apiKey: ApiKey,
  deleted: z.literal(true),
});
export type RevokeApiKeyResult = z.infer<typeof RevokeApiKeyResult>;

export interface ListApiKeysQuery {
  limit?: number;
  cursor?: string;
}

// ---------------------------------------------------------------------------------------------
// Credits
// ---------------------------------------------------------------------------------------------

export const AllocateCreditsRequest = z.object({
  credits: z.number().int().positive(),
  description: z.string().max(500).optional(),
  metadata: StringMap.optional(),
});
export type AllocateCreditsRequest = z.infer<typeof AllocateCreditsRequest>;

export const Allocation = z.looseObject({
  id: TxnId,
  organizationId: OrgId,
  allocated: z.number().int().positive(),
  balance: Credits,
  available: Credits,
  description: z.string().nullable().optional(),
  metadata: StringMap.optional(),
  created: Timestamp,
  /** `true` on an idempotent replay. */
  replayed: z.boolean().optional(),
});
export type Allocation = z.infer<typeof Allocation>;

export const Wallet = z.looseObject({
  organizationId: OrgId,
  balance: Credits,
  available: Credits,
  reservedCredits: NonNegativeCredits,
});
export type Wallet = z.infer<typeof Wallet>;

export const CreditEventType = z.enum(['usage', 'refund', 'grant', 'purchase', 'adjustment', 'allocation']);
export type CreditEventType = z.infer<typeof CreditEventType>;

export const CreditEvent = z.looseObject({
  eventId: z.string().min(1),
  projectId: z.string().nullable().optional(),
  /** Signed: an allocation is a debit (negative) on the parent's ledger. */
  credits: Credits,
  eventType: CreditEventType,
  metadata: z.record(z.string(), z.unknown()).nullable().optional(),
  createdAt: Timestamp,
});
export type CreditEvent = z.infer<typeof CreditEvent>;

export const CreditEventPage = pageOf(CreditEvent);

export interface ListCreditEventsQuery {
  eventType?: CreditEventType;
  since?: string;
  until?: string;
  cursor?: string;
  limit?: number;
}

export const CreditConfigResponse = z.looseObject({
  organizationId: OrgId,
  config: CreditConfig,
  balance: Credits,
  available: Credits,
});
export type CreditConfigResponse = z.infer<typeof CreditConfigResponse>;

export const UpdateCreditConfigRequest = z.object({
  monthlyCreditCap: NonNegativeCredits.nullable().optional(),
  refillThreshold: NonNegativeCredits.nullable().optional(),
  refillAmount: z.number().int().positive().nullable().optional(),
});
export type UpdateCreditConfigRequest = z.infer<typeof UpdateCreditConfigRequest>;

// ---------------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------------

export const CreateProjectRequest = z.object({
  name: z.string().min(1),
  timezone: z.string().min(1),
  customerExternalId: z.string().optional(),
});
export type CreateProjectRequest = z.infer<typeof CreateProjectRequest>;

export const Project = z.looseObject({
  id: ProjectId,
  organizationId: OrgId,
  name: z.string(),
  status: z.string().min(1),
  customerExternalId: z.string().nullable().optional(),
  timezone: z.string(),
  createdAt: Timestamp,
  updatedAt: Timestamp.optional(),
});
export type Project = z.infer<typeof Project>;

// ---------------------------------------------------------------------------------------------
// Webhook endpoints
// ---------------------------------------------------------------------------------------------

export const WebhookScope = z.enum(['own', 'all_children']);
export type WebhookScope = z.infer<typeof WebhookScope>;

export const CreateWebhookEndpointRequest = z.object({
  url: z.string().min(1),
  events: z.array(z.string()).min(1).max(50),
  scope: WebhookScope.optional(),
  description: z.string().optional(),
  metadata: StringMap.optional(),
});
export type CreateWebhookEndpointRequest = z.infer<typeof CreateWebhookEndpointRequest>;

export const WebhookEndpoint = z.looseObject({
  id: WebhookEndpointId,
  url: z.string(),
  events: z.array(z.string()),
  scope: WebhookScope,
  description: z.string().nullable().optional(),
  metadata: StringMap.nullable().optional(),
  organizationId: OrgId.optional(),
  status: z.string().optional(),
  createdAt: Timestamp.optional(),
});
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

/** Create response: the endpoint plus `signingSecret` (shown once; never log it). */
export const CreatedWebhookEndpoint = z.looseObject({
  ...WebhookEndpoint.shape,
  signingSecret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9_-]{32,}$/, { message: 'expected whsec_ + ≥32 base64url characters' }),
});
export type CreatedWebhookEndpoint = z.infer<typeof CreatedWebhookEndpoint>;

export const WebhookEndpointPage = pageOf(WebhookEndpoint);

export interface ListWebhookEndpointsQuery {
  cursor?: string;
  limit?: number;
}

/** `DELETE /v1/webhook-endpoints/:id` — shape is an emulator decision; accept anything (or no body). */
export const DeleteWebhookEndpointResult = z.unknown();
