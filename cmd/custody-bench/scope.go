package main

import (
	"time"

	"github.com/custody-ir/custody/shared/incident"
)

// The scope every generated input is measured against: about 2 % of the
// generated records carry these values, none of the real samples does.
const (
	scopeAccount   = "111122223333"
	scopeAccessKey = "AKIAQBENCH7SCOPE2024"
	scopePrincipal = "arn:aws:iam::111122223333:user/bench-intruder"
	scopeENI       = "eni-0be4c4cafe0b1e2f3"
	region         = "us-east-1"
	// inScopeEvery makes one record in 50 (2 %) in scope.
	inScopeEvery = 50
)

// genStart is the first generated record's time; every generated record
// falls in benchWindow, so the scope alone decides what is kept.
var genStart = time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)

var benchWindow = incident.Window{Start: genStart.Add(-time.Hour), End: genStart.Add(60 * 24 * time.Hour)}

func benchScope() incident.Scope {
	return incident.Scope{
		AccountID:  scopeAccount,
		Region:     region,
		AccessKeys: []string{scopeAccessKey},
		Principals: []string{scopePrincipal},
		ENIs:       []string{scopeENI},
	}
}

// jqFilter is the CloudTrail filter jq runs: the same test the Matcher
// makes for this scope (an access key or a principal ARN).
const jqFilter = `.Records[] | select(.userIdentity.accessKeyId == "` + scopeAccessKey + `" or .userIdentity.arn == "` + scopePrincipal + `")`
