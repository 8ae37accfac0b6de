// The claim's labels for a pathPattern naming ${pvc.labels.KEY}: the external-provisioner passes only the
// claim's name and namespace, so the controller reads the claim from the Kubernetes API (in-cluster service
// account, or KUBECONFIG), only when a pattern asks.
import { precondition } from './status.js';

export async function claimLabels(namespace: string, name: string): Promise<Record<string, string>> {
  try {
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault();
    const pvc = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedPersistentVolumeClaim({ name, namespace });
    return pvc.metadata?.labels ?? {};
  } catch (e) {
    throw precondition(`pathPattern names the claim's labels, but reading claim ${namespace}/${name} failed: ${(e as Error).message.split('\n')[0]} (the controller's service account needs get on persistentvolumeclaims)`);
  }
}
