#!/usr/bin/env python3
"""Writes the organization scenario's derived files: the organization-trail
log files (gzip'd CloudTrail JSON) in the log archive, the member's flow log
events and both findings. Run from this folder's parent: python3 tools/gen.py.

The CloudTrail records are written for this scenario in the shape real
records have (the demo's Stratus Red Team detonation, ../demo/s3/...): the
same fields, an instance role session used from outside AWS. Placeholders
({{account:prod}}, {{instance:web}}, ...) are replaced when seeded.
"""
import gzip, json, os, copy

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORG = "o-custodydemo1"
SESSION = "arn:aws:sts::{{account:prod}}:assumed-role/web-role/{{instance:web}}"
OUTSIDE = "18.236.253.47"

def rec(eid, time, source, name, region, ip, identity, params=None, resources=None):
    r = {"eventVersion": "1.09", "userIdentity": identity, "eventTime": time, "eventSource": source,
         "eventName": name, "awsRegion": region, "sourceIPAddress": ip,
         "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22",
         "requestParameters": params, "responseElements": None,
         "requestID": "req-" + eid, "eventID": "0rg%s-0000-4000-8000-00000000%s" % (eid, eid),
         "readOnly": True, "eventType": "AwsApiCall", "managementEvent": True,
         "recipientAccountId": "{{account:prod}}", "eventCategory": "Management"}
    if resources:
        r["resources"] = resources
    return r

role_session = {"type": "AssumedRole", "principalId": "AROAEXAMPLEWEBROLE01:{{instance:web}}", "arn": SESSION,
                "accountId": "{{account:prod}}", "accessKeyId": "ASIAEXAMPLEORGWEB001",
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEWEBROLE01",
                    "arn": "arn:aws:iam::{{account:prod}}:role/web-role", "accountId": "{{account:prod}}", "userName": "web-role"},
                    "attributes": {"creationDate": "2024-08-02T07:55:00Z", "mfaAuthenticated": "false"},
                    "ec2RoleDelivery": "2.0"}}
alice = {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE0001", "arn": "arn:aws:iam::{{account:prod}}:user/alice",
         "accountId": "{{account:prod}}", "accessKeyId": "AKIAEXAMPLEALICE0001", "userName": "alice"}
bob = {"type": "IAMUser", "principalId": "AIDAEXAMPLEBOB000001", "arn": "arn:aws:iam::{{account:prod}}:user/bob",
       "accountId": "{{account:prod}}", "accessKeyId": "AKIAEXAMPLEBOB000001", "userName": "bob"}

# In scope and in the window [08:22:39 - 6h, 08:23:56 + 1h]: six records.
eu = [
    rec("01", "2024-08-02T07:00:00Z", "ssm.amazonaws.com", "SendCommand", "eu-west-2", "203.0.113.10", alice,
        {"instanceIds": ["{{instance:web}}"], "documentName": "AWS-RunShellScript"}),
    rec("02", "2024-08-02T08:20:10Z", "ec2.amazonaws.com", "DescribeInstances", "eu-west-2", OUTSIDE, role_session),
    rec("03", "2024-08-02T08:21:00Z", "s3.amazonaws.com", "ListBuckets", "eu-west-2", OUTSIDE, role_session),
    rec("04", "2024-08-02T08:25:30Z", "ec2.amazonaws.com", "DescribeSecurityGroups", "eu-west-2", OUTSIDE, role_session),
    # Noise: another principal, nothing of the scope.
    rec("05", "2024-08-02T08:24:00Z", "ec2.amazonaws.com", "DescribeVpcs", "eu-west-2", "198.51.100.7", bob),
    # The same session, outside the window: an out-of-window twin.
    rec("06", "2024-08-01T22:00:00Z", "ec2.amazonaws.com", "DescribeInstances", "eu-west-2", OUTSIDE, role_session),
]
east = [  # global service events of the multi-region organization trail
    rec("07", "2024-08-02T08:23:00Z", "iam.amazonaws.com", "ListUsers", "us-east-1", OUTSIDE, role_session),
    rec("08", "2024-08-02T08:23:30Z", "sts.amazonaws.com", "GetCallerIdentity", "us-east-1", OUTSIDE, role_session),
    rec("09", "2024-08-02T08:40:00Z", "iam.amazonaws.com", "ListRoles", "us-east-1", "198.51.100.7", bob),
]

def trail_file(region, records, stamp, account="{{account:prod}}"):
    d = os.path.join(HERE, "accounts", "archive", "s3", "custody-org-trail", "AWSLogs", ORG, account,
                     "CloudTrail", region, "2024", "08", "02")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "%s_CloudTrail_%s_20240802T%sZ_orgtrail01.json.gz" % (account, region, stamp))
    with gzip.GzipFile(p, "wb", mtime=0) as f:
        f.write(json.dumps({"Records": records}, indent=1).encode())

trail_file("eu-west-2", eu, "0830")
trail_file("us-east-1", east, "0845")

# staging (no member stack): its records are still in the organization
# trail, which the hub reads with its own role.
build_session = json.loads(json.dumps(role_session).replace("web-role", "build-role").replace("{{instance:web}}", "{{instance:build}}")
                           .replace("{{account:prod}}", "{{account:staging}}").replace("WEB", "BLD"))
staging = [
    dict(rec("11", "2024-08-02T08:21:30Z", "ec2.amazonaws.com", "DescribeInstances", "eu-west-2", OUTSIDE, build_session), recipientAccountId="{{account:staging}}"),
    dict(rec("12", "2024-08-02T08:22:10Z", "s3.amazonaws.com", "ListBuckets", "eu-west-2", OUTSIDE, build_session), recipientAccountId="{{account:staging}}"),
    dict(rec("13", "2024-08-01T21:00:00Z", "s3.amazonaws.com", "ListBuckets", "eu-west-2", OUTSIDE, build_session), recipientAccountId="{{account:staging}}"),
]
trail_file("eu-west-2", staging, "0830", account="{{account:staging}}")

# The member's VPC flow log to CloudWatch Logs (version 2 records).
d = os.path.join(HERE, "accounts", "prod", "logs", "vpc", "flow")
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "{{eni:web}}-all.jsonl"), "w") as f:
    for ts, line in [
        (1722586961, "2 {{account:prod}} {{eni:web}} {{privateip:web}} 18.236.253.47 38316 22 6 19 1048576 1722586961 1722587021 ACCEPT OK"),
        (1722586990, "2 {{account:prod}} {{eni:web}} 18.236.253.47 {{privateip:web}} 22 38316 6 11 5120 1722586990 1722587050 ACCEPT OK"),
        (1722560000, "2 {{account:prod}} {{eni:web}} 10.0.1.9 {{privateip:web}} 443 51000 6 3 180 1722560000 1722560060 ACCEPT OK"),
    ]:
        f.write(json.dumps({"timestamp": ts * 1000, "message": line}) + "\n")

# The findings: the demo's, for the member's instance in eu-west-2, as
# GuardDuty's delegated administrator (the hub) receives it forwarded from
# that region (the envelope's region and account are the hub's: read detail).
demo = json.load(open(os.path.join(HERE, "..", "demo", "finding.json")))
def finding(fid, account, instance, eni, ip, subnet, vpc, sg, profile):
    f = copy.deepcopy(demo)
    f["id"] = "b2c1" + fid[:4] + "-0000-4000-8000-" + fid[4:16]
    s = json.dumps(f)
    s = s.replace("16afba5c5c43e07c9e3e5e2e544e95df", fid)
    s = s.replace('"accountId": "{{account}}"', '"accountId": "%s"' % account)
    s = s.replace("{{instance:web}}", instance).replace("{{eni:web}}", eni).replace("{{privateip:web}}", ip)
    s = s.replace("{{subnet:app}}", subnet).replace("{{vpc:prod}}", vpc).replace("{{sg:launch-wizard-1}}", sg)
    s = s.replace("{{instanceprofile:web-role}}", profile)
    s = s.replace("us-east-1b", "eu-west-2a").replace(".us-east-1.compute", ".eu-west-2.compute")
    f = json.loads(s)
    f["detail"]["region"] = "eu-west-2"
    f["detail"]["arn"] = "arn:aws:guardduty:eu-west-2:{{account}}:detector/{{account}}/finding/" + fid
    f["detail"]["resource"].pop("s3BucketDetails", None)
    f["detail"]["title"] = "EC2 instance %s is communicating outbound with 18.236.253.47 on port 22" % instance
    return f

json.dump(finding("0a9f5e1c7b3d4e2f8a6b0c1d2e3f4a5b", "{{account:prod}}", "{{instance:web}}", "{{eni:web}}", "{{privateip:web}}",
                  "{{subnet:app}}", "{{vpc:prod}}", "{{sg:web-sg}}", "{{instanceprofile:web-role}}"),
          open(os.path.join(HERE, "finding.json"), "w"), indent=2)
json.dump(finding("1b8e4d2c6a5f4b3e9c7d1e2f3a4b5c6d", "{{account:staging}}", "{{instance:build}}", "{{eni:build}}", "{{privateip:build}}",
                  "{{subnet:ci}}", "{{vpc:staging}}", "{{sg:build-sg}}", "{{instanceprofile:build-role}}"),
          open(os.path.join(HERE, "finding-no-member-stack.json"), "w"), indent=2)
