/**
 * deploy/kubernetes/ checked offline: every object against the Kubernetes (and
 * KEDA) JSON schemas that the npm packages kubernetes-models and
 * @kubernetes-models/keda ship, plus what the dialer needs of them (probes,
 * grace above the drain, the Secret's keys, PDB selectors, the scaler's metric).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './helpers/dialer.js';

const DIR = path.join(REPO_ROOT, 'deploy/kubernetes');
const NOT_OBJECTS = new Set(['kustomization.yaml']);

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> } & Record<string, any>;
interface Doc { file: string; obj: Obj }

function docs(): Doc[] {
  const out: Doc[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && !NOT_OBJECTS.has(f)).sort()) {
    for (const d of parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'))) {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
      const obj = d.toJS() as Obj | null;
      if (obj) out.push({ file, obj });
    }
  }
  return out;
}

/** The API versions the manifests use, each with the package module that holds its schemas. */
const MODELS: Record<string, () => Promise<unknown>> = {
  v1: () => import('kubernetes-models/v1'),
  'apps/v1': () => import('kubernetes-models/apps/v1'),
  'policy/v1': () => import('kubernetes-models/policy/v1'),
  'keda.sh/v1alpha1': () => import('@kubernetes-models/keda/keda.sh/v1alpha1'),
};

/** The model class for an apiVersion/kind; its validate() checks the object against the JSON schema. */
async function model(apiVersion: string, kind: string): Promise<new (o: unknown) => { validate(): void }> {
  const load = MODELS[apiVersion];
  const M = load ? ((await load()) as Record<string, unknown>)[kind] : undefined;
  if (typeof M !== 'function') throw new Error(`no schema for ${apiVersion} ${kind}`);
  return M as new (o: unknown) => { validate(): void };
}

async function validate(obj: unknown): Promise<void> {
  const o = obj as Obj;
  const M = await model(o.apiVersion, o.kind);
  new M(o).validate();
}

const all = docs();
const find = (kind: string, name: string) => {
  const d = all.find((x) => x.obj.kind === kind && x.obj.metadata.name === name);
  if (!d) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return d.obj;
};
const container = (o: Obj) => o.spec.template.spec.containers[0];

describe('deploy/kubernetes', () => {
  it('every object is valid against its schema', async () => {
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const { file, obj } of all) {
      await expect(validate(obj), `${file}: ${obj.kind} ${obj.metadata.name}`).resolves.toBeUndefined();
    }
  });

  it('the validator catches a wrong type, a wrong shape and an unknown kind', async () => {
    const worker = structuredClone(find('Deployment', 'worker'));
    await expect(validate({ ...worker, spec: { ...worker.spec, replicas: 'three' } })).rejects.toThrow(/replicas/);
    // Not caught: a field the schema does not know (these schemas are not strict, like kubeval without --strict).
    const probe = structuredClone(find('Deployment', 'server'));
    container(probe).readinessProbe.httpGet.port = { name: 'http' };
    await expect(validate(probe)).rejects.toThrow();
    await expect(validate({ ...worker, apiVersion: 'apps/v1', kind: 'Deploymnet' })).rejects.toThrow(/no schema/);
  });

  it('kustomization.yaml lists every manifest but the example Secret', () => {
    const k = parseAllDocuments(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && !NOT_OBJECTS.has(f) && f !== 'secret.example.yaml').sort();
    expect([...k.resources].sort()).toEqual(files);
  });

  it('the server is probed on /healthz and /readyz', () => {
    const c = container(find('Deployment', 'server'));
    expect(c.args).toEqual(['serve']);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.ports[0].containerPort).toBe(8080);
  });

  it('grace periods are above the drain (the HTTP timeout of a POST in flight)', () => {
    const timeoutS = Number(find('ConfigMap', 'callease-dialer').data!.DIALER_HTTP_TIMEOUT_MS) / 1000;
    expect(timeoutS).toBeGreaterThan(0);
    for (const name of ['server', 'worker', 'poller']) {
      const grace = find('Deployment', name).spec.template.spec.terminationGracePeriodSeconds;
      expect(grace, name).toBeGreaterThan(2 * timeoutS);
    }
  });

  it('secrets come from the Secret, settings from the ConfigMap; nothing falls back to a simulator', () => {
    const secret = find('Secret', 'callease-dialer');
    for (const key of ['CALLEASE_API_KEY', 'REDIS_PASSWORD', 'DIALER_API_TOKEN']) expect(Object.keys(secret.stringData!)).toContain(key);
    const config = find('ConfigMap', 'callease-dialer').data!;
    expect(config.CALLEASE_BASE_URL).toMatch(/^https:\/\//);
    expect(config).not.toHaveProperty('CALLEASE_ALLOW_INSECURE_HTTP');
    for (const key of Object.keys(config)) expect(key, 'no secret in the ConfigMap').not.toMatch(/KEY|PASSWORD|TOKEN|SECRET/);
    for (const name of ['server', 'worker', 'poller']) {
      const c = container(find('Deployment', name));
      expect(c.args, name).toEqual([name === 'server' ? 'serve' : name]);
      expect(c.envFrom.map((e: any) => e.secretRef?.name ?? e.configMapRef?.name)).toEqual(['callease-dialer', 'callease-dialer']);
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    }
    const redis = container(find('StatefulSet', 'redis'));
    expect(redis.args).toContain('--requirepass');
    expect(redis.args).toContain('noeviction');
    expect(redis.env.find((e: any) => e.name === 'REDIS_PASSWORD').valueFrom.secretKeyRef.name).toBe('callease-dialer');
  });

  it('disruption budgets select the pods they protect', () => {
    for (const name of ['worker', 'server']) {
      const pdb = find('PodDisruptionBudget', name);
      expect(pdb.spec.selector.matchLabels).toEqual(find('Deployment', name).spec.template.metadata.labels);
    }
    expect(find('PodDisruptionBudget', 'worker').spec.minAvailable).toBe(1);
  });

  it('workers scale on the queue depth the server exports', () => {
    const so = find('ScaledObject', 'worker');
    expect(so.spec.scaleTargetRef.name).toBe('worker');
    expect(so.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    const query: string = so.spec.triggers[0].metadata.query;
    const metrics = readFileSync(path.join(REPO_ROOT, 'src/server/metrics.ts'), 'utf8');
    const metric = /^sum\((\w+)\{state=~"([^"]+)"\}\)/.exec(query);
    expect(metric, query).not.toBeNull();
    expect(metrics).toContain(`'${metric![1]}'`);
    for (const state of metric![2]!.split('|')) expect(metrics, state).toMatch(new RegExp(`JOB_STATES = \\[[^\\]]*'${state}'`));
  });
});
