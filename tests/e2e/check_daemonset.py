#!/usr/bin/env python3
"""A strict check of deploy/kubernetes/daemonset.yaml, against the parts of
the Kubernetes schema it uses: known fields only, the right types, every
volume mount backed by a volume, the rules ConfigMap in the same file and
mounted where --rules-dir points, hostPID, the host paths the agent needs.
Prints what is wrong, one line each; exits 1 if anything is.

    check_daemonset.py FILE"""
import sys

import yaml

errors = []


def fail(path, what):
    errors.append("%s: %s" % (path, what))


# A schema: a dict maps field -> schema (a key ending in "!" is required), a
# list [schema] is a list of those, a type is a leaf, a set is an enum.
STR, INT, BOOL = str, int, bool
META = {"name!": STR, "namespace": STR, "labels": {"*": STR}}
PROBE = {"exec!": {"command!": [STR]}, "periodSeconds": INT, "timeoutSeconds": INT,
         "initialDelaySeconds": INT, "failureThreshold": INT}
CONTAINER = {
    "name!": STR, "image!": STR, "imagePullPolicy": {"Always", "IfNotPresent", "Never"},
    "command": [STR], "args": [STR],
    "securityContext": {"privileged": BOOL, "capabilities": {"add": [STR], "drop": [STR]}},
    "resources": {"requests": {"cpu": STR, "memory": STR}, "limits": {"cpu": STR, "memory": STR}},
    "livenessProbe": PROBE, "readinessProbe": PROBE,
    "volumeMounts": [{"name!": STR, "mountPath!": STR, "readOnly": BOOL,
                      "mountPropagation": {"None", "HostToContainer", "Bidirectional"}}],
}
VOLUME = {"name!": STR,
          "hostPath": {"path!": STR, "type": {"", "Directory", "DirectoryOrCreate", "File",
                                              "FileOrCreate", "Socket"}},
          "configMap": {"name!": STR, "defaultMode": INT}}
DAEMONSET = {
    "apiVersion!": {"apps/v1"}, "kind!": {"DaemonSet"}, "metadata!": META,
    "spec!": {
        "selector!": {"matchLabels!": {"*": STR}},
        "updateStrategy": {"type": {"RollingUpdate", "OnDelete"},
                           "rollingUpdate": {"maxUnavailable": (STR, INT)}},
        "template!": {
            "metadata!": {"labels!": {"*": STR}},
            "spec!": {
                "hostNetwork": BOOL, "hostPID": BOOL, "dnsPolicy": STR,
                "priorityClassName": STR, "terminationGracePeriodSeconds": INT,
                "tolerations": [{"operator": {"Exists", "Equal"}, "key": STR,
                                 "effect": STR, "value": STR}],
                "containers!": [CONTAINER], "volumes": [VOLUME],
            },
        },
    },
}
CONFIGMAP = {"apiVersion!": {"v1"}, "kind!": {"ConfigMap"}, "metadata!": META,
             "data": {"*": STR}}


def check(node, schema, path):
    if isinstance(schema, dict):
        if not isinstance(node, dict):
            return fail(path, "expected a mapping")
        for key, value in node.items():
            sub = schema.get(key, schema.get(key + "!", schema.get("*")))
            if sub is None:
                fail(path, "unknown field %r" % key)
            else:
                check(value, sub, "%s.%s" % (path, key))
        for key in schema:
            if key.endswith("!") and key[:-1] not in node:
                fail(path, "missing %r" % key[:-1])
    elif isinstance(schema, list):
        if not isinstance(node, list):
            return fail(path, "expected a list")
        for i, item in enumerate(node):
            check(item, schema[0], "%s[%d]" % (path, i))
    elif isinstance(schema, set):
        if node not in schema:
            fail(path, "%r is not one of %s" % (node, sorted(schema)))
    elif not isinstance(node, schema) or (schema is INT and isinstance(node, bool)):
        fail(path, "expected %s, got %r" % (schema, node))


docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
kinds = {d.get("kind"): d for d in docs}
if sorted(kinds) != ["ConfigMap", "DaemonSet"]:
    fail("file", "expected a ConfigMap and a DaemonSet, got %s" % sorted(kinds))
check(kinds.get("DaemonSet", {}), DAEMONSET, "DaemonSet")
check(kinds.get("ConfigMap", {}), CONFIGMAP, "ConfigMap")

ds = kinds.get("DaemonSet", {})
spec = ds.get("spec", {}).get("template", {}).get("spec", {})
if ds.get("spec", {}).get("selector", {}).get("matchLabels") != \
        ds.get("spec", {}).get("template", {}).get("metadata", {}).get("labels"):
    fail("DaemonSet", "the selector does not select the pods' labels")
if spec.get("hostPID") is not True:
    fail("DaemonSet", "hostPID must be true: owners are found in the host's /proc")
if spec.get("hostNetwork") is not True:
    fail("DaemonSet", "hostNetwork must be true: the node's connections are the ones to close")
volumes = {v["name"]: v for v in spec.get("volumes", [])}
for c in spec.get("containers", []):
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for m in mounts.values():
        if m["name"] not in volumes:
            fail("DaemonSet", "mount %s names no volume %r" % (m["mountPath"], m["name"]))
    args = dict(a[2:].split("=", 1) for a in c.get("args", []) if a.startswith("--"))
    for opt in ("pin-dir", "cgroup", "socket", "state-file", "rules-dir"):
        if opt not in args:
            fail("DaemonSet", "connctld is not given --%s" % opt)
    # Each path the agent uses lies in a mount of the host path it needs.
    def mount_of(path):
        best = None
        for mp in mounts:
            if path == mp or path.startswith(mp.rstrip("/") + "/"):
                if best is None or len(mp) > len(best):
                    best = mp
        return mounts.get(best)
    wanted = {"pin-dir": ("hostPath", "/sys/fs/bpf"), "cgroup": ("hostPath", "/sys/fs/cgroup"),
              "socket": ("hostPath", "/run/connctl"), "state-file": ("hostPath", "/var/lib/connctl"),
              "rules-dir": ("configMap", kinds.get("ConfigMap", {}).get("metadata", {}).get("name"))}
    for opt, (kind, source) in wanted.items():
        m = mount_of(args.get(opt, "/nonexistent"))
        vol = volumes.get(m["name"]) if m else None
        got = vol and vol.get(kind) and vol[kind].get("path" if kind == "hostPath" else "name")
        if got != source:
            fail("DaemonSet", "--%s=%s is not on %s %s" % (opt, args.get(opt), kind, source))
    if mounts.get("/sys/fs/bpf", {}).get("mountPropagation") != "Bidirectional":
        fail("DaemonSet", "/sys/fs/bpf needs Bidirectional propagation: pins outlive the pod")
for line in errors:
    print(line)
sys.exit(1 if errors else 0)
