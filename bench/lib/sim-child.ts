/**
 * The simulator in a process of its own, so it never shares an event loop (or a
 * core's time slice) with the dialer being measured. Driven over IPC by sim.ts.
 */
import { writeFile } from 'node:fs/promises';
import { startSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { heard, tell } from './proc.js';

const { opts } = await heard<{ opts: SimulatorOptions }>('start');
const sim = await startSimulator(opts);
process.on('message', (m: { type: string; file?: string; id?: number }) => {
  void (async () => {
    if (m.type === 'count') {
      let posts = 0;
      let gets = 0;
      for (const r of sim.requests) {
        if (r.method === 'POST' && r.status === 201) posts++;
        else if (r.method === 'GET') gets++;
      }
      await tell({ type: `count:${m.id}`, posts, gets });
    } else if (m.type === 'dump') {
      // Only what the benches read: request times and call timelines.
      const requests = sim.requests.map((r) => ({ t: r.t, method: r.method, path: r.path, status: r.status, call_id: r.call_id, assistant: (r.body as { assistant_id?: string } | undefined)?.assistant_id }));
      const calls = [...sim.calls.values()].map((c) => ({ id: c.id, createdAt: c.createdAt, plannedMs: c.plannedMs, phoneNumber: c.phoneNumber, assistant: c.assistant_id }));
      await writeFile(m.file!, JSON.stringify({ requests, calls }));
      await tell({ type: 'dumped' });
    } else if (m.type === 'close') {
      await sim.close();
      process.exit(0);
    }
  })();
});
await tell({ type: 'ready', url: sim.url });
