# Generates the derived files of cmd/custody/scenarios/pivot (see its
# SOURCES.md) from the real records the project keeps in
# shared/pivot/testdata. Run from the repository root:
#   python3 cmd/custody/scenarios/pivot/tools/gen.py
import json, gzip, io, os, copy

T = 'shared/pivot/testdata'
D = 'cmd/custody/scenarios/pivot'
TRAIL = 'custody-pivot-trail'

def gz(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode='wb', mtime=0, compresslevel=9, filename='') as z:
        z.write(text.encode())
    open(path, 'wb').write(buf.getvalue())

stratus = lambda t: json.load(open(T + '/stratus-red-team/' + t + '.json'))
admin = stratus('aws.persistence.iam-create-admin-user')
CAK = [r for r in admin if r['eventName'] == 'CreateAccessKey'][0]
GCI = [r for r in stratus('aws.persistence.iam-create-user-login-profile') if r['eventName'] == 'GetCallerIdentity'][0]
DI = [r for r in stratus('aws.credential-access.ec2-steal-instance-credentials') if r['eventName'] == 'DescribeInstances'][0]
AR = json.loads([l for l in open(T + '/chain.jsonl') if '000000000001"' in l][0])  # the OTRF AssumeRole shape

ACCT = '{{account}}'
ROLE = 'arn:aws:iam::%s:role/admin-role' % ACCT

def user(name, key):
    return {'type': 'IAMUser', 'principalId': 'AIDAPIVOT' + name.upper(), 'arn': 'arn:aws:iam::%s:user/%s' % (ACCT, name),
            'accountId': ACCT, 'accessKeyId': key, 'userName': name}

def session(name, key):
    return {'type': 'AssumedRole', 'principalId': 'AROAPIVOTADMINROLE:' + name,
            'arn': 'arn:aws:sts::%s:assumed-role/admin-role/%s' % (ACCT, name), 'accountId': ACCT, 'accessKeyId': key,
            'sessionContext': {'sessionIssuer': {'type': 'Role', 'principalId': 'AROAPIVOTADMINROLE', 'arn': ROLE,
                                                 'accountId': ACCT, 'userName': 'admin-role'},
                               'attributes': {'creationDate': '2024-08-01T13:40:00Z', 'mfaAuthenticated': 'false'}}}

DANA = user('dana', '{{accesskey:dana}}')
OMAR = user('omar', '{{accesskey:omar}}')
ATTACKER = session('attacker', 'ASIAPIVOTATTACKER001')
NIGHTLY = session('nightly', 'ASIAPIVOTNIGHTLY0001')
BOB = user('bob', 'AKIAPIVOTBOBNEWKEY01')
# The finding's address; the session and the new key act from others,
# so only the pivot finds them.
IP, SESSION_IP, BOB_IP, OPS_IP = '203.0.113.77', '192.0.2.10', '192.0.2.200', '198.51.100.20'

def rec(base, n, t, who, region='us-east-1', ip=IP, **kw):
    r = copy.deepcopy(base)
    r['eventID'] = 'a0000000-0000-4000-8000-%012d' % n
    r['eventTime'] = t
    r['userIdentity'] = who
    r['awsRegion'] = region
    r['recipientAccountId'] = ACCT
    r['sourceIPAddress'] = ip
    r['userAgent'] = 'aws-cli/2.15.0 Python/3.11.6'
    r.pop('tlsDetails', None)
    r.update(kw)
    return r

def assume(n, t, who, name, key, ip=IP):
    r = rec(AR, n, t, who, ip=ip)
    r['requestParameters'] = {'roleArn': ROLE, 'roleSessionName': name}
    r['resources'] = [{'ARN': ROLE, 'accountId': ACCT, 'type': 'AWS::IAM::Role'}]
    r['responseElements']['credentials']['accessKeyId'] = key
    r['responseElements']['assumedRoleUser'] = {'assumedRoleId': 'AROAPIVOTADMINROLE:' + name,
                                                'arn': 'arn:aws:sts::%s:assumed-role/admin-role/%s' % (ACCT, name)}
    return r

def cak(n, t, who, target, key, ip=IP):
    return rec(CAK, n, t, who, ip=ip, requestParameters={'userName': target},
               responseElements={'accessKey': {'accessKeyId': key, 'createDate': 'Aug 1, 2024, 1:42:00 PM', 'status': 'Active', 'userName': target}})

# The attacker's records, in the window (2024-08-01 07:40:00 .. 14:41:00).
a1 = rec(GCI, 1, '2024-08-01T13:39:00Z', DANA)
a2 = assume(2, '2024-08-01T13:40:00Z', DANA, 'attacker', 'ASIAPIVOTATTACKER001')
s2 = rec(GCI, 3, '2024-08-01T13:41:00Z', ATTACKER, ip=SESSION_IP)
s1 = cak(4, '2024-08-01T13:42:00Z', ATTACKER, 'bob', 'AKIAPIVOTBOBNEWKEY01', ip=SESSION_IP)
b1 = rec(GCI, 5, '2024-08-01T14:00:00Z', BOB, region='eu-west-1', ip=BOB_IP)
b2 = rec(DI, 6, '2024-08-01T14:01:00Z', BOB, region='eu-west-1', ip=BOB_IP)
# Noise: another principal (omar) and his session of the same role.
c1 = assume(11, '2024-08-01T13:40:30Z', OMAR, 'nightly', 'ASIAPIVOTNIGHTLY0001', ip=OPS_IP)
n1 = cak(12, '2024-08-01T13:43:00Z', NIGHTLY, 'ci', 'AKIAPIVOTNIGHTLYCI01', ip=OPS_IP)
n2 = rec(DI, 13, '2024-08-01T14:02:00Z', NIGHTLY, region='eu-west-1', ip=OPS_IP)
cc = rec(DI, 14, '2024-08-01T14:03:00Z', OMAR, region='eu-west-1', ip=OPS_IP)
# Out-of-window twins of the attacker's identities.
def twin(r, n, t):
    x = copy.deepcopy(r)
    x['eventID'] = 'a0000000-0000-4000-8000-%012d' % n
    x['eventTime'] = t
    return x
t1 = twin(a1, 21, '2024-08-01T07:20:00Z')   # in a file listed for the pad, before the window
t2 = twin(s2, 22, '2024-08-01T14:45:00Z')   # in a file listed for the pad, after the window
t3 = twin(b1, 23, '2024-08-01T14:46:00Z')
t4 = twin(b2, 24, '2024-08-01T16:05:00Z')   # in a file delivered after the pad

def trail(region, stamp, unique, records):
    day = '2024/08/01'
    key = '%s/s3/%s/AWSLogs/{{account}}/CloudTrail/%s/%s/{{account}}_CloudTrail_%s_%s_%s.json.gz' % (D, TRAIL, region, day, region, stamp, unique)
    gz(key, json.dumps({'Records': records}, separators=(',', ':')))

trail('us-east-1', '20240801T0730Z', 'Early', [t1])
trail('us-east-1', '20240801T1345Z', 'Pivot', [a1, a2, c1, s2, s1, n1])
trail('eu-west-1', '20240801T1405Z', 'Acts', [b1, b2, n2, cc])
trail('us-east-1', '20240801T1450Z', 'LateE', [t2])
trail('eu-west-1', '20240801T1450Z', 'LateW', [t3])
trail('eu-west-1', '20240801T1610Z', 'After', [t4])
