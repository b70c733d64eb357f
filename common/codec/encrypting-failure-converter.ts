import { SanitizingFailureConverter } from './failure-converter';

/** Used with the payload codec: failure messages and stack traces travel inside an (encrypted) payload. */
export const failureConverter = new SanitizingFailureConverter({ encodeCommonAttributes: true });
