/**
 * The public Layers Partner API routes (/v1), one module per resource the way the docs are
 * organised; kit.ts holds what they share. The request pipeline that runs them is ../pipeline.ts.
 */
import { apiKeyRoutes } from './api-keys';
import { creditRoutes } from './credits';
import type { RouteDef } from './kit';
import { organizationRoutes } from './organizations';
import { projectRoutes } from './projects';
import { webhookRoutes } from './webhooks';

export type { RequestCtx, RouteDef, RouteResult } from './kit';

export const API_ROUTES: readonly RouteDef<unknown>[] = [
  ...organizationRoutes,
  ...apiKeyRoutes,
  ...creditRoutes,
  ...projectRoutes,
  ...webhookRoutes,
];
