/** Projects (CONTRACT.md "Projects"): one per end-customer, created in the acting org. */
import { newProjectId } from '../ids';
import { view } from '../json-view';
import type { Json } from '../validate';
import type { Store } from './index';

export interface Project {
  id: string;
  organizationId: string;
  name: string;
  timezone: string;
  customerExternalId: string | null;
  status: 'active';
  createdAt: number;
  updatedAt: number;
  seq: number;
}

export function createProject(
  s: Store,
  orgId: string,
  fields: Pick<Project, 'name' | 'timezone' | 'customerExternalId'>,
): Project {
  const now = s.now();
  const p: Project = {
    id: newProjectId(),
    organizationId: orgId,
    ...fields,
    status: 'active',
    createdAt: now,
    updatedAt: now,
    seq: s.nextSeq(),
  };
  s.projects.set(p.id, p);
  return p;
}

export function projectCount(s: Store, orgId: string): number {
  let n = 0;
  for (const p of s.projects.values()) if (p.organizationId === orgId) n++;
  return n;
}

export const projectJson = (p: Project): Record<string, Json> =>
  view(p, 'id organizationId name status customerExternalId timezone createdAt updatedAt');
