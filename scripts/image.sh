#!/usr/bin/env bash
# make image: an OCI image of connctld, built here from the static binaries
# with no base image and no registry: one layer (the two binaries and the
# directories the agent uses), a config whose entrypoint is connctld and
# whose labels give the version and the capabilities it needs. Written as an
# OCI layout directory and as an archive of it (oci-archive).
#
# Usage: scripts/image.sh BUILD_DIR VERSION TAG
set -euo pipefail

build=$1 version=$2 tag=$3
static=$build/static
out=$build/image
archive=$build/connctl-image.tar
work=$(mktemp -d "$build/image-work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The root: binaries, and mount points the DaemonSet fills from the host.
root=$work/rootfs
install -D -m 0755 "$static/connctld" "$root/usr/sbin/connctld"
install -D -m 0755 "$static/connctl" "$root/usr/sbin/connctl"
mkdir -p "$root/etc/connctl/rules.d" "$root/run/connctl" "$root/var/lib/connctl" \
	"$root/sys" "$root/proc" "$root/tmp"
echo "root:x:0:" >"$root/etc/group"
chmod 1777 "$root/tmp"

# Reproducible: same binaries, same bytes.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" \
	-cf "$work/layer.tar" .
gzip -9n <"$work/layer.tar" >"$work/layer.tar.gz"

rm -rf "$out"
mkdir -p "$out/blobs/sha256"
python3 - "$work" "$out" "$version" "$tag" <<'PY'
import hashlib, json, os, shutil, sys

work, out, version, tag = sys.argv[1:]
blobs = os.path.join(out, "blobs", "sha256")

def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}

diff_id = "sha256:" + sha(os.path.join(work, "layer.tar"))
layer_digest = sha(os.path.join(work, "layer.tar.gz"))
shutil.copy(os.path.join(work, "layer.tar.gz"), os.path.join(blobs, layer_digest))
layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
         "digest": "sha256:" + layer_digest,
         "size": os.path.getsize(os.path.join(blobs, layer_digest))}
caps = "CAP_BPF,CAP_PERFMON,CAP_SYS_ADMIN,CAP_NET_ADMIN,CAP_SYS_PTRACE,CAP_DAC_READ_SEARCH,CAP_CHOWN"
labels = {
    "org.opencontainers.image.title": "connctl",
    "org.opencontainers.image.description":
        "connctld: closes TCP connections by policy, with eBPF",
    "org.opencontainers.image.version": version,
    "io.connctl.capabilities": caps,
    "io.connctl.requires": "hostNetwork, hostPID, /sys/fs/bpf, the cgroup v2 mount",
}
config = {
    "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
    "config": {"Entrypoint": ["/usr/sbin/connctld"],
               "Cmd": ["--rules-dir", "/etc/connctl/rules.d"],
               "Labels": labels, "WorkingDir": "/"},
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created": "1970-01-01T00:00:00Z",
                 "created_by": "scripts/image.sh: the static connctld and connctl"}],
}
cfg = blob(json.dumps(config, sort_keys=True).encode())
cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": cfg, "layers": [layer], "annotations": {
                "org.opencontainers.image.version": version}}
man = blob(json.dumps(manifest, sort_keys=True).encode())
man["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
man["annotations"] = {"org.opencontainers.image.ref.name": tag}
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [man]}, f, sort_keys=True)
with open(os.path.join(out, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
PY
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$out" \
	-cf "$archive" oci-layout index.json blobs
echo "image: $out (oci:$out:$tag), $archive (oci-archive)"
