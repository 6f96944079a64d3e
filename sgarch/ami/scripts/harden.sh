#!/usr/bin/env bash
# sgarch harden.sh: the last script of every sgarch image build, run as root through SSM before the
# instance is stopped and imaged. It removes everything AWS Marketplace and the EC2 "shared AMI" guide
# forbid in an image, then checks its own work and fails the build if anything is left.
#
# - no authorized_keys for any user (buyers bring their own key pair at launch);
# - no SSH host keys (sshd-keygen makes fresh ones on first boot, so no two instances share them);
# - password and root login disabled in sshd, root's password locked;
# - cloud-init cleaned, so user-data runs again on the buyer's first boot;
# - logs, shell history, the machine id and temporary files cleared.
set -euo pipefail

ROOT="${SGARCH_ROOT:-}"
SSHD_DROPIN="$ROOT/etc/ssh/sshd_config.d/00-sgarch-hardening.conf"

log() { printf '%s sgarch-harden: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() {
    log "ERROR: $*"
    exit 1
}

home_dirs() {
    printf '%s\n' "$ROOT/root"
    find "$ROOT/home" -mindepth 1 -maxdepth 1 -type d 2>/dev/null || true
}

remove_keys() {
    log "removing authorized_keys and SSH host keys"
    local home
    while IFS= read -r home; do
        rm -f "$home/.ssh/authorized_keys" "$home/.ssh/authorized_keys2"
    done < <(home_dirs)
    rm -f "$ROOT"/etc/ssh/ssh_host_*
}

lock_logins() {
    log "disabling password and root login"
    mkdir -p "$(dirname "$SSHD_DROPIN")"
    # sshd keeps the first value it reads and includes sshd_config.d/* in name order, so 00- wins over
    # cloud-init's 50-cloud-init.conf.
    printf '%s\n' \
        '# Written by sgarch harden.sh: key-pair login only (AWS Marketplace AMI policy).' \
        'PasswordAuthentication no' \
        'KbdInteractiveAuthentication no' \
        'PermitEmptyPasswords no' \
        'PermitRootLogin no' >"$SSHD_DROPIN"
    chmod 0600 "$SSHD_DROPIN"
    if [[ -z "$ROOT" ]]; then
        passwd -l root >/dev/null
    fi
}

clean_cloud_init() {
    log "cleaning cloud-init state"
    if [[ -z "$ROOT" ]] && command -v cloud-init >/dev/null; then
        cloud-init clean --logs --seed
    else
        rm -rf "$ROOT/var/lib/cloud"
    fi
}

clear_traces() {
    log "clearing logs, shell history, machine id and temporary files"
    local home
    while IFS= read -r home; do
        rm -f "$home/.bash_history" "$home/.lesshst" "$home/.viminfo" "$home/.python_history"
    done < <(home_dirs)
    if [[ -z "$ROOT" ]] && command -v journalctl >/dev/null; then
        journalctl --rotate >/dev/null 2>&1 || true
        journalctl --vacuum-time=1s >/dev/null 2>&1 || true
    fi
    find "$ROOT/var/log" -type f \( -name '*.gz' -o -name '*.[0-9]' -o -name '*-????????' \) -delete 2>/dev/null || true
    find "$ROOT/var/log" -type f -exec truncate -s 0 {} + 2>/dev/null || true
    rm -rf "${ROOT:?}/tmp/"* "${ROOT:?}/var/tmp/"*
    # An empty machine-id makes systemd generate a new one on first boot instead of cloning ours.
    if [[ -f "$ROOT/etc/machine-id" ]]; then
        : >"$ROOT/etc/machine-id"
    fi
}

verify() {
    local home leftover=()
    while IFS= read -r home; do
        [[ -e "$home/.ssh/authorized_keys" ]] && leftover+=("$home/.ssh/authorized_keys")
    done < <(home_dirs)
    compgen -G "$ROOT/etc/ssh/ssh_host_*" >/dev/null && leftover+=("SSH host keys")
    grep -qx 'PasswordAuthentication no' "$SSHD_DROPIN" || leftover+=("PasswordAuthentication")
    grep -qx 'PermitRootLogin no' "$SSHD_DROPIN" || leftover+=("PermitRootLogin")
    if [[ ${#leftover[@]} -gt 0 ]]; then
        die "hardening incomplete: ${leftover[*]}"
    fi
    log "hardening verified"
}

main() {
    remove_keys
    lock_logins
    clean_cloud_init
    clear_traces
    verify
}

main "$@"
