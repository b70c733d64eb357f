/** Projects (CONTRACT.md "Projects"): created in, and read from, the acting org (X-Layers-Organization). */
import { notFound, validation } from '../errors';
import { createProject, projectJson, type Project } from '../store/projects';
import { bodyObject, checkId, isValidTimezone, optionalString, requiredString } from '../validate';
import { created, ok, route, writableActing } from './kit';

type ProjectInput = Pick<Project, 'name' | 'timezone' | 'customerExternalId'>;

const create = route('POST', '/v1/projects', 'projects:write', {
  validate: (ctx): ProjectInput => {
    // The documented body ends in "…": extra fields are accepted and ignored.
    const b = bodyObject(ctx.body, null);
    const name = requiredString(b, 'name', 1, 128);
    const timezone = requiredString(b, 'timezone', 1, 64);
    if (!isValidTimezone(timezone)) {
      throw validation('timezone', 'must be an IANA time zone such as America/Los_Angeles');
    }
    const customerExternalId = optionalString(b, 'customerExternalId', 1, 128) ?? null;
    return { name, timezone, customerExternalId };
  },
  execute: (ctx, input: ProjectInput) =>
    created(projectJson(createProject(ctx.store, writableActing(ctx).id, input))),
});

const get = route('GET', '/v1/projects/:projectId', 'projects:read', {
  validate: (ctx) => checkId(ctx.params.projectId, 'prj_', 'projectId'),
  execute: (ctx, id: string) => {
    const p = ctx.store.projects.get(id);
    if (!p || p.organizationId !== ctx.acting.id) throw notFound('Project');
    return ok(projectJson(p));
  },
});

export const projectRoutes = [create, get];
