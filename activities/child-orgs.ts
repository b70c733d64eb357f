import { Context } from '@temporalio/activity';
import type { LayersClient } from './layers';
import { callOptions } from './layers-call';

/** The largest page `GET /v1/organizations` serves (the default is 25). */
export const ORG_PAGE_SIZE = 200;

/** What a look-up needs of a child org; the index keeps nothing else (no names, no emails). */
export interface ChildRef {
  id: string;
  status: string;
  externalId?: string;
  onboardingWorkflowId?: string;
}

export interface OrgLike {
  id: string;
  status: string;
  metadata?: Record<string, string>;
}

function refOf(org: OrgLike): ChildRef {
  return {
    id: org.id,
    status: org.status,
    externalId: org.metadata?.externalId,
    onboardingWorkflowId: org.metadata?.onboardingWorkflowId,
  };
}

/** Heartbeat details of a full scan, so the next attempt resumes at its cursor instead of page one. */
interface ScanProgress {
  cursor: string;
  matches: ChildRef[];
}

/** Heartbeats only inside an activity (the index is also used by plain code in tests). */
function heartbeat(details?: ScanProgress): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    /* not in an activity */
  }
}

function resumeProgress(externalId: string): ScanProgress | undefined {
  try {
    const details = Context.current().info.heartbeatDetails as
      (ScanProgress & { externalId?: string }) | undefined;
    if (
      details &&
      typeof details.cursor === 'string' &&
      Array.isArray(details.matches) &&
      details.externalId === externalId
    )
      return details;
  } catch {
    /* not in an activity */
  }
  return undefined;
}

/**
 * A per-worker index of the parent's children by `metadata.externalId`.
 *
 * `GET /v1/organizations` lists newest first, so once the whole list has been read, a refresh reads
 * only until the first org it already knows: a brand-new customer's "does my org exist already?"
 * costs one page (200 children) instead of every child. The first look-up on a worker reads the whole
 * list once (pages of 200, heartbeating per page). Concurrent look-ups share one refresh. An index entry
 * is only a candidate: the caller confirms it with `GET /v1/organizations/:id` (status and metadata
 * may have changed since it was indexed).
 */
export class ChildOrgIndex {
  private readonly byExternalId = new Map<string, Map<string, ChildRef>>();
  private readonly known = new Set<string>();
  /** Where the first full read stopped (null: it reached the end). */
  private tailCursor: string | null | undefined = undefined;
  private requested = 0;
  private covered = 0;
  private inFlight?: Promise<void>;
  /** Pages read since the worker started (for the benchmark and tests). */
  pagesRead = 0;

  constructor(private readonly layers: LayersClient) {}

  private add(org: OrgLike): boolean {
    const ref = refOf(org);
    const isNew = !this.known.has(ref.id);
    this.known.add(ref.id);
    if (ref.externalId) {
      let refs = this.byExternalId.get(ref.externalId);
      if (!refs) this.byExternalId.set(ref.externalId, (refs = new Map()));
      refs.set(ref.id, ref);
    }
    return isNew;
  }

  private async page(cursor: string | undefined, externalId: string) {
    const page = await this.layers.listOrganizations({ limit: ORG_PAGE_SIZE, cursor }, callOptions());
    this.pagesRead++;
    // The activity that reads for everyone heartbeats its own progress: a retry on another worker
    // (whose index is cold) resumes the scan there instead of starting at page one.
    if (page.nextCursor !== null) {
      heartbeat({
        cursor: page.nextCursor,
        matches: [
          ...this.candidates(externalId),
          ...page.items.filter((o) => o.metadata?.externalId === externalId).map(refOf),
        ],
        externalId,
      } as ScanProgress);
    }
    return page;
  }

  /** Whether the whole list has been read once (look-ups then cost only the new head). */
  get warm(): boolean {
    return this.tailCursor === null;
  }

  private async readOnce(externalId: string): Promise<void> {
    // The head: everything newer than what is known (on a cold index, the whole list).
    const cold = this.tailCursor === undefined;
    let cursor: string | undefined;
    for (;;) {
      const page = await this.page(cursor, externalId);
      let reachedKnown = false;
      for (const org of page.items) if (!this.add(org) && !cold) reachedKnown = true;
      if (cold) this.tailCursor = page.nextCursor;
      if (reachedKnown || page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    // The tail of a first read that was interrupted (an activity timed out or was cancelled mid-scan).
    while (typeof this.tailCursor === 'string') {
      const page = await this.page(this.tailCursor, externalId);
      for (const org of page.items) this.add(org);
      this.tailCursor = page.nextCursor;
    }
  }

  /** Brings the index up to date with every child that existed when this call began. */
  async refresh(externalId = ''): Promise<void> {
    const mine = ++this.requested;
    const beat = setInterval(() => heartbeat(), 5_000);
    try {
      while (this.covered < mine) {
        if (!this.inFlight) {
          const covers = this.requested;
          this.inFlight = this.readOnce(externalId)
            .then(() => {
              this.covered = Math.max(this.covered, covers);
            })
            .finally(() => {
              this.inFlight = undefined;
            });
        }
        await this.inFlight;
      }
    } finally {
      clearInterval(beat);
    }
  }

  candidates(externalId: string): ChildRef[] {
    return [...(this.byExternalId.get(externalId)?.values() ?? [])];
  }

  /** Every child org whose `metadata.externalId` matches, confirmed one by one against Layers. */
  async find(externalId: string): Promise<OrgLike[]> {
    // A retry of an attempt that was scanning on another worker: finish that scan rather than start over.
    if (!this.warm && resumeProgress(externalId)) return scanChildrenByExternalId(this.layers, externalId);
    await this.refresh(externalId);
    const found: OrgLike[] = [];
    for (const ref of this.candidates(externalId)) {
      const org = await this.layers.getOrganization(ref.id, callOptions());
      this.add(org);
      if (org.metadata?.externalId === externalId) found.push(org);
    }
    return found;
  }
}

/**
 * The same question without an index: read every child (pages of 200), heartbeating the cursor and
 * what matched so far, so an attempt that times out hands its progress to the next one.
 */
export async function scanChildrenByExternalId(layers: LayersClient, externalId: string): Promise<OrgLike[]> {
  const resumed = resumeProgress(externalId);
  const matches = new Map<string, ChildRef>((resumed?.matches ?? []).map((m) => [m.id, m]));
  let cursor = resumed?.cursor;
  for (;;) {
    const page = await layers.listOrganizations({ limit: ORG_PAGE_SIZE, cursor }, callOptions());
    for (const org of page.items)
      if (org.metadata?.externalId === externalId) matches.set(org.id, refOf(org));
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
    heartbeat({ cursor, matches: [...matches.values()], externalId } as ScanProgress);
  }
  const found: OrgLike[] = [];
  for (const ref of matches.values()) {
    const org = await layers.getOrganization(ref.id, callOptions());
    if (org.metadata?.externalId === externalId) found.push(org);
  }
  return found;
}
