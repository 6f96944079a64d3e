"""What runs on a single-node host: its user-data, the files it boots from without one, and its scripts.

Pure: no Pulumi, no AWS calls, no clock. The ``SingleNode`` component (:mod:`sgarch.single_node`) renders
its user-data from here; the AMI builder (``amis/single-node/ami.yaml``) and ``make docs`` read the same
scripts and standalone files without importing Pulumi.
"""

from __future__ import annotations

from sgarch.host._gzip import deterministic_gzip
from sgarch.host.proxy import (
    MAX_NO_PROXY_CHARS,
    ProxyTarget,
    check_no_proxy,
    container_no_proxy,
    host_no_proxy,
    parse_proxy_url,
)
from sgarch.host.shipped import DEFAULT_SOURCEGRAPH_VERSION, deploy_commits, script_text
from sgarch.host.standalone import (
    IMAGE_SOURCE_DIR,
    TIERS_SOURCE_DIR,
    standalone_image_files,
    standalone_tier_files,
)
from sgarch.host.upgrade_paths import render_upgrade_paths
from sgarch.host.userdata import (
    BOOT_LOG,
    BOOT_UNIT,
    DATA_DEVICE_NAME,
    DATA_LABEL,
    DATA_MOUNT_POINT,
    IMAGES,
    MAX_USER_DATA_BYTES,
    PROXY_ENV,
    UPGRADE_PATHS,
    UPGRADE_STATUS,
    UserDataConfig,
    render_user_data,
    render_user_data_base64,
    user_data_fingerprint,
)

__all__ = [
    "BOOT_LOG",
    "BOOT_UNIT",
    "DATA_DEVICE_NAME",
    "DATA_LABEL",
    "DATA_MOUNT_POINT",
    "DEFAULT_SOURCEGRAPH_VERSION",
    "IMAGES",
    "IMAGE_SOURCE_DIR",
    "MAX_NO_PROXY_CHARS",
    "MAX_USER_DATA_BYTES",
    "PROXY_ENV",
    "TIERS_SOURCE_DIR",
    "UPGRADE_PATHS",
    "UPGRADE_STATUS",
    "ProxyTarget",
    "UserDataConfig",
    "check_no_proxy",
    "container_no_proxy",
    "deploy_commits",
    "deterministic_gzip",
    "host_no_proxy",
    "parse_proxy_url",
    "render_upgrade_paths",
    "render_user_data",
    "render_user_data_base64",
    "script_text",
    "standalone_image_files",
    "standalone_tier_files",
    "user_data_fingerprint",
]
