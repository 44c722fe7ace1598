#!/usr/bin/env bash
# make image: an OCI image built here (no base image, no registry), read by
# Debian's own OCI tools: skopeo inspects the layout and the archive (the
# entrypoint, the labels with the version and the capabilities), umoci
# unpacks it, and the agent in the unpacked root runs from there alone.
. "$(dirname "$0")/lib.sh"

IMAGE=$BUILD/image
ARCHIVE=$BUILD/connctl-image.tar
TAG_NAME=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])' \
	"$IMAGE/index.json") || die "no image in $IMAGE: make image"
log "image: oci:$IMAGE:$TAG_NAME, $(stat -c %s "$ARCHIVE") bytes archived"

version=$("$BUILD/static/connctld" --version | cut -d' ' -f2)
for ref in "oci:$IMAGE:$TAG_NAME" "oci-archive:$ARCHIVE"; do
	info=$(skopeo inspect "$ref") || die "skopeo inspect $ref failed"
	expect_eq "$(jget "$info" 'd["Labels"]["org.opencontainers.image.version"]')" "$version" \
		"the version label of $ref"
	caps=$(jget "$info" 'd["Labels"]["io.connctl.capabilities"]')
	[[ $caps == *CAP_BPF*CAP_NET_ADMIN* ]] || die "$ref: capabilities label '$caps'"
done
config=$(skopeo inspect --config "oci:$IMAGE:$TAG_NAME")
expect_eq "$(jget "$config" 'd["config"]["Entrypoint"]')" "['/usr/sbin/connctld']" "the entrypoint"

umoci unpack --image "$IMAGE:$TAG_NAME" "$TMP/bundle" >/dev/null 2>&1 || die "umoci unpack failed"
expect_eq "$(jget "$(cat "$TMP/bundle/config.json")" 'd["process"]["args"][0]')" \
	/usr/sbin/connctld "the bundle's process"
expect_eq "$(cd "$TMP/bundle/rootfs" && find . -type f | sort | tr '\n' ' ')" \
	"./etc/group ./usr/sbin/connctl ./usr/sbin/connctld " "files in the image"
expect_eq "$(chroot "$TMP/bundle/rootfs" /usr/sbin/connctld --version)" "connctld $version" \
	"the agent run inside the unpacked root"
expect_eq "$(chroot "$TMP/bundle/rootfs" /usr/sbin/connctl --version)" "connctl $version" \
	"the CLI run inside the unpacked root"
