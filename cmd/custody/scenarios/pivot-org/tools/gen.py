#!/usr/bin/env python3
"""Writes the pivot-org scenario's derived files: the organization-trail log
files (gzip'd CloudTrail JSON) in the log archive and the finding. Run from
this folder's parent: python3 tools/gen.py.

The records are written for this drill in the shape real records have (the
cross-account AssumeRole as AWS's CloudTrail documentation shows both of its
copies; CreateUser/CreateAccessKey as the Stratus Red Team detonations in
shared/pivot/testdata). Placeholders ({{account:prod}}, ...) are replaced
when seeded.
"""
import gzip, json, os

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORG = "o-custodypivot"
BUCKET = "custody-pivot-org-trail"
PROD, DEV = "{{account:prod}}", "{{account:dev}}"
ROLE = "arn:aws:iam::%s:role/deploy-role" % DEV
UA = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22"
files = {}

def eid(n):
    return "b0000000-0000-4000-8000-%012d" % n

def rec(n, time, source, name, region, ip, who, account, params=None, response=None, read_only=True, **kw):
    r = {"eventVersion": "1.09", "userIdentity": who, "eventTime": time, "eventSource": source,
         "eventName": name, "awsRegion": region, "sourceIPAddress": ip, "userAgent": UA,
         "requestParameters": params, "responseElements": response,
         "requestID": "req-%04d" % n, "eventID": eid(n), "readOnly": read_only,
         "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": account,
         "eventCategory": "Management"}
    r.update(kw)
    return r

def user(name, key, account=PROD):
    return {"type": "IAMUser", "principalId": "AIDAPORG" + name.upper().replace("-", ""),
            "arn": "arn:aws:iam::%s:user/%s" % (account, name), "accountId": account,
            "accessKeyId": key, "userName": name}

def session(name, key, created):
    return {"type": "AssumedRole", "principalId": "AROAPORGDEPLOYROLE01:" + name,
            "arn": "arn:aws:sts::%s:assumed-role/deploy-role/%s" % (DEV, name), "accountId": DEV,
            "accessKeyId": key,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAPORGDEPLOYROLE01", "arn": ROLE,
                                                 "accountId": DEV, "userName": "deploy-role"},
                               "attributes": {"creationDate": created, "mfaAuthenticated": "false"}}}

def creds(key, expiry):
    return {"accessKeyId": key, "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN", "expiration": expiry}

def assume(n, time, who, name, key, ip, region="eu-west-2"):
    """The caller's copy (in the caller's account) and the role owner's
    (in the role's account: userIdentity is the calling account, the same
    response, sharedEventID naming the pair)."""
    params = {"roleArn": ROLE, "roleSessionName": name, "durationSeconds": 3600}
    resp = {"credentials": creds(key, "Aug 2, 2024, 11:00:00 AM"),
            "assumedRoleUser": {"assumedRoleId": "AROAPORGDEPLOYROLE01:" + name,
                                "arn": "arn:aws:sts::%s:assumed-role/deploy-role/%s" % (DEV, name)}}
    res = [{"ARN": ROLE, "accountId": DEV, "type": "AWS::IAM::Role"}]
    mine = rec(n, time, "sts.amazonaws.com", "AssumeRole", region, ip, who, who["accountId"], params, resp,
               resources=res, sharedEventID="5ea0%04d-0000-4000-8000-000000000000" % n)
    owner = rec(n + 100, time, "sts.amazonaws.com", "AssumeRole", region, ip,
                {"type": "AWSAccount", "principalId": who["principalId"], "accountId": who["accountId"]},
                DEV, params, resp, resources=res, sharedEventID="5ea0%04d-0000-4000-8000-000000000000" % n)
    return mine, owner

def put(account, region, stamp, *records):
    files.setdefault((account, region, stamp), []).extend(records)

CAROL = user("carol", "{{accesskey:prod/carol}}")
OPS = user("ops", "{{accesskey:prod/ops}}")
DEVADMIN = user("dev-admin", "AKIAPORGDEVADMIN0001", DEV)
ATTACKER = session("carol-x", "ASIAPORGATTACKER0001", "2024-08-02T09:10:00Z")
NIGHTLY = session("nightly", "ASIAPORGNIGHTLY00001", "2024-08-02T09:11:00Z")
SAMENAME = session("carol-x", "ASIAPORGSAMENAME0001", "2024-08-02T04:00:00Z")  # a legitimate session with the attacker's session name
BACKUP = user("backup-svc", "AKIAPORGBACKUPKEY001", DEV)
TOKEN = dict(CAROL, accessKeyId="ASIAPORGSESSTOKEN001")
IP, SESSION_IP, BACKUP_IP, TOKEN_IP, OPS_IP = "203.0.113.50", "198.51.100.66", "192.0.2.99", "203.0.113.51", "198.51.100.20"

# The attacker's records in the window (2024-08-02 03:10:00 .. 10:12:00).
a_gci = rec(1, "2024-08-02T09:05:00Z", "sts.amazonaws.com", "GetCallerIdentity", "eu-west-2", IP, CAROL, PROD)
a_ar, a_ar_owner = assume(2, "2024-08-02T09:10:00Z", CAROL, "carol-x", "ASIAPORGATTACKER0001", IP)
s_gci = rec(4, "2024-08-02T09:14:00Z", "sts.amazonaws.com", "GetCallerIdentity", "eu-west-2", SESSION_IP, ATTACKER, DEV)
s_lb = rec(5, "2024-08-02T09:15:00Z", "s3.amazonaws.com", "ListBuckets", "us-east-1", SESSION_IP, ATTACKER, DEV,
           {"Host": "s3.amazonaws.com"})
s_cu = rec(6, "2024-08-02T09:16:00Z", "iam.amazonaws.com", "CreateUser", "us-east-1", SESSION_IP, ATTACKER, DEV,
           {"userName": "backup-svc"},
           {"user": {"path": "/", "userName": "backup-svc", "userId": "AIDAPORGBACKUPSVC",
                     "arn": "arn:aws:iam::%s:user/backup-svc" % DEV, "createDate": "Aug 2, 2024, 9:16:00 AM"}},
           read_only=False)
s_cak = rec(7, "2024-08-02T09:17:00Z", "iam.amazonaws.com", "CreateAccessKey", "us-east-1", SESSION_IP, ATTACKER, DEV,
            {"userName": "backup-svc"},
            {"accessKey": {"userName": "backup-svc", "accessKeyId": "AKIAPORGBACKUPKEY001", "status": "Active",
                           "createDate": "Aug 2, 2024, 9:17:00 AM"}}, read_only=False)
b_di = rec(8, "2024-08-02T09:30:00Z", "ec2.amazonaws.com", "DescribeInstances", "eu-west-1", BACKUP_IP, BACKUP, DEV)
b_dsg = rec(9, "2024-08-02T09:31:00Z", "ec2.amazonaws.com", "DescribeSecurityGroups", "us-west-2", BACKUP_IP, BACKUP, DEV)
b_run = rec(10, "2024-08-02T09:32:00Z", "ec2.amazonaws.com", "RunInstances", "us-west-2", BACKUP_IP, BACKUP, DEV,
            {"instanceType": "p3.16xlarge", "minCount": 1, "maxCount": 1}, read_only=False)
a_gst = rec(11, "2024-08-02T09:20:00Z", "sts.amazonaws.com", "GetSessionToken", "eu-west-2", IP, CAROL, PROD,
            {"durationSeconds": 43200}, {"credentials": creds("ASIAPORGSESSTOKEN001", "Aug 2, 2024, 9:20:00 PM")})
def s3get(n, time, ip, who, key):
    """An S3 data event (GetObject) on dev-data, as CloudTrail logs it in
    the bucket's region."""
    return rec(n, time, "s3.amazonaws.com", "GetObject", "eu-west-2", ip, who, DEV,
               {"bucketName": "dev-data", "Host": "dev-data.s3.eu-west-2.amazonaws.com", "key": key},
               managementEvent=False, eventCategory="Data", eventType="AwsApiCall",
               resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::dev-data/" + key},
                          {"accountId": DEV, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::dev-data"}])
b_get = s3get(13, "2024-08-02T09:33:00Z", BACKUP_IP, BACKUP, "exports/customers.csv")
t_di = rec(12, "2024-08-02T09:25:00Z", "ec2.amazonaws.com", "DescribeInstances", "ap-southeast-2", TOKEN_IP, TOKEN, PROD)

# Noise: another principal's session of the same role, a legitimate
# earlier session with the attacker's session name, other principals.
n_ar, n_ar_owner = assume(21, "2024-08-02T09:11:00Z", OPS, "nightly", "ASIAPORGNIGHTLY00001", OPS_IP)
n_di = rec(23, "2024-08-02T09:15:30Z", "ec2.amazonaws.com", "DescribeInstances", "eu-west-1", OPS_IP, NIGHTLY, DEV)
n_cak = rec(24, "2024-08-02T09:18:00Z", "iam.amazonaws.com", "CreateAccessKey", "us-east-1", OPS_IP, NIGHTLY, DEV,
            {"userName": "ci"}, {"accessKey": {"userName": "ci", "accessKeyId": "AKIAPORGCIKEY0000001", "status": "Active",
                                               "createDate": "Aug 2, 2024, 9:18:00 AM"}}, read_only=False)
o_ar, o_ar_owner = assume(25, "2024-08-02T04:00:00Z", OPS, "carol-x", "ASIAPORGSAMENAME0001", OPS_IP)
o_di = rec(27, "2024-08-02T09:40:00Z", "ec2.amazonaws.com", "DescribeInstances", "eu-west-1", OPS_IP, SAMENAME, DEV)
d_di = rec(28, "2024-08-02T09:33:00Z", "ec2.amazonaws.com", "DescribeInstances", "eu-west-1", "198.51.100.30", DEVADMIN, DEV)
d_get = s3get(30, "2024-08-02T09:34:00Z", "198.51.100.30", DEVADMIN, "exports/report.pdf")
p_di = rec(29, "2024-08-02T09:35:00Z", "ec2.amazonaws.com", "DescribeInstances", "eu-west-2", OPS_IP, OPS, PROD)

# Out-of-window twins of the attacker's identities' records.
def twin(r, n, time):
    x = dict(r, eventID=eid(n), eventTime=time, requestID="req-%04d" % n)
    return x
w1 = twin(a_gci, 31, "2024-08-02T02:50:00Z")     # before the window, in a file inside the listing's pad
w2 = twin(s_gci, 32, "2024-08-02T10:20:00Z")     # after the window, in a file inside the delivery pad
w3 = twin(b_dsg, 33, "2024-08-02T10:30:00Z")
w4 = twin(b_di, 34, "2024-08-02T12:00:00Z")      # delivered after the pad
w5 = twin(t_di, 35, "2024-08-02T10:25:00Z")

put(PROD, "eu-west-2", "0255", w1)
put(PROD, "eu-west-2", "0915", a_gci, a_ar, n_ar)
put(PROD, "eu-west-2", "0925", a_gst)
put(PROD, "eu-west-2", "0405", o_ar)
put(PROD, "eu-west-2", "0940", p_di)
put(PROD, "ap-southeast-2", "0930", t_di)
put(PROD, "ap-southeast-2", "1030", w5)
put(DEV, "eu-west-2", "0405", o_ar_owner)
put(DEV, "eu-west-2", "0915", a_ar_owner, n_ar_owner, s_gci)
put(DEV, "eu-west-2", "1025", w2)
put(DEV, "us-east-1", "0920", s_lb, s_cu, s_cak, n_cak)
put(DEV, "eu-west-1", "0935", b_di, n_di, d_di)
put(DEV, "eu-west-2", "0940", b_get, d_get)
put(DEV, "eu-west-1", "0945", o_di)
put(DEV, "eu-west-1", "1205", w4)
put(DEV, "us-west-2", "0935", b_dsg, b_run)
put(DEV, "us-west-2", "1035", w3)

for (account, region, stamp), records in sorted(files.items()):
    d = os.path.join(HERE, "accounts", "archive", "s3", BUCKET, "AWSLogs", ORG, account, "CloudTrail", region, "2024", "08", "02")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "%s_CloudTrail_%s_20240802T%sZ_pivotorg.json.gz" % (account, region, stamp))
    with gzip.GzipFile(p, "wb", mtime=0) as f:
        f.write(json.dumps({"Records": sorted(records, key=lambda r: r["eventTime"])}, indent=1).encode())

# The answer key: the attacker's in-window records (for the recall check).
attacker = [a_gci, a_ar, a_ar_owner, s_gci, s_lb, s_cu, s_cak, b_di, b_dsg, b_run, a_gst, t_di, b_get]
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump({"attackerInWindow": sorted(r["eventID"] for r in attacker),
               "notAttackers": sorted(r["eventID"] for r in
                                      [n_ar, n_ar_owner, n_di, n_cak, o_ar, o_ar_owner, o_di, d_di, p_di, d_get, w1, w2, w3, w4, w5])},
              f, indent=1)
    f.write("\n")

# dev-data's server access log (simple keys, delivered to dev-access-logs):
# the lines of the same two GetObjects, and backup-svc's again after the
# window. The line layout is the OpenSearch sample's
# (shared/logs/s3access/testdata/opensearch-catalog), values rewritten.
def access_line(time, ip, requester, request_id, key):
    return ("078d85edf7268fb4814b1b4fc9f4c64adfde218b6b489a38ecf1b269f14f3c7a dev-data [%s +0000] %s %s %s "
            "REST.GET.OBJECT %s \"GET /%s HTTP/1.1\" 200 - 4096 4096 12 11 \"-\" \"%s\" - "
            "2X+mJdbKRF1u5wwyvOiS0+gMBel7tzKXNnihWszj/jiy347Vui/ky/7IeQxWz8eJ5/r3agqA3yo= SigV4 ECDHE-RSA-AES128-GCM-SHA256 "
            "AuthHeader dev-data.s3.eu-west-2.amazonaws.com TLSv1.2 - -") % (time, ip, requester, request_id, key, key, UA)
logs = [
    access_line("02/Aug/2024:09:33:00", BACKUP_IP, BACKUP["arn"], "PORG0000000013", "exports/customers.csv"),
    access_line("02/Aug/2024:09:34:00", "198.51.100.30", DEVADMIN["arn"], "PORG0000000030", "exports/report.pdf"),
    access_line("02/Aug/2024:10:40:00", BACKUP_IP, BACKUP["arn"], "PORG0000000036", "exports/orders.csv"),
]
d = os.path.join(HERE, "accounts", "dev", "s3", "dev-access-logs", "dev-data")
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "2024-08-02-10-45-00-PIVOTORG00000001"), "w") as f:
    f.write("\n".join(logs) + "\n")
