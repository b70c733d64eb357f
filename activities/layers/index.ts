/** Typed Layers Partner API client: schemas, errors, client, Temporal failure mapping, redaction. */
export * from './schemas';
export * from './errors';
export * from './client';
export * from './failures';
export * from '../../common/redact';
