/** Control routes over credits: parent top-ups and the content-generation (usage) stand-in. */
import { notFound, validation } from '../errors';
import { ok } from '../http-io';
import { balances, mint } from '../store/credits';
import { usage } from '../store/usage';
import { checkId, integer, type Json } from '../validate';
import { optionalOrg, type ControlRoute } from './kit';

const USAGE_ACTIONS = ['reserve', 'settle', 'release'] as const;

export const creditControlRoutes: ControlRoute[] = [
  {
    method: 'POST',
    pattern: '/_emulator/parent/credits',
    handle: (c) => {
      const b = c.body(['credits', 'organizationId']);
      const credits = integer(b.credits, 'credits', 1, { required: true }) as number;
      const org = optionalOrg(c, b);
      if (org.parentOrganizationId !== null)
        throw validation('organizationId', 'must be a parent (partner) organization');
      const ev = mint(c.store, org.id, credits, 'Partner credit purchase');
      c.store.onChange();
      return ok({ organizationId: org.id, credits, ...balances(c.store, org.id), eventId: ev.eventId });
    },
  },
  {
    method: 'POST',
    pattern: '/_emulator/organizations/:orgId/usage',
    handle: (c) => {
      const { store } = c;
      const org = store.orgs.get(checkId(c.params.orgId, 'org_', 'orgId'));
      if (!org) throw notFound('Organization');
      const b = c.body(['action', 'credits', 'projectId']);
      const action = USAGE_ACTIONS.find((a) => a === b.action);
      if (action === undefined) throw validation('action', 'must be reserve, settle or release');
      const credits = integer(b.credits, 'credits', 1, { required: true }) as number;
      let projectId: string | null = null;
      if (b.projectId !== undefined && b.projectId !== null) {
        projectId = checkId(String(b.projectId), 'prj_', 'projectId');
        if (store.projects.get(projectId)?.organizationId !== org.id) throw notFound('Project');
      }
      try {
        return ok(usage(store, org, action, credits, projectId) as unknown as Json);
      } finally {
        store.onChange(); // an auto-refill may have moved credits even when the reservation failed
      }
    },
  },
];
