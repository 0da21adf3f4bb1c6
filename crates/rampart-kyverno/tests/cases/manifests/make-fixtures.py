#!/usr/bin/env python3
"""Writes resources.yaml: Services signed as `kubectl sigstore sign` signs them (the manifest,
gzipped, base64 in `cosign.sigstore.dev/message`; an ECDSA signature of the gunzipped message
in `cosign.sigstore.dev/signature[_N]`), signed by openssl, not by rampart. Keys are made
fresh each run; policy.yaml gets their public halves. Run from this directory."""
import base64, gzip, io, subprocess, tarfile, tempfile, os, re

tmp = tempfile.mkdtemp()
def key(name):
    priv = os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", priv], check=True)
    pub = subprocess.run(["openssl", "ec", "-in", priv, "-pubout"], check=True, capture_output=True).stdout.decode()
    return priv, pub

def sign(priv, data):
    path = os.path.join(tmp, "msg")
    open(path, "wb").write(data)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", priv, path], check=True, capture_output=True).stdout
    return base64.b64encode(sig).decode()

def service(name, port=80, extra=""):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
{extra}spec:
  ports:
  - port: {port}
    targetPort: 8080
  selector:
    app: {name}
"""

def gz(data):
    # a fixed mtime keeps the fixture stable for the same keys
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()

def tarball(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, text in files:
            info = tarfile.TarInfo(name)
            info.size = len(text)
            t.addfile(info, io.BytesIO(text.encode()))
    return gz(out.getvalue())

def signed(manifest_message, signers, live, comment):
    """`live` is the resource as the API server holds it, with the annotations added."""
    message = manifest_message
    annotations = {"cosign.sigstore.dev/message": base64.b64encode(gz(message)).decode()}
    for i, priv in enumerate(signers):
        annotations["cosign.sigstore.dev/signature" + (f"_{i}" if i else "")] = sign(priv, message)
    lines = "".join(f"    {k}: {v}\n" for k, v in annotations.items())
    return f"# {comment}\n" + live.replace("metadata:\n", "metadata:\n  annotations:\n" + lines, 1)

a, a_pub = key("a")
b, b_pub = key("b")
c, _ = key("c")

docs = []
m = service("plain-svc")
live = m.replace("spec:\n", "  namespace: shop\n  uid: 6f1c\n  creationTimestamp: \"2026-01-01T00:00:00Z\"\nspec:\n  clusterIP: 10.0.0.7\n  type: ClusterIP\n", 1) + "status:\n  loadBalancer: {}\n"
docs.append(signed(m.encode(), [a], live, "signed by a; the API server's fields are ignored"))
docs.append(signed(m.replace("plain-svc", "tampered-svc").encode(), [a], service("tampered-svc", 81), "signed by a, but the port was changed after signing"))
docs.append("# not signed\n" + service("unsigned-svc"))
docs.append(signed(service("stranger-svc").encode(), [c], service("stranger-svc"), "signed by a key the policy does not know: an error"))
both = tarball([("deploy/svc.yaml", service("both-svc")), ("deploy/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: both-cm\ndata: {k: v}\n"), ("README.md", "not yaml")])
docs.append(signed(both, [a, b], service("both-svc"), "a gzipped tar of two manifests, signed by a and by b"))
docs.append(signed(service("only-a-svc").encode(), [a], service("only-a-svc"), "signed by a alone where both must sign: b's entry is an error"))
relabelled = service("relabelled-svc", extra="  labels:\n    rollout: blue\n")
docs.append(signed(service("relabelled-svc", extra="  labels:\n    rollout: green\n").encode(), [b], relabelled, "a label the rule ignores changed"))
docs.append(signed(service("other-svc").encode(), [a], service("renamed-svc"), "signed as other-svc, applied as renamed-svc: the closest manifest differs by name"))
docs.append(signed(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", [a], service("kindless-svc"), "the message has no Service"))
open("resources.yaml", "w").write("---\n".join(docs))

policy = open("policy.template.yaml").read().split("\n", 1)[1]
for marker, pem in (("KEY_A", a_pub), ("KEY_B", b_pub)):
    indented = "\n".join(" " * 16 + l for l in pem.strip().splitlines())
    policy = policy.replace(" " * 16 + marker, indented)
open("policy.yaml", "w").write(policy)
