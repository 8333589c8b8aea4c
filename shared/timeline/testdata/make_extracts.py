#!/usr/bin/env python3
"""Rebuild testdata/extracts/*.jsonl from the corpus (/work/shared/corpus or $CORPUS).

Each extract is one JSON record per line, the shape a collector writes. Files
named *.derived.jsonl were reshaped from the corpus file named in SOURCES.md
(parsed from text, unwrapped from an API response, placebo datetimes turned
into RFC 3339, ...); record contents are otherwise unchanged. Run from
shared/timeline: python3 testdata/make_extracts.py
"""
import datetime, json, os, re, shutil, sys

C = os.environ.get("CORPUS", "/work/shared/corpus")
OUT = os.path.join(os.path.dirname(__file__), "extracts")
os.makedirs(OUT, exist_ok=True)


def w(name, recs):
    with open(os.path.join(OUT, name), "w") as f:
        for r in recs:
            f.write(json.dumps(r, separators=(",", ":"), sort_keys=False) + "\n")


def load(p):
    with open(os.path.join(C, p)) as f:
        return json.load(f)


def placebo(v):
    """placebo's {"__class__":"datetime",...} -> RFC 3339 with microseconds."""
    if isinstance(v, dict):
        if v.get("__class__") == "datetime":
            d = datetime.datetime(v["year"], v["month"], v["day"], v["hour"], v["minute"], v["second"], v["microsecond"])
            return d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        return {k: placebo(x) for k, x in v.items()}
    if isinstance(v, list):
        return [placebo(x) for x in v]
    return v


# --- cloudtrail -----------------------------------------------------------
st = "stratus-red-team/detonation-logs/"
recs = []
for t in ["aws.defense-evasion.cloudtrail-stop", "aws.initial-access.console-login-without-mfa",
          "aws.persistence.iam-create-admin-user", "aws.exfiltration.ec2-share-ebs-snapshot",
          "aws.defense-evasion.organizations-leave"]:
    recs += load(st + t + ".json")
w("cloudtrail_stratus.derived.jsonl", recs)
ot = [json.loads(l) for l in open(os.path.join(C, "otrf-security-datasets/extracted/ec2_proxy_s3_exfiltration_2020-09-14011940.json"))]
w("cloudtrail_otrf_no_eventtime.derived.jsonl", [r for r in ot if r.get("eventName") in ("ListObjects", "AssumeRole")][:4])
os_recs = load("opensearch-catalog/cloudtrail_840_events_cleaned.Records.json")["Records"]
w("cloudtrail_opensearch.derived.jsonl", os_recs[:6] + [r for r in os_recs if r.get("errorCode")][:2])
shutil.copy(os.path.join(C, "plaso/aws_cloudtrail_lookupevents.jsonl"), os.path.join(OUT, "cloudtrail_lookupevents_plaso.jsonl"))
w("cloudtrail_lookupevents_awscli.derived.jsonl", [load("aws-cli-examples/cloudtrail_lookup-events_output.json")])

# --- timesketch edge cases as CloudTrail eventTime values ------------------
import csv
edge = []
for fn in ["validate_time_out_of_range.csv", "validate_time_precision.csv", "invalid_datetime.csv",
           "validate_no_datetime_timestamps.csv", "validate_timestamp_conversion.csv"]:
    with open(os.path.join(C, "timesketch/test_events", fn)) as f:
        for row in csv.DictReader(f):
            r = {"eventVersion": "1.08", "eventSource": "timesketch.test", "eventName": row["data_type"].replace(" ", "_"),
                 "userIdentity": {"type": "IAMUser", "userName": fn}, "errorMessage": row["message"]}
            if row.get("datetime") is not None:
                r["eventTime"] = row["datetime"]
            edge.append(r)
w("cloudtrail_timesketch_edge.derived.jsonl", edge)

# --- vpcflow: S3 text with header -> one map per record --------------------
def flow(p, camel=False):
    lines = open(os.path.join(C, p)).read().splitlines()
    hdr = lines[0].split()
    out = []
    for l in lines[1:]:
        r = {}
        for k, v in zip(hdr, l.split()):
            if camel:
                k = re.sub(r"-(.)", lambda m: m.group(1).upper(), k).replace("Addr", "Addr")
            r[k] = int(v) if re.fullmatch(r"-?\d+", v) and k not in ("account-id", "accountId") else v
        out.append(r)
    return out
w("vpcflow.derived.jsonl", flow("otel-collector-contrib/vpc_flow_v2_multi.log") + flow("otel-collector-contrib/vpc_flow_v2_nodata.log")
  + flow("otel-collector-contrib/tgw_flow_v6_custom.log"))
w("vpcflow_camel.derived.jsonl", flow("otel-collector-contrib/vpc_flow_v5_custom_ecs.log", camel=True))

# --- s3access: server access log lines -> field maps ----------------------
F = ["bucket_owner", "bucket", "time", "remote_ip", "requester", "request_id", "operation", "key", "request_uri",
     "http_status", "error_code", "bytes_sent", "object_size", "total_time", "turn_around_time", "referer",
     "user_agent", "version_id", "host_id", "signature_version", "cipher_suite", "authentication_type",
     "host_header", "tls_version", "access_point_arn", "acl_required"]
tok = re.compile(r'\[[^\]]*\]|"[^"]*"|\S+')
def s3(p, n, camel=False):
    out = []
    for l in open(os.path.join(C, p)).read().splitlines()[:n]:
        r = {}
        for k, v in zip(F, tok.findall(l)):
            if v.startswith('"') and v.endswith('"'):
                v = v[1:-1]
            if camel:
                k = re.sub(r"_(.)", lambda m: m.group(1).upper(), k)
            r[k] = v
        out.append(r)
    return out
w("s3access.derived.jsonl", s3("otel-collector-contrib/s3_access_log_multi.log", 3) + s3("opensearch-catalog/s3_server_access_raw.log", 3))
w("s3access_camel.derived.jsonl", s3("opensearch-catalog/s3_server_access_raw.log", 5, camel=True)[3:])

# --- cloudwatch: GetLogEvents events, with the stream the collector adds ----
ev = load("aws-cli-examples/logs_get-log-events_output.json")
w("cloudwatch.derived.jsonl", [dict(e, logGroup="my-logs", logStream="20150601") for e in ev["events"]] + [ev])

# --- dynamodb ---------------------------------------------------------------
w("dynamodb_getrecords.derived.jsonl", load("aws-cli-examples/dynamodbstreams_get-records_output.json")["Records"])
w("dynamodb_lambda_wrapped.derived.jsonl", [{"record": r} for r in load("aws-lambda-go/dynamodb-event.json")["Records"]])

# --- guardduty --------------------------------------------------------------
gd = [load("aws-samples-guardduty-automated-response/guardduty_%s_event.json" % k) for k in ("ec2", "iam", "s3")]
w("guardduty_camel.derived.jsonl", gd + [load("cloud-custodian/guardduty_eventbridge_iam_toripcaller.json")])
w("guardduty_pascal.derived.jsonl", [load("aws-cli-examples/guardduty_get-findings_output.json")]
  + [x["finding"] for x in load("stix-shifter/guardduty_getfindings_pascalcase_4_findings.json")])

# --- inspector --------------------------------------------------------------
w("inspector.derived.jsonl", placebo(load("cloud-custodian/placebo_inspector2_ListFindings_1.json")["data"]["findings"]))

# --- iam --------------------------------------------------------------------
svc = placebo(load("cloud-custodian/placebo_iam_GetServiceLastAccessedDetails_2_completed.json")["data"])
svc.pop("ResponseMetadata", None)
keep = [s for s in svc["ServicesLastAccessed"] if "LastAuthenticated" in s][:6] + [s for s in svc["ServicesLastAccessed"] if "LastAuthenticated" not in s][:2]
svc["ServicesLastAccessed"] = keep
w("iam.derived.jsonl", [svc, load("aws-cli-examples/iam_get-service-last-accessed-details-with-entities_output.json")])
print("ok")
