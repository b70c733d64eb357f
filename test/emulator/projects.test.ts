/**
 * Projects (002 "Work inside the child org", CONTRACT.md "Projects"): created in a child through
 * X-Layers-Organization, readable only inside the org that owns them.
 */
import { ACME_PROJECT, ISO_TS, expectError, useEmulator } from './helpers';

const h = useEmulator();

test('POST /v1/projects with the header creates the project in the child (documented shape)', async () => {
  const child = await h.createChild();
  const r = await h.post(
    '/v1/projects',
    { ...ACME_PROJECT, customerExternalId: 'acme-coffee' },
    { headers: { 'x-layers-organization': child.id } },
  );
  expect(r.status).toBe(201);
  expect(r.body).toEqual({
    id: expect.stringMatching(/^prj_[0-9a-f-]{36}$/),
    organizationId: child.id,
    name: 'Acme Coffee',
    status: 'active',
    customerExternalId: 'acme-coffee',
    timezone: 'America/Los_Angeles',
    createdAt: expect.stringMatching(ISO_TS),
    updatedAt: expect.stringMatching(ISO_TS),
  });
  const got = await h.get(`/v1/projects/${r.body.id}`, { headers: { 'x-layers-organization': child.id } });
  expect(got.body).toEqual(r.body);
  expect((await h.get(`/v1/organizations/${child.id}`)).body.summary.projectCount).toBe(1);
});

test('without the header the project lands in the caller’s own org', async () => {
  const r = await h.post('/v1/projects', ACME_PROJECT);
  expect(r.body.organizationId).toBe(h.parentId);
  expect((await h.state()).projects).toHaveLength(1);
});

test('validation: name 1–128, an IANA timezone is required', async () => {
  expectError(await h.post('/v1/projects', { name: 'x' }), 422, 'VALIDATION', { field: 'timezone' });
  expectError(await h.post('/v1/projects', { name: 'x', timezone: 'Mars/Olympus' }), 422, 'VALIDATION', {
    field: 'timezone',
  });
  expectError(await h.post('/v1/projects', { timezone: 'UTC' }), 422, 'VALIDATION', { field: 'name' });
  expectError(await h.post('/v1/projects', { name: 'x'.repeat(129), timezone: 'UTC' }), 422, 'VALIDATION', {
    field: 'name',
  });
  expect((await h.state()).projects).toHaveLength(0);
});

test('projects:write / projects:read scopes are required', async () => {
  const child = await h.createChild();
  const k = await h.mintKey(child.id, ['content:read']);
  expectError(await h.post('/v1/projects', ACME_PROJECT, { key: k.secret }), 403, 'FORBIDDEN_SCOPE', {
    requiredScope: 'projects:write',
  });
  const p = await h.post('/v1/projects', ACME_PROJECT, { headers: { 'x-layers-organization': child.id } });
  expectError(await h.get(`/v1/projects/${p.body.id}`, { key: k.secret }), 403, 'FORBIDDEN_SCOPE', {
    requiredScope: 'projects:read',
  });
});

test('a project outside the caller’s org is 404; a malformed project id is 422', async () => {
  const other = await h.control('POST', '/_emulator/parents', {});
  const theirs = await h.post('/v1/projects', ACME_PROJECT, { key: other.body.key });
  expectError(await h.get(`/v1/projects/${theirs.body.id}`), 404, 'NOT_FOUND');
  expectError(await h.get('/v1/projects/prj_unknown'), 404, 'NOT_FOUND');
  expectError(await h.get('/v1/projects/acme'), 422, 'VALIDATION', { field: 'projectId' });
});
