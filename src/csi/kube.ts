// The claim's labels for a pathPattern naming ${pvc.labels.KEY}: the external-provisioner passes only the
// claim's name and namespace, so the controller reads the claim from the Kubernetes API (in-cluster service
// account, or KUBECONFIG), only when a pattern asks.
import { defaultKubeTarget, kubeGet } from '../client/kube-api.js';
import { precondition } from './status.js';

export async function claimLabels(namespace: string, name: string): Promise<Record<string, string>> {
  try {
    const pvc = await kubeGet<{ metadata?: { labels?: Record<string, string> } }>(
      defaultKubeTarget(),
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/persistentvolumeclaims/${encodeURIComponent(name)}`,
    );
    return pvc.metadata?.labels ?? {};
  } catch (e) {
    throw precondition(`pathPattern names the claim's labels, but reading claim ${namespace}/${name} failed: ${(e as Error).message.split('\n')[0]} (the controller's service account needs get on persistentvolumeclaims)`);
  }
}
