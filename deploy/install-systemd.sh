#!/usr/bin/env bash
# Installs ddnsd as a systemd service, upgrades it, or removes it.
#
#   sudo deploy/install-systemd.sh [--binary PATH]        # install or upgrade
#   sudo deploy/install-systemd.sh --uninstall [--purge]  # remove
#   deploy/install-systemd.sh --root DIR ...              # into DIR, no systemctl
#
# What it installs (modes in brackets):
#   /usr/local/bin/ddnsd                         [0755] --binary PATH, else
#                                                       target/release/ddnsd
#   /usr/local/lib/systemd/system/ddnsd.service  [0644] replaced on every run
#   /etc/default/ddnsd                           [0640] from ddnsd.env.example,
#                                                       only when missing
#   /etc/ddns/credentials/                       [0700] for LoadCredential= files
#
# No account is created: the unit runs ddnsd as a dynamic user
# (DynamicUser=yes), and systemd makes the state directory /var/lib/ddns at
# start. Running the script again is an upgrade: the binary and the unit are
# replaced, the settings are kept, and a running service is restarted.
#
# --uninstall stops and disables the service and removes the binary and the
# unit; the settings, credentials and state stay unless --purge is given.
# --root DIR works under DIR instead of / (for packaging and tests): it needs
# no root and never calls systemctl.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
unit_source="$repo_root/deploy/systemd/ddnsd.service"
env_source="$repo_root/deploy/systemd/ddnsd.env.example"

bin_path=usr/local/bin/ddnsd
unit_path=usr/local/lib/systemd/system/ddnsd.service
env_path=etc/default/ddnsd
credentials_path=etc/ddns/credentials
state_paths=(var/lib/ddns var/lib/private/ddns)

usage() {
	sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

log() {
	printf 'install-systemd.sh: %s\n' "$*" >&2
}

die() {
	log "$*"
	exit 1
}

root=/
binary=""
action=install
purge=false
while (($# > 0)); do
	case "$1" in
	--root)
		(($# >= 2)) || die "--root needs a directory"
		root="$2"
		shift 2
		;;
	--root=*)
		root="${1#--root=}"
		shift
		;;
	--binary)
		(($# >= 2)) || die "--binary needs a path"
		binary="$2"
		shift 2
		;;
	--binary=*)
		binary="${1#--binary=}"
		shift
		;;
	--uninstall)
		action=uninstall
		shift
		;;
	--purge)
		purge=true
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		die "unknown argument '$1' (see --help)"
		;;
	esac
done

if [[ "$purge" == true && "$action" != uninstall ]]; then
	die "--purge goes with --uninstall"
fi
if [[ -n "$binary" && "$action" == uninstall ]]; then
	die "--binary goes with an install, not --uninstall"
fi

if [[ "$root" == / ]]; then
	if ((EUID != 0)); then
		die "run as root (sudo), or give --root DIR to install elsewhere"
	fi
	prefix=""
else
	mkdir -p -- "$root"
	prefix="$(cd -- "$root" && pwd)"
fi

# systemctl only for the real root, and only when systemd is running (a
# container or a chroot has no systemd to talk to).
use_systemctl=false
if [[ -z "$prefix" && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
	use_systemctl=true
fi

# Copies $1 to $2 with mode $3 through a temporary file and a rename, so
# that a running binary is replaced, not overwritten in place.
install_file() {
	local source="$1" target="$2" mode="$3" temporary
	install -d -m 0755 -- "$(dirname -- "$target")"
	temporary="$(mktemp -- "$target.XXXXXX")"
	cp -- "$source" "$temporary"
	chmod -- "$mode" "$temporary"
	mv -f -- "$temporary" "$target"
}

do_install() {
	if [[ -z "$binary" ]]; then
		binary="${CARGO_TARGET_DIR:-$repo_root/target}/release/ddnsd"
		[[ -f "$binary" ]] || die "no binary at $binary: build it (cargo build --release -p ddnsd) or give --binary PATH"
	fi
	[[ -f "$binary" && -x "$binary" ]] || die "$binary is not an executable file"
	local version
	version="$("$binary" --version)" || die "$binary --version failed; is it a ddnsd for this machine?"

	install_file "$binary" "$prefix/$bin_path" 0755
	log "installed /$bin_path ($version)"
	install_file "$unit_source" "$prefix/$unit_path" 0644
	log "installed /$unit_path"
	if [[ -e "$prefix/$env_path" ]]; then
		log "kept /$env_path (already there)"
	else
		install_file "$env_source" "$prefix/$env_path" 0640
		log "installed /$env_path from the example; edit it before starting the service"
	fi
	install -d -m 0755 -- "$prefix/etc/ddns"
	install -d -m 0700 -- "$prefix/$credentials_path"

	if [[ "$use_systemctl" == true ]]; then
		systemctl daemon-reload
		if systemctl is-active --quiet ddnsd.service; then
			systemctl restart ddnsd.service
			log "restarted the running service with the new binary"
		else
			log "next: edit /$env_path, then: systemctl enable --now ddnsd"
		fi
	else
		log "systemd is not running here (or --root was given): no systemctl call"
	fi
}

do_uninstall() {
	if [[ "$use_systemctl" == true ]]; then
		systemctl disable --now ddnsd.service 2>/dev/null || true
	fi
	local path
	for path in "$bin_path" "$unit_path"; do
		if [[ -e "$prefix/$path" ]]; then
			rm -f -- "$prefix/$path"
			log "removed /$path"
		fi
	done
	if [[ "$purge" == true ]]; then
		local target
		for path in "$env_path" "$credentials_path" "${state_paths[@]}"; do
			target="$prefix/$path"
			if [[ -e "$target" || -L "$target" ]]; then
				rm -rf -- "$target"
				log "purged /$path"
			fi
		done
		rmdir -- "$prefix/etc/ddns" 2>/dev/null || true
	else
		log "kept /$env_path, /$credentials_path and the state in /var/lib/ddns (--purge removes them)"
	fi
	if [[ "$use_systemctl" == true ]]; then
		systemctl daemon-reload
	fi
}

umask 022
case "$action" in
install) do_install ;;
uninstall) do_uninstall ;;
esac
