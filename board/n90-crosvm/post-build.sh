#!/usr/bin/env bash
# Post-build hook of the N90 board's rootfs (mkrootfs.sh runs it on the unpacked tree before
# the image is made, as a buildroot board's post-build.sh gets TARGET_DIR):
#   - the kernel's modules the board needs, with their dependencies, for modprobe: virtio,
#     the network (veth, dummy, tun) and netfilter for iptables (nf_tables backend)
#   - overlay/ (the init, the board test, the security suite, sysctls, firewall rules)
#   - the hostname, and the package manifest (OUT/packages.manifest)
# usage: post-build.sh TREE   (environment from mkrootfs.sh: ROOT, BOARD_DIR, ARCH, KERNEL_DIR,
#                              KERNEL_VERSION, OUT)
set -euo pipefail
tree=$1
k=$KERNEL_DIR/modules
m=$tree/lib/modules/$KERNEL_VERSION

# Modules by name, closed over modules.dep (the whole tree would add ~90 MiB); those built
# into this kernel need nothing.
wanted="virtio_blk virtio_net virtio_mmio virtio_pci virtio_console virtio_rng veth dummy tun
	nf_tables nft_ct nft_compat nft_reject_inet nft_reject_ipv4 nft_chain_nat nf_conntrack
	ip_tables iptable_filter x_tables xt_tcpudp xt_conntrack xt_state xt_multiport xt_comment
	ipt_REJECT nfnetlink"
# The package has no modules.dep (depmod makes it at install): make one aside.
dep=$(mktemp -d "${TMPDIR:-/tmp}/n90-depmod.XXXXXX")
trap 'rm -rf "$dep"' EXIT
mkdir -p "$dep/lib/modules" "$m"
cp -al "$k" "$dep/lib/modules/$KERNEL_VERSION" 2>/dev/null || cp -a "$k" "$dep/lib/modules/$KERNEL_VERSION"
depmod -b "$dep" "$KERNEL_VERSION"
paths=$(awk -v want=" $(echo $wanted) " '
	{ sub(/:$/, "", $1); deps[$1] = $0; name = $1; sub(/.*\//, "", name); sub(/\.ko.*$/, "", name)
	  gsub(/-/, "_", name); if (index(want, " " name " ")) todo[$1] = 1 }
	END {
		n = 0; for (p in todo) queue[n++] = p
		for (i = 0; i < n; i++) {
			p = queue[i]; if (p in done) continue; done[p] = 1; print p
			split(deps[p], d, " "); for (j = 2; j in d; j++) if (!(d[j] in done)) queue[n++] = d[j]
		}
	}' "$dep/lib/modules/$KERNEL_VERSION/modules.dep" | sort -u)
(cd "$k" && cp --parents $paths "$m/")
cp "$k"/modules.order "$k"/modules.builtin* "$m/" 2>/dev/null || true
depmod -b "$tree" "$KERNEL_VERSION"

# Owned by root whoever checked the files out.
cp -a --no-preserve=ownership "$ROOT/overlay/." "$tree/"
echo n90 >"$tree/etc/hostname"

dpkg-query --admindir="$tree/var/lib/dpkg" -W -f '${Package} ${Version} ${Architecture}\n' >"$OUT/packages.manifest"
echo "post-build: $(echo "$paths" | wc -w) modules, $(wc -l <"$OUT/packages.manifest") packages" >&2
