#!/usr/bin/env python3
"""Seed the fuzz corpora from the recorded conversations in tests/fixtures (run from fuzz/).

Every recorded body goes where a decoder of its kind would meet it: watch streams to the watch
decoder and the line splitter, Nomad framed logs to the frame decoder, the event stream to the
event decoder, non-2xx bodies to the error mapping, 2xx lists to the list parsers. Targets whose
first input byte steers the split (watch_decoder, lines, nomad_frames, error_bodies) get one."""
import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")


def put(target, data, prefix=None):
    if isinstance(data, str):
        data = data.encode()
    if prefix is not None:
        data = bytes([prefix]) + data
    if not data or len(data) > 200_000:
        return
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def body_of(resp):
    body = resp.get("body")
    if isinstance(body, (dict, list)):
        return json.dumps(body)
    if body is None and resp.get("chunks"):
        return "".join(c.get("data", "") for c in resp["chunks"])
    return body or ""


for path in sorted(glob.glob(os.path.join(FIXTURES, "*", "*.json"))):
    scenario = json.load(open(path))
    for ex in scenario.get("exchanges", []):
        req, resp = ex.get("request", {}), ex.get("response", {})
        body = body_of(resp)
        uri = req.get("path", "")
        status = resp.get("status", 200)
        if not body:
            continue
        if status >= 400:
            put("error_bodies", body, prefix=(status - 400) % 256)
            continue
        if "watch=" in uri:
            for cut in (0, 97, 255):
                put("watch_decoder", body, prefix=cut)
            put("lines", body, prefix=17)
        elif "/event/stream" in uri:
            put("nomad_events", body)
            put("lines", body, prefix=200)
        elif "/v1/client/fs/" in uri and "plain=true" not in uri:
            put("nomad_frames", body, prefix=63)
        elif body.lstrip().startswith(("{", "[")):
            put("list_bodies", body)

for text in ["500m", "1.5", "2", "0.1", "1e3", "100Mi", "1Gi", "512M", "1.5Gi", "2k", "3E", "-1", "0x10", ".5"]:
    put("quantities_selectors", text)
for text in ["app=web", "app==web,tier!=db", "zone in (a,b)", "zone notin (a)", "team", "!legacy",
             "example.com/key=v", "a in (x, y),!b,c"]:
    put("quantities_selectors", text)

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: dev
  user:
    token: abc
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /bin/true
      args: ["x"]
      env: [{name: A, value: b}]
contexts:
- name: dev
  context: {cluster: dev, user: dev, namespace: batch}
"""
put("config_files", KUBECONFIG)
put("config_files", json.dumps({"type": "k8s", "endpoint": "127.0.0.1", "http_scheme": "https", "skipkubeconfig": True,
                                "user": "admin", "credentials": {"token": "x"}, "namespace": "default"}))
put("config_files", json.dumps({"type": "nomad", "endpoint": "127.0.0.1", "port": 4646}))
put("config_files", "type: k8s\nendpoint: 127.0.0.1\nca: /tmp/ca.pem\n")
put("config_files", json.dumps({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
                                "status": {"token": "t", "expirationTimestamp": "2026-11-25T20:42:26Z"}}))
put("config_files", "2026-11-25T20:42:26.123+01:00")
