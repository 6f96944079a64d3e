# shellcheck shell=bash
# sgarch standalone.sh: sourced by boot.sh when the sgarch AMI boots without sgarch's user-data (launched
# from AWS Marketplace or the console). Only the image carries it; the single-node stack's user-data never
# needs it, which keeps that user-data under EC2's 16 KB. Uses boot.sh's log, die and settings.
#
# - The release is the image's own (/etc/sgarch/image.env, written by the image build).
# - The data volume is the one labelled sgdata (a reboot, or data moved from another instance), else the
#   only unused EBS volume. Two unused volumes are ambiguous: boot.sh stops rather than guess which to format.
# - The tier is the largest one whose machine this instance matches, from /etc/sgarch/tiers/index (generated
#   from sgarch's tier table, with one compose override per tier next to it).

TIERS_DIR="${SGARCH_TIERS_DIR:-$CONFIG_DIR/tiers}"
# A new data volume smaller than this is refused: it is most likely the console's default extra volume, and
# Sourcegraph would fill it within days. A volume already labelled sgdata is used whatever its size.
MIN_NEW_VOLUME_GIB="${SGARCH_MIN_NEW_VOLUME_GIB:-100}"
MEMINFO="${SGARCH_MEMINFO:-/proc/meminfo}"
# Read by boot.sh's messages.
# shellcheck disable=SC2034
VOLUME_DESC="(labelled $DATA_LABEL, or the only unused EBS volume)"
# shellcheck disable=SC2034
MISSING_VOLUME_FIX=": attach an empty EBS volume (gp3, 500 GiB or more), then run: systemctl restart sgarch-boot"

# EBS volumes (NVMe serial vol…, so never instance storage) with no partition and nothing mounted; the root
# disk has both.
unused_ebs_disks() {
    local name serial
    while read -r name serial; do
        [[ "$serial" == vol* ]] || continue
        if [[ -z "$(lsblk --noheadings --raw --output PKNAME,MOUNTPOINT "$name" 2>/dev/null | tr -d '[:space:]')" ]]; then
            echo "$name"
        fi
    done < <(lsblk --nodeps --paths --noheadings --output NAME,SERIAL 2>/dev/null || true)
}

# Sets DEVICE like boot.sh's find_device (empty while there is no candidate). It never runs in a subshell,
# so its refusals end the boot at once, with their own message.
find_standalone_device() {
    local disks=()
    DEVICE="$(blkid -L "$DATA_LABEL" 2>/dev/null || true)"
    [[ -z "$DEVICE" ]] || return 0
    mapfile -t disks < <(unused_ebs_disks)
    if ((${#disks[@]} > 1)); then
        die "${#disks[@]} unused EBS volumes (${disks[*]}): detach all but the data volume, or label it with xfs_admin -L $DATA_LABEL DEVICE"
    fi
    if ((${#disks[@]} == 1)); then
        check_new_volume_size "${disks[0]}"
        DEVICE="${disks[0]}"
    fi
}

check_new_volume_size() {
    local device="$1" bytes
    bytes="$(lsblk --nodeps --bytes --noheadings --output SIZE "$device" 2>/dev/null | tr -d '[:space:]')"
    if [[ "$bytes" =~ ^[0-9]+$ ]] && ((bytes < MIN_NEW_VOLUME_GIB * 1024 * 1024 * 1024)); then
        die "the only unused EBS volume, $device, has $((bytes / 1024 / 1024 / 1024)) GiB: attach an empty volume of at least $MIN_NEW_VOLUME_GIB GiB (500 GiB or more recommended) instead, then run: systemctl restart sgarch-boot"
    fi
}

# The index lists tiers from small to large as `TIER VCPU MEMORY_GB`. MemTotal is a little under the
# instance's nominal memory, hence 90%.
choose_tier() {
    local vcpu mem_kib tier need_vcpu need_gb chosen=""
    vcpu="$(nproc)"
    mem_kib="$(awk '/^MemTotal:/ {print $2}' "$MEMINFO")"
    [[ -r "$TIERS_DIR/index" ]] || die "$TIERS_DIR/index is missing: this image has no tier overrides"
    while read -r tier need_vcpu need_gb; do
        [[ -z "$tier" || "$tier" == \#* ]] && continue
        if ((vcpu >= need_vcpu && mem_kib >= need_gb * 1024 * 1024 * 9 / 10)); then
            chosen="$tier"
        fi
    done <"$TIERS_DIR/index"
    [[ -n "$chosen" ]] ||
        die "this instance has $vcpu vCPU and $((mem_kib / 1048576)) GiB of memory, less than the smallest tier: use m6a.2xlarge or larger"
    [[ -f "$TIERS_DIR/$chosen.yaml" ]] || die "$TIERS_DIR/$chosen.yaml is missing"
    log "standalone: tier $chosen for $vcpu vCPU and $((mem_kib / 1048576)) GiB of memory"
    # boot.sh copies it into the compose directory.
    # shellcheck disable=SC2034
    OVERRIDE_FILE="$TIERS_DIR/$chosen.yaml"
}
