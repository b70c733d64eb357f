// Issue 14 item 5: the metrics endpoint listens on 127.0.0.1 unless METRICS_HOST says otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadLayersConfig } from '../../worker/config';
import { prometheusExporter } from '../../worker/metrics';
import { ConfigError } from '../../common/connection';

const KEY = { LAYERS_PARENT_KEY: 'lp_test_metricsbindtest0000' };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(3_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('metrics bind address', () => {
  test('default 127.0.0.1; METRICS_HOST overrides; a non-address is refused naming the variable', () => {
    expect(loadLayersConfig({ ...KEY }).metricsHost).toBe('127.0.0.1');
    expect(loadLayersConfig({ ...KEY, METRICS_HOST: '0.0.0.0' }).metricsHost).toBe('0.0.0.0');
    expect(prometheusExporter(9464)).toMatchObject({ prometheus: { bindAddress: '127.0.0.1:9464' } });
    expect(prometheusExporter(9464, '::1')).toMatchObject({ prometheus: { bindAddress: '[::1]:9464' } });
    expect(() => loadLayersConfig({ ...KEY, METRICS_HOST: 'metrics.example.com' })).toThrow(ConfigError);
    expect(() => loadLayersConfig({ ...KEY, METRICS_HOST: 'metrics.example.com' })).toThrow(/METRICS_HOST/);
  });

  test('the worker runtime’s metrics socket answers on loopback and not on the machine’s other address', async () => {
    const port = await freePort();
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures', 'metrics-runtime.ts')],
      { env: { ...process.env, ...KEY, METRICS_PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('READY') && resolve());
        child.once('exit', (code) => reject(new Error(`metrics fixture exited with ${code}`)));
      });
      let up = false;
      for (let i = 0; i < 50 && !up; i++) up = await connects('127.0.0.1', port);
      expect(up).toBe(true);
      const external = externalAddress();
      if (external) expect(await connects(external, port)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
