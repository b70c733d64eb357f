/**
 * Layers Partner API emulator — in-process entry point.
 *
 *   const emu = await startEmulator({ port: 0, quiet: true });
 *   // emu.url is the origin (http://127.0.0.1:<port>); the API lives under `${emu.url}/v1`.
 *   await emu.close();
 */
import { createEmulator, type BuiltinTier, type Emulator, type EmulatorOptions } from './server';

export type { BuiltinTier, EmulatorOptions };

export interface RunningEmulator {
  /** The origin, e.g. http://127.0.0.1:4010 — no /v1. */
  url: string;
  /** The bootstrap parent (org:admin) key secret. */
  parentKey: string;
  parentOrganizationId: string;
  /** Stops webhook timers, closes every socket, flushes persistence. */
  close(): Promise<void>;
  /** The underlying emulator, for advanced in-process use. */
  emulator: Emulator;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const { emulator, url } = await createEmulator(options);
  return {
    url,
    get parentKey() {
      return emulator.parentKey;
    },
    get parentOrganizationId() {
      return emulator.parentOrganizationId;
    },
    close: () => emulator.close(),
    emulator,
  };
}
