#!/usr/bin/env bash
# sgarch harden.sh: the last script of every sgarch image build, run as root through SSM before the
# instance is stopped and imaged. It removes everything AWS Marketplace and the EC2 "shared AMI" guide
# forbid in an image, then checks its own work and fails the build if anything is left.
#
# - no authorized_keys for any user (buyers bring their own key pair at launch);
# - no SSH host keys (sshd-keygen makes fresh ones on first boot, so no two instances share them);
# - password and root login disabled in sshd, root's password locked;
# - cloud-init cleaned, so user-data runs again on the buyer's first boot;
# - logs, shell history, the machine id and temporary files cleared;
# - the SSM agent's stored commands removed (each holds its script and environment values), last of all.
set -euo pipefail

ROOT="${SGARCH_ROOT:-}"
SSHD_DROPIN="$ROOT/etc/ssh/sshd_config.d/00-sgarch-hardening.conf"
SSM_STATE="$ROOT/var/lib/amazon/ssm"
SSM_WIPE_UNIT="$ROOT/etc/systemd/system/sgarch-ssm-wipe.service"

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

current_command() {
    # This script runs inside an SSM command: the agent's _script.sh, under document/orchestration/<command
    # id>/, is one of our ancestors. Its id is the one entry that must survive until the command ends.
    local pid=$$ cmdline
    while [[ "$pid" -gt 1 ]]; do
        cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
        if [[ "$cmdline" =~ /document/orchestration/([^/ ]+)/ ]]; then
            printf '%s\n' "${BASH_REMATCH[1]}"
            return
        fi
        pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null || echo 1)
    done
}

clear_ssm_commands() {
    log "removing the SSM agent's stored commands"
    local current entry
    current=$(current_command)
    # Every finished command: its script (orchestration) and its parameters (state), environment included.
    for entry in "$SSM_STATE"/*/document/orchestration/* "$SSM_STATE"/*/document/state/*/*; do
        [[ -e "$entry" ]] || continue
        if [[ -n "$current" && "$(basename "$entry")" == "$current" ]]; then
            continue
        fi
        rm -rf "$entry"
    done
    # The running command (this one) is recorded again when it ends, so it goes when the instance stops:
    # a unit ordered before the agent is stopped after it, then removes itself. It is started, not
    # enabled, so it never runs on a buyer's instance.
    mkdir -p "$(dirname "$SSM_WIPE_UNIT")"
    printf '%s\n' \
        '[Unit]' \
        'Description=sgarch image build: remove the SSM agent stored commands at shutdown' \
        'Before=amazon-ssm-agent.service' \
        '[Service]' \
        'Type=oneshot' \
        'RemainAfterExit=yes' \
        'ExecStart=/bin/true' \
        "ExecStop=/bin/sh -c 'rm -rf /var/lib/amazon/ssm/*/document/orchestration /var/lib/amazon/ssm/*/document/state /etc/systemd/system/sgarch-ssm-wipe.service'" \
        >"$SSM_WIPE_UNIT"
    if [[ -z "$ROOT" ]] && command -v systemctl >/dev/null; then
        systemctl daemon-reload
        systemctl start sgarch-ssm-wipe.service
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
    clear_ssm_commands
}

main "$@"
