#!/usr/bin/env bash
# Installs, idempotently, every Debian package the lab and the test suite need.
# Run as root on Debian (bookworm or later). Go itself is expected at /usr/local/go
# (or anywhere on PATH); it is not installed from apt because Debian's Go is older
# than the version go.mod asks for.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps.sh: must run as root (apt-get install)" >&2
	exit 1
fi

pkgs=(
	debootstrap        # builds the lab's Debian base image
	systemd-container  # systemd-nspawn: runs each lab host with systemd as PID 1
	iproute2           # ip netns / ip link / bridges / veths
	nftables           # lab partition: cuts the link between DCs in the router namespace
	openssh-client     # ssh, ssh-keygen, ssh-keyscan for the lab key and known_hosts
	curl               # /healthz checks
	graphviz           # renders `dcctl graph` output in docs and tests
	procps             # ps, sysctl
	psmisc             # fuser, to find what still holds a lab mount
	util-linux         # mount, nsenter, unshare
	kmod               # modprobe (overlay, bridge, nf_tables) where modules are loadable
	ca-certificates    # go module downloads over HTTPS
	git
	make
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "install-deps.sh: all packages present"
	exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
