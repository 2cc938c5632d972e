"""Drives the local S3 endpoint with boto3, as a user's script would.

Usage: python3 boto3_client.py ENDPOINT BUCKET WORKDIR
Exits non-zero with a message on the first difference from S3.
"""

import hashlib
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MB = 1024 * 1024
endpoint, bucket, workdir = sys.argv[1:4]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)
transfer = TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB)


def check(cond, what):
    if not cond:
        sys.exit("boto3: " + what)


def multipart_etag(data, chunk):
    digests = [hashlib.md5(data[i : i + chunk]).digest() for i in range(0, len(data), chunk)]
    return '"%s-%d"' % (hashlib.md5(b"".join(digests)).hexdigest(), len(digests))


data = os.urandom(20 * MB)
path = os.path.join(workdir, "big.bin")
with open(path, "wb") as f:
    f.write(data)
want = multipart_etag(data, 8 * MB)

# Multipart upload with metadata: one ETag everywhere, metadata keys as sent.
s3.upload_file(path, bucket, "big.bin", Config=transfer,
               ExtraArgs={"Metadata": {"clinic": "north", "exported-by": "boto3"}})
head = s3.head_object(Bucket=bucket, Key="big.bin")
version = head.get("VersionId")
check(head["ETag"] == want, "HEAD ETag %s, want %s" % (head["ETag"], want))
check(head["Metadata"] == {"clinic": "north", "exported-by": "boto3"},
      "HEAD metadata %r, want lowercase clinic and exported-by" % head["Metadata"])
got = s3.get_object(Bucket=bucket, Key="big.bin")
check(got["Body"].read() == data, "GET body differs from the upload")
check(got["ETag"] == want, "GET ETag %s, want %s" % (got["ETag"], want))
listed = s3.list_objects_v2(Bucket=bucket, Prefix="big.bin")["Contents"][0]["ETag"]
check(listed == want, "ListObjectsV2 ETag %s, want %s" % (listed, want))
versions = s3.list_object_versions(Bucket=bucket, Prefix="big.bin")["Versions"]
check([v["ETag"] for v in versions] == [want], "ListObjectVersions ETags %r" % versions)

# Managed copy above the threshold: CreateMultipartUpload + UploadPartCopy.
s3.copy({"Bucket": bucket, "Key": "big.bin"}, bucket, "copy.bin", Config=transfer)
copied = s3.get_object(Bucket=bucket, Key="copy.bin")
check(copied["Body"].read() == data, "the multipart copy differs from the source")
check(copied["ETag"] == want, "copy ETag %s, want %s" % (copied["ETag"], want))
check(s3.head_object(Bucket=bucket, Key="copy.bin")["ETag"] == want, "HEAD of the copy")

# Tags by version, no new version.
s3.put_object_tagging(Bucket=bucket, Key="big.bin", VersionId=version,
                      Tagging={"TagSet": [{"Key": "patientsync-status", "Value": "applied"}]})
tags = s3.get_object_tagging(Bucket=bucket, Key="big.bin", VersionId=version)
check(tags["TagSet"] == [{"Key": "patientsync-status", "Value": "applied"}], "tags %r" % tags["TagSet"])
check(tags.get("VersionId") == version, "tagging answered version %r" % tags.get("VersionId"))
tagged = s3.get_object(Bucket=bucket, Key="big.bin", VersionId=version, Range="bytes=0-0")
check(tagged.get("TagCount") == 1, "GET TagCount %r" % tagged.get("TagCount"))
n = len(s3.list_object_versions(Bucket=bucket, Prefix="big.bin")["Versions"])
check(n == 1, "%d versions after tagging, want 1" % n)

# A key first written with a single PUT (which stores a checksum), then
# grown past the threshold: the GET validates the checksums it is given.
s3.put_object(Bucket=bucket, Key="grow.bin", Body=b"small")
s3.upload_file(path, bucket, "grow.bin", Config=transfer)
check(s3.get_object(Bucket=bucket, Key="grow.bin")["Body"].read() == data, "grown object")

print("boto3 ok", want)
