// The signing code lives in common/ so the worker's CRM events activity signs with the very same function.
export * from '../common/signature';
