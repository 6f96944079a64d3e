"""The migration bucket and the presigned URLs a host moves files with.

The instance role of a single node is never changed (the source is changed only by maintenance mode), so
the host cannot call S3 itself. The CLI signs URLs with the operator's credentials instead:
- uploads are S3 multipart uploads, one presigned ``UploadPart`` URL per part, so dumps over 5 GiB work;
  the upload is created here with SSE-KMS, and the bucket's default encryption is SSE-KMS as well;
- downloads are one presigned ``GetObject`` URL per file (S3 decrypts with the signer's kms:Decrypt).
A presigned URL lives at most as long as the credentials that signed it: sign with a role session that
outlasts the transfer (:data:`URL_SECONDS`).

The bucket is created when missing, and checked when it exists; sgarch never deletes it or its objects.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from sgarch.errors import BuildError, ConfigError
from sgarch.upgrade.aws import error_code, error_message, is_forbidden

__all__ = [
    "MIB",
    "URL_SECONDS",
    "BucketCheck",
    "Upload",
    "complete_upload",
    "delete_object",
    "ensure_bucket",
    "get_text",
    "part_size",
    "part_urls",
    "presign_get",
    "put_text",
    "s3_client",
    "start_upload",
]

MIB = 1024 * 1024
#: Lifetime of every presigned URL: long enough for one file of a large export on a slow link.
URL_SECONDS = 6 * 3600
#: S3 allows 10,000 parts; sgarch aims for at most this many, so a host's URL list stays small.
_TARGET_PARTS = 500
_MIN_PART = 64 * MIB
_MAX_PART = 5 * 1024 * MIB


def s3_client(region: str, endpoint_url: str | None = None) -> Any:
    """An S3 client that presigns with SigV4 (KMS-encrypted objects refuse other signatures).

    Path-style addressing against a local stand-in (``endpoint_url``), whose host name has no buckets.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return boto3.session.Session().client("s3", region_name=region, endpoint_url=endpoint_url, config=config)


def part_size(total_bytes: int) -> int:
    """The part size for a file: a whole number of MiB, 64 MiB to 5 GiB, about 500 parts at most."""
    wanted = max(_MIN_PART, math.ceil(max(total_bytes, 1) / _TARGET_PARTS))
    return min(_MAX_PART, math.ceil(wanted / MIB) * MIB)


def _call(action: str, fn: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        if is_forbidden(exc):
            raise BuildError(f"{action} is forbidden ({error_code(exc)}): allow it for the caller") from None
        raise BuildError(f"{action} failed: {error_code(exc)}: {error_message(exc)}") from None


def _missing(exc: BaseException, *codes: str) -> bool:
    return error_code(exc) in codes


@dataclass(frozen=True)
class BucketCheck:
    """What :func:`ensure_bucket` found or did."""

    created: bool
    kms_key_id: str | None


def _tls_only_policy(bucket: str) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def ensure_bucket(s3: Any, bucket: str, region: str, kms_key_id: str | None = None) -> BucketCheck:
    """Create ``bucket`` locked down, or check that an existing one is; ConfigError names what is missing.

    A new bucket gets versioning, all four public-access blocks, default SSE-KMS (the given key, else the
    AWS-managed ``aws/s3`` key) with an S3 Bucket Key, and a policy that denies requests without TLS. An
    existing bucket is only read: sgarch does not change settings of a bucket it did not create.
    """
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        exists = True
    except ClientError as exc:
        if is_forbidden(exc) or error_code(exc) == "403":
            raise ConfigError(
                "--bucket", "a bucket this account can use", bucket, "pick a name of your own"
            ) from None
        exists = False
    if not exists:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        _call("s3:CreateBucket", s3.create_bucket, **kwargs)
        _call(
            "s3:PutPublicAccessBlock",
            s3.put_public_access_block,
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        _call(
            "s3:PutBucketVersioning",
            s3.put_bucket_versioning,
            Bucket=bucket,
            VersioningConfiguration={"Status": "Enabled"},
        )
        default: dict[str, Any] = {"SSEAlgorithm": "aws:kms"}
        if kms_key_id:
            default["KMSMasterKeyID"] = kms_key_id
        _call(
            "s3:PutBucketEncryption",
            s3.put_bucket_encryption,
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
            },
        )
        _call("s3:PutBucketPolicy", s3.put_bucket_policy, Bucket=bucket, Policy=_tls_only_policy(bucket))
        return BucketCheck(created=True, kms_key_id=kms_key_id)
    return BucketCheck(created=False, kms_key_id=_check_existing(s3, bucket, kms_key_id))


def _check_existing(s3: Any, bucket: str, kms_key_id: str | None) -> str | None:
    from botocore.exceptions import ClientError

    def refuse(expected: str, fix: str) -> ConfigError:
        return ConfigError("--bucket", expected, bucket, fix)

    versioning = _call("s3:GetBucketVersioning", s3.get_bucket_versioning, Bucket=bucket)
    if versioning.get("Status") != "Enabled":
        raise refuse(
            "a bucket with versioning enabled",
            "enable versioning on it, or name a new bucket for sgarch to create",
        )
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if not _missing(exc, "NoSuchPublicAccessBlockConfiguration"):
            raise BuildError(f"s3:GetPublicAccessBlock failed: {error_message(exc)}") from None
        block = {}
    if not all(
        block.get(k)
        for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    ):
        raise refuse(
            "a bucket that blocks all public access",
            "turn on all four public access blocks, or name a new bucket",
        )
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if not _missing(exc, "ServerSideEncryptionConfigurationNotFoundError"):
            raise BuildError(f"s3:GetBucketEncryption failed: {error_message(exc)}") from None
        rules = []
    defaults = [r.get("ApplyServerSideEncryptionByDefault", {}) for r in rules]
    kms = [d for d in defaults if d.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse")]
    if not kms:
        raise refuse(
            "a bucket with default SSE-KMS encryption",
            "set its default encryption to SSE-KMS, or name a new bucket",
        )
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if not _missing(exc, "NoSuchBucketPolicy"):
            raise BuildError(f"s3:GetBucketPolicy failed: {error_message(exc)}") from None
        policy = {}
    if not _denies_plain_http(policy):
        raise refuse(
            "a bucket whose policy denies requests without TLS (aws:SecureTransport false)",
            "add that Deny statement, or name a new bucket",
        )
    found = kms[0].get("KMSMasterKeyID")
    return kms_key_id or (str(found) if found else None)


def _denies_plain_http(policy: dict[str, Any]) -> bool:
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        condition = statement.get("Condition", {}).get("Bool", {})
        if statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false":
            return True
    return False


def put_text(s3: Any, bucket: str, key: str, text: str, kms_key_id: str | None) -> None:
    """Write a small object (the manifest, a URL list), SSE-KMS like everything in the bucket."""
    # A text Content-Type: the EKS stack reads the manifest with Pulumi's aws.s3.getObject, which returns the
    # body only for text/* and application/json objects.
    kwargs: dict[str, Any] = {
        "ServerSideEncryption": "aws:kms",
        "ContentType": "application/json" if key.endswith(".json") else "text/plain",
    }
    if kms_key_id:
        kwargs["SSEKMSKeyId"] = kms_key_id
    _call("s3:PutObject", s3.put_object, Bucket=bucket, Key=key, Body=text.encode("utf-8"), **kwargs)


def get_text(s3: Any, bucket: str, key: str) -> str | None:
    """A small object's text, or None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _missing(exc, "NoSuchKey", "404"):
            return None
        if is_forbidden(exc):
            raise BuildError(
                f"s3:GetObject on s3://{bucket}/{key} is forbidden: allow it (and kms:Decrypt)"
            ) from None
        raise BuildError(f"s3:GetObject on s3://{bucket}/{key} failed: {error_message(exc)}") from None
    return bytes(body).decode("utf-8")


def presign_get(s3: Any, bucket: str, key: str) -> str:
    """A GET URL for one object, valid :data:`URL_SECONDS`."""
    return str(
        s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=URL_SECONDS)
    )


def delete_object(s3: Any, bucket: str, key: str) -> None:
    """Remove a temporary object sgarch wrote (a URL list); the bucket's versioning keeps nothing useful."""
    _call("s3:DeleteObject", s3.delete_object, Bucket=bucket, Key=key)


@dataclass(frozen=True)
class Upload:
    """A multipart upload of one file in progress: which parts exist already, which are missing."""

    key: str
    upload_id: str
    part_bytes: int
    parts: int
    done: frozenset[int]

    @property
    def missing(self) -> list[int]:
        return [n for n in range(1, self.parts + 1) if n not in self.done]


def start_upload(s3: Any, bucket: str, key: str, total_bytes: int, kms_key_id: str | None) -> Upload:
    """Resume the newest unfinished multipart upload of ``key`` with the same part size, or start one."""
    size = part_size(total_bytes)
    parts = max(1, math.ceil(total_bytes / size))
    found = _call("s3:ListMultipartUploads", s3.list_multipart_uploads, Bucket=bucket, Prefix=key)
    candidates = sorted(
        (u for u in found.get("Uploads", []) if u.get("Key") == key),
        key=lambda u: str(u.get("Initiated", "")),
    )
    for upload in reversed(candidates):
        listed = _list_parts(s3, bucket, key, upload["UploadId"])
        sizes = {p["PartNumber"]: p["Size"] for p in listed}
        expected = {n: min(size, total_bytes - (n - 1) * size) for n in range(1, parts + 1)}
        if all(expected.get(n) == s for n, s in sizes.items()):
            return Upload(key, upload["UploadId"], size, parts, frozenset(sizes))
    kwargs: dict[str, Any] = {"ServerSideEncryption": "aws:kms"}
    if kms_key_id:
        kwargs["SSEKMSKeyId"] = kms_key_id
    created = _call("s3:CreateMultipartUpload", s3.create_multipart_upload, Bucket=bucket, Key=key, **kwargs)
    return Upload(key, created["UploadId"], size, parts, frozenset())


def _list_parts(s3: Any, bucket: str, key: str, upload_id: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    marker = 0
    while True:
        page = _call(
            "s3:ListParts", s3.list_parts, Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
        )
        parts += page.get("Parts", [])
        if not page.get("IsTruncated"):
            return parts
        marker = int(page["NextPartNumberMarker"])


def part_urls(s3: Any, bucket: str, upload: Upload) -> str:
    """The URL list ``host.sh put`` reads: one ``<part> <presigned URL>`` line per missing part."""
    lines = []
    for number in upload.missing:
        url = s3.generate_presigned_url(
            "upload_part",
            Params={"Bucket": bucket, "Key": upload.key, "UploadId": upload.upload_id, "PartNumber": number},
            ExpiresIn=URL_SECONDS,
        )
        lines.append(f"{number} {url}")
    return "\n".join(lines) + "\n"


def complete_upload(s3: Any, bucket: str, upload: Upload, total_bytes: int) -> None:
    """Finish the upload from the parts S3 holds, then check the object's size; BuildError otherwise."""
    listed = _list_parts(s3, bucket, upload.key, upload.upload_id)
    numbers = {p["PartNumber"] for p in listed}
    if numbers != set(range(1, upload.parts + 1)):
        missing = sorted(set(range(1, upload.parts + 1)) - numbers)
        raise BuildError(f"s3://{bucket}/{upload.key}: parts {missing} never arrived; run the command again")
    _call(
        "s3:CompleteMultipartUpload",
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key=upload.key,
        UploadId=upload.upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]},
    )
    head = _call("s3:HeadObject", s3.head_object, Bucket=bucket, Key=upload.key)
    if int(head.get("ContentLength", -1)) != total_bytes:
        raise BuildError(
            f"s3://{bucket}/{upload.key} holds {head.get('ContentLength')} bytes, the file {total_bytes}: "
            "run the command again"
        )
