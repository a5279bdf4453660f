#!/usr/bin/python3
"""Bucket chores for the test rig, signed by botocore (Debian's python3-botocore):

    s3_admin.py URL AK SK mkbucket BUCKET...
    s3_admin.py URL AK SK rm BUCKET KEY            delete one object
    s3_admin.py URL AK SK mpu BUCKET KEY           start a multipart upload, print its id
    s3_admin.py URL AK SK get BUCKET KEY FILE      download one object
    s3_admin.py URL AK SK ls BUCKET PREFIX         print "key size etag" of every object
    s3_admin.py URL AK SK rmprefix BUCKET PREFIX   delete every object under PREFIX
    s3_admin.py URL AK SK count BUCKET PREFIX      print "objects bytes" under PREFIX (keys may hold newlines)
    s3_admin.py URL AK SK meta BUCKET KEY          HEAD: print the user metadata, one "name=value" a line, sorted
    s3_admin.py URL AK SK tags BUCKET KEY          GetObjectTagging: print "key=value" a line, sorted
"""
import sys

import botocore.session
from botocore.config import Config


def main():
    url, ak, sk, verb, *args = sys.argv[1:]
    s = botocore.session.get_session()
    c = s.create_client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))
    if verb == "mkbucket":
        for b in args:
            try:
                c.create_bucket(Bucket=b)
            except c.exceptions.BucketAlreadyOwnedByYou:
                pass
    elif verb == "rm":
        c.delete_object(Bucket=args[0], Key=args[1])
    elif verb == "mpu":
        print(c.create_multipart_upload(Bucket=args[0], Key=args[1])["UploadId"])
    elif verb == "get":
        with open(args[2], "wb") as f:
            f.write(c.get_object(Bucket=args[0], Key=args[1])["Body"].read())
    elif verb == "meta":
        for k, v in sorted(c.head_object(Bucket=args[0], Key=args[1])["Metadata"].items()):
            print("%s=%s" % (k, v))
    elif verb == "tags":
        for t in sorted(c.get_object_tagging(Bucket=args[0], Key=args[1])["TagSet"], key=lambda t: t["Key"]):
            print("%s=%s" % (t["Key"], t["Value"]))
    elif verb == "ls":
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1]):
            for o in page.get("Contents", []):
                print(o["Key"], o["Size"], o["ETag"].strip('"'))
    elif verb == "count":
        n = size = 0
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1]):
            for o in page.get("Contents", []):
                n += 1
                size += o["Size"]
        print(n, size)
    elif verb == "rmprefix":
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1]):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                c.delete_objects(Bucket=args[0], Delete={"Objects": keys, "Quiet": True})
    else:
        sys.exit("unknown verb " + verb)


if __name__ == "__main__":
    main()
