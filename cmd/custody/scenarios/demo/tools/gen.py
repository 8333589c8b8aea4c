# Generates the derived files of cmd/custody/scenarios/demo (see its SOURCES.md).
import json, gzip, io, re, os, datetime as dt
C = '/work/shared/corpus'
D = '/work/main/cmd/custody/scenarios/demo'
SR = C + '/stratus-red-team/detonation-logs/'
UTC = dt.timezone.utc

def gz(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode='wb', mtime=0, compresslevel=9, filename='') as z:
        z.write(text.encode())
    open(path, 'wb').write(buf.getvalue())

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, 'w').write(text)

def ts(s): return dt.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC)
def epoch(s): return int(ts(s).timestamp())

def retime(records, first_new):
    """Moves the records so that the earliest eventTime is first_new, keeping offsets."""
    first = min(ts(r['eventTime']) for r in records)
    return ts(first_new) - first

def retext(text, off):
    """Moves every other time written in the records by the same offset."""
    text = re.sub(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"', lambda m: '"' + (ts(m.group(1)) + off).strftime('%Y-%m-%dT%H:%M:%SZ') + '"', text)
    def eng(m):
        t = dt.datetime.strptime(m.group(1), '%b %d, %Y, %I:%M:%S %p') + off
        return '"' + t.strftime('%b ') + str(t.day) + t.strftime(', %Y, ') + str(int(t.strftime('%I'))) + t.strftime(':%M:%S %p') + '"'
    text = re.sub(r'"([A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d\d:\d\d [AP]M)"', eng, text)
    text = re.sub(r'aws-go-sdk-(\d{19})', lambda m: 'aws-go-sdk-%d' % (int(m.group(1)) + int(off.total_seconds()) * 10**9), text)
    return text

def trail(records, subs, name, off):
    text = json.dumps({'Records': records}, separators=(',', ':'))
    for a, b in subs:
        text = text.replace(a, b)
    text = retext(text, off)
    gz(D + '/s3/custody-demo-trail/AWSLogs/{{account}}/CloudTrail/us-east-1/2024/08/02/{{account}}_CloudTrail_us-east-1_' + name + '.json.gz', text)
    assert not re.search(r'\d{4}-\d{2}-\d{2}T', text.replace('2024-08-02T', '')) , name
    return len(records)

# T2: another principal in the finding's window (SSM parameters read by christophe).
r = json.load(open(SR + 'aws.credential-access.ssm-retrieve-securestring-parameters.json'))
off = retime(r, '2024-08-02T08:23:05Z')
n2 = trail(r, [('933175858973', '{{account}}'), ('cn-west-3r', 'us-east-1')], '20240802T0825Z_Hn5cW2rT8yBq4ZeK', off)

# T3: alice just before the collectors' window (AssumeRole refused).
r = [x for x in json.load(open(SR + 'aws.credential-access.ec2-get-password-data.json')) if x['eventName'] == 'AssumeRole']
off = retime(r, '2024-08-02T02:15:10Z')
for x in r:
    x['userIdentity']['accessKeyId'] = '{{accesskey:alice}}'
n3 = trail(r, [('457448411975', '{{account}}'), ('apiso-northsouth-3r', 'us-east-1'), ('user/christophe', 'user/alice'), ('"userName":"christophe"', '"userName":"alice"')], '20240802T0220Z_Lp7dR3xN9kTz2VaQ', off)

# T4: web-role (session = the instance) just after the collectors' window.
r = [x for x in json.load(open(SR + 'aws.discovery.ec2-download-user-data.json')) if x['eventName'] == 'DescribeInstanceAttribute']
off = retime(r, '2024-08-02T09:24:34Z')
n4 = trail(r, [('321848314756', '{{account}}'), ('751353041310', '{{account}}'), ('apiso-westcentral-3r', 'us-east-1'),
               ('stratus-red-team-get-usr-data-role/aws-go-sdk-1722455550269043000', 'web-role/{{instance:web}}'),
               ('aws-go-sdk-1722455550269043000', '{{instance:web}}'),
               ('role/stratus-red-team-get-usr-data-role', 'role/web-role')], '20240802T0930Z_Gf4sK8wM1cYj6PbE', off)
print('trail', n2, n3, n4)

# VPC flow logs.
HDR2 = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n'
E = lambda s: str(epoch(s))
def flowkey(fl, stamp, h, bucket='custody-demo-flowlogs'):
    return D + '/s3/' + bucket + '/AWSLogs/{{account}}/vpcflowlogs/us-east-1/2024/08/02/{{account}}_vpcflowlogs_us-east-1_{{flowlog:' + fl + '}}_' + stamp + '_' + h + '.log.gz'
web = [
    # otel valid_vpc_flow_log_multi.log line 1 (AWS doc example): SSH to the instance
    '2 {{account}} {{eni:web}} 172.31.16.139 {{privateip:web}} 20641 22 6 20 4249 %s %s ACCEPT OK' % (E('2024-08-02T08:22:40Z'), E('2024-08-02T08:23:40Z')),
    # panther attacker_vpc.yml: exfil from the instance to the attacker over 22
    '2 {{account}} {{eni:web}} {{privateip:web}} 18.236.253.47 38316 22 6 19 1048576 %s %s ACCEPT OK' % (E('2024-08-02T08:22:41Z'), E('2024-08-02T08:23:41Z')),
    # panther attacker_vpc.yml: S3 get object
    '2 {{account}} {{eni:web}} 52.216.229.53 {{privateip:web}} 58316 443 6 19 3048576 %s %s ACCEPT OK' % (E('2024-08-02T08:22:50Z'), E('2024-08-02T08:22:55Z')),
]
ops = '2 {{account}} {{eni:ops-1}} 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 %s %s REJECT OK' % (E('2024-08-02T08:22:40Z'), E('2024-08-02T08:23:40Z'))
before = '2 {{account}} {{eni:web}} 172.31.16.139 {{privateip:web}} 20641 22 6 20 4249 %s %s ACCEPT OK' % (E('2024-08-02T02:10:00Z'), E('2024-08-02T02:11:00Z'))
after = '2 {{account}} {{eni:web}} {{privateip:web}} 18.236.253.47 38316 22 6 19 1048576 %s %s ACCEPT OK' % (E('2024-08-02T09:25:00Z'), E('2024-08-02T09:25:30Z'))
gz(flowkey('prod-s3', '20240802T0825Z', '5f1c2a9e'), HDR2 + '\n'.join([web[0], ops, web[1], web[2]]) + '\n')
gz(flowkey('prod-s3', '20240802T0220Z', '0b7e4d13'), HDR2 + before + '\n')
gz(flowkey('prod-s3', '20240802T0935Z', 'c2a9f6e8'), HDR2 + after + '\n')
# ECS custom format (otel valid_vpc_flow_log_ecs.log): header kept, one line for web, the original line on ops-1.
ecs = open(C + '/otel-collector-contrib/vpc_flow_v5_custom_ecs.log').read().splitlines()
hdr, line = ecs[0], ecs[1]
f = line.split(' ')
tail = ' '.join(f[14:]).replace('123456789012', '{{account}}')
ecs_web = ' '.join(['5', '{{account}}', '{{eni:web}}', '{{privateip:web}}', '18.236.253.47', '49152', '22', '6', '15', '3500', E('2024-08-02T08:22:45Z'), E('2024-08-02T08:23:45Z'), 'ACCEPT', 'OK', tail])
ecs_ops = ' '.join(['5', '{{account}}', '{{eni:ops-1}}', '172.31.9.69', '172.31.9.12', '49152', '22', '6', '15', '3500', E('2024-08-02T08:22:45Z'), E('2024-08-02T08:23:45Z'), 'ACCEPT', 'OK', tail])
gz(flowkey('prod-ecs', '20240802T0825Z', '7a3e9c51', 'custody-demo-flowlogs-ecs'), hdr + '\n' + ecs_web + '\n' + ecs_ops + '\n')
print('ecs format', ' '.join('${%s}' % x for x in hdr.split()))

def cw(lines):
    return ''.join(json.dumps({'timestamp': int(l.split(' ')[10]) * 1000, 'message': l}) + '\n' for l in lines)
write(D + '/logs/vpc/flow/{{eni:web}}-all.jsonl', cw([before] + web + [after]).replace('"timestamp": ', '"timestamp": '))
write(D + '/logs/vpc/flow/{{eni:ops-1}}-all.jsonl', cw([ops]))

# S3 server access logs (bucket custody-demo-data -> custody-demo-access-logs, prefix custody-demo-data/).
def clf(s): return ts(s).strftime('[%d/%b/%Y:%H:%M:%S +0000]')
otel = open(C + '/otel-collector-contrib/s3_access_log_multi.log').read().splitlines()
otel = [l.replace('amzn-s3-demo-bucket1', 'custody-demo-data').replace('us-west-1', 'us-east-1').replace('123456789012', '{{account}}').replace('[06/Feb/2019:00:00:38 +0000]', clf('2024-08-02T08:22:50Z')) for l in otel]
pan = re.findall(r'^  - (79a59df900bb.*)$', open(C + '/panther-analysis/scenario_compromised_root_creds/attacker_s3_access.yml').read(), re.M)
assert len(pan) == 3
stamps = ['2024-08-02T08:23:55Z', '2024-08-02T08:23:55Z', '2024-08-02T08:23:56Z']
pan2 = []
for l, s in zip(pan, stamps):
    l = re.sub(r'\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\]', clf(s), l)
    l = l.replace('acme.customerdata-prod', 'custody-demo-data').replace('arn:aws:iam::493859302102:user/tracy_stone', 'arn:aws:sts::{{account}}:assumed-role/web-role/{{instance:web}}').replace(' 172.31.77.31 ', ' 18.236.253.47 ')
    pan2.append(l)
raw = open(C + '/opensearch-catalog/s3_server_access_raw.log').read().splitlines()
other = re.sub(r'\[31/Jan/2023:\d\d:\d\d:\d\d \+0000\]', clf('2024-08-02T08:23:10Z'), raw[0])
k1 = otel + pan2 + [other]
write(D + '/s3/custody-demo-access-logs/custody-demo-data/2024-08-02-08-35-41-7D4E3A1F9C2B6E50', '\n'.join(k1) + '\n')
def own(l, s):
    l = re.sub(r'\[31/Jan/2023:\d\d:\d\d:\d\d \+0000\]', clf(s), l)
    return l.replace('centralizedlogging-webconsoleuis3bucket22191f5e-t9bxwwr3d7k', 'custody-demo-data').replace('347283850106', '{{account}}').replace('us-west-2', 'us-east-1')
write(D + '/s3/custody-demo-access-logs/custody-demo-data/2024-08-01-14-05-12-5B8E1C7A3D9F2046', own(raw[1], '2024-08-01T13:58:02Z') + '\n' + own(raw[2], '2024-08-01T13:58:03Z') + '\n')
write(D + '/s3/custody-demo-access-logs/custody-demo-data/2024-08-02-09-52-17-E1F3A5C7092B4D68', own(raw[3], '2024-08-02T09:25:10Z') + '\n')

# CloudWatch Logs /custody-demo/app, stream = the instance.
ex = json.load(open(C + '/aws-cli-examples/logs_get-log-events_output.json'))['events']
base = ex[0]['timestamp']
t0 = epoch('2024-08-02T08:23:00Z') * 1000 + 356
app = [{'timestamp': epoch('2024-08-02T02:20:00Z') * 1000, 'message': 'nginx: started, pid 2211'},
       {'timestamp': epoch('2024-08-02T02:21:00Z') * 1000, 'message': '172.31.16.139 - - "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0"'}]
app += [{'timestamp': t0 + e['timestamp'] - base, 'message': e['message']} for e in ex]
app += [{'timestamp': epoch('2024-08-02T09:25:00Z') * 1000, 'message': '172.31.16.139 - - "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0"'}]
write(D + '/logs/custody-demo/app/{{instance:web}}.jsonl', ''.join(json.dumps(e) + '\n' for e in app))
