"""Drives the local stack's S3 with boto3, as a clinic's export job would.

Uploads a generated patients snapshot of about 20 MB with upload_file
(multipart: 8 MB parts) and the sample payments, copies the snapshot to a
second snapshot key with the managed copy (multipart: UploadPartCopy), and
reads the tags of both back with get_object_tagging.

Usage: python3 boto3_stack.py ENDPOINT BUCKET WORKDIR PAYMENTS_JSON
Prints {"patients": N, "etag": ETAG, "copy_etag": ETAG} as JSON; exits
non-zero with a message on the first difference from S3.
"""

import hashlib
import json
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MB = 1024 * 1024
endpoint, bucket, workdir, payments = sys.argv[1:5]
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


def multipart_etag(path, chunk):
    digests = []
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digests.append(hashlib.md5(block).digest())
    return '"%s-%d"' % (hashlib.md5(b"".join(digests)).hexdigest(), len(digests))


def tags(key):
    got = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in got}


# Patients 1..N, deterministic; every tenth has a middle name. The sample
# payments name patients 1, 3, 4, 5 and 6.
patients = os.path.join(workdir, "patients.json")
n = 0
with open(patients, "w") as f:
    f.write("[\n")
    while f.tell() < 20 * MB:
        n += 1
        middle = '"M%d"' % n if n % 10 == 0 else "null"
        f.write('%s{"externalId": "%d", "firstName": "Given%d", "lastName": "Family%d", "middleName": %s, '
                '"dateOfBirth": "19%02d-%02d-%02d"}\n' % ("," if n > 1 else " ", n, n, n, middle,
                                                          n % 100, n % 12 + 1, n % 28 + 1))
    f.write("]\n")
want = multipart_etag(patients, 8 * MB)
check(want.endswith("-3\""), "the snapshot is %s: want three 8 MB parts" % want)

s3.upload_file(patients, bucket, "patients.json", Config=transfer,
               ExtraArgs={"Tagging": "exported-by=boto3&clinic=north"})
head = s3.head_object(Bucket=bucket, Key="patients.json")
check(head["ETag"] == want, "HEAD ETag %s, want the multipart %s" % (head["ETag"], want))
check(head.get("VersionId"), "no VersionId: the bucket is versioned")

s3.upload_file(payments, bucket, "payments.json", Config=transfer)

# The managed copy sends the tags it is given with CreateMultipartUpload;
# UploadPartCopy copies bytes, not the source's tags.
s3.copy({"Bucket": bucket, "Key": "patients.json"}, bucket, "exports/patients-copy.json",
        Config=transfer, ExtraArgs={"Tagging": "copied-by=boto3"})
copy = s3.head_object(Bucket=bucket, Key="exports/patients-copy.json")
check(copy["ETag"] == want, "copy ETag %s, want %s (same 8 MB parts)" % (copy["ETag"], want))

got = tags("patients.json")
check(got == {"exported-by": "boto3", "clinic": "north"}, "tags of patients.json %r" % got)
got = tags("exports/patients-copy.json")
check(got == {"copied-by": "boto3"}, "tags of the copy %r: want only those of its CreateMultipartUpload" % got)
got = tags("payments.json")
check(got == {}, "tags of payments.json %r: want none" % got)

print(json.dumps({"patients": n, "etag": want.strip('"'), "copy_etag": copy["ETag"].strip('"')}))
