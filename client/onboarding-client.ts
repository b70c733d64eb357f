import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFromEnv } from '../worker/codec/data-converter';
import { loadTemporalConfig, temporalConnectionOptions, type TemporalConfig } from '../worker/config';
import type { OnboardingOptions } from '../workflows/onboarding';
import type { onboardCustomer } from '../workflows';
import {
  onboardingStatusQuery,
  parentFundedSignal,
  type OnboardingResult,
  type OnboardingStatus,
} from '../workflows/onboarding-messages';
import {
  externalIdSchema,
  onboardingWorkflowId,
  parseOnboardingInput,
  type OnboardingRequest,
} from '../workflows/onboarding-input';
import { LayersCustomerId } from '../workflows/search-attributes';
import { InvalidInputError } from './errors';
import { findKeyMaterial } from './key-material';

export interface StartedOnboarding {
  externalId: string;
  workflowId: string;
  runId: string;
  /** False when a run for this customer was already going: the call attached to it instead. */
  started: boolean;
}

/**
 * The CRM-facing library. Ids are derived from the customer's externalId, so the CRM never stores
 * Temporal ids: starting the same customer twice reaches the same workflow and never makes a second org.
 */
export class OnboardingClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string,
  ) {}

  /**
   * Connects with the payload codec when TEMPORAL_CODEC_KEYS (or _FILE) is set — the same keys as the
   * workers — so inputs, results, summaries and failures are encrypted before they leave the process.
   */
  static async connect(
    config: TemporalConfig = loadTemporalConfig(),
    dataConverter: DataConverter | undefined = dataConverterFromEnv(),
  ): Promise<OnboardingClient> {
    const connection = await Connection.connect(temporalConnectionOptions(config));
    return new OnboardingClient(new Client({ connection, namespace: config.namespace, dataConverter }), config.taskQueue);
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }

  /** Validates, then starts onboarding (or attaches to the run already going for this customer). */
  async start(request: OnboardingRequest, options: Omit<OnboardingOptions, 'reconcile'> = {}): Promise<StartedOnboarding> {
    const parsed = parseOnboardingInput(request);
    if (!parsed.ok) throw new InvalidInputError(parsed.errors);
    const secrets = findKeyMaterial(request);
    if (secrets.length) {
      throw new InvalidInputError(secrets.map((field) => `${field}: looks like a Layers secret; secrets never go into workflow input`));
    }
    const input = parsed.value;
    const workflowId = onboardingWorkflowId(input.customer.externalId);
    // A re-run after a failed run may find the org that run created: tell the create step to look first.
    const previous = await this.latestRunStatus(workflowId);
    const reconcile = previous !== undefined && ['FAILED', 'TERMINATED', 'CANCELLED', 'TIMED_OUT'].includes(previous);
    const handle = await this.client.workflow.start<typeof onboardCustomer>('onboardCustomer', {
      workflowId,
      taskQueue: this.taskQueue,
      args: [input, { ...options, reconcile }],
      // Running: attach to it (no second org). Completed: refuse (archival is terminal; a customer that
      // comes back gets a new externalId). Failed, cancelled or terminated: a new run may continue it.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [{ key: LayersCustomerId, value: input.customer.externalId }],
      staticSummary: `Onboard ${input.customer.name} (${input.customer.externalId})`,
      staticDetails: `Layers child organization for CRM customer \`${input.customer.externalId}\`: ${input.credits} credits${
        input.creditConfig ? ', cap and auto-refill' : ''
      }${input.firehose ? ', firehose' : ''}${input.project ? ', first project' : ''}.`,
    });
    return { externalId: input.customer.externalId, workflowId, runId: handle.firstExecutionRunId, started: previous !== 'RUNNING' };
  }

  private async latestRunStatus(workflowId: string): Promise<string | undefined> {
    try {
      return (await this.client.workflow.getHandle(workflowId).describe()).status.name;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  handle(externalId: string): WorkflowHandle<typeof onboardCustomer> {
    const parsed = externalIdSchema.safeParse(externalId);
    if (!parsed.success) throw new InvalidInputError([`externalId: ${parsed.error.issues[0]!.message}`]);
    return this.client.workflow.getHandle<typeof onboardCustomer>(onboardingWorkflowId(externalId));
  }

  async status(externalId: string): Promise<OnboardingStatus> {
    return this.handle(externalId).query(onboardingStatusQuery);
  }

  async result(externalId: string): Promise<OnboardingResult> {
    return this.handle(externalId).result();
  }

  /** Tell onboardings waiting for funds that the parent wallet was topped up. */
  async parentFunded(externalId: string): Promise<void> {
    await this.handle(externalId).signal(parentFundedSignal);
  }
}

export { WorkflowExecutionAlreadyStartedError };
