#!/usr/bin/env python3
"""Write a corpus of N realistic Kubernetes objects (Deployments, Services, ServiceAccounts,
ConfigMaps, Roles) into DIR, 30 objects per file, half of the workloads hardened, half not.

usage: scripts/gen-corpus.py N DIR
"""
import os, sys

def deployment(i, secure):
    t = "true" if secure else "false"
    f = "false" if secure else "true"
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{i % 50}
  labels: {{app: app-{i}, team: t{i % 50}}}
spec:
  replicas: {1 + i % 3}
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      serviceAccountName: app-{i}
      automountServiceAccountToken: {f}
      securityContext:
        runAsNonRoot: {t}
        seccompProfile: {{type: RuntimeDefault}}
      containers:
      - name: app
        image: registry.example.com/app-{i}:1.{i % 10}.0
        ports:
        - containerPort: 8080
        env:
        - name: LOG_LEVEL
          value: info
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {{name: db, key: password}}
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{memory: 256Mi}}
        securityContext:
          allowPrivilegeEscalation: {f}
          readOnlyRootFilesystem: {t}
          privileged: {f}
          capabilities: {{drop: [ALL]}}
        livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}
        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}
"""

def service(i):
    return f"""apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: team-{i % 50}}}
spec:
  type: {"ClusterIP" if i % 7 else "LoadBalancer"}
  selector: {{app: app-{i}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""

def sa(i):
    return f"""apiVersion: v1
kind: ServiceAccount
metadata: {{name: app-{i}, namespace: team-{i % 50}}}
automountServiceAccountToken: false
"""

def configmap(i):
    return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: app-{i}-config, namespace: team-{i % 50}}}
data:
  LOG_FORMAT: json
  FEATURE_FLAGS: "a,b,c"
  settings.ini: |
    [server]
    port = 8080
    workers = 4
"""

def role(i):
    return f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: app-{i}, namespace: team-{i % 50}}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
"""

def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    makers = [lambda i: deployment(i, i % 2 == 0), service, sa, configmap, role]
    docs, file_no = [], 0
    for k in range(n):
        docs.append(makers[k % len(makers)](k // len(makers)))
        if len(docs) == 30 or k == n - 1:
            with open(os.path.join(out, f"manifests-{file_no:05}.yaml"), "w") as f:
                f.write("---\n".join(docs))
            docs, file_no = [], file_no + 1

if __name__ == "__main__":
    main()
