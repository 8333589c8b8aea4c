package awsconfig

// Redacted is redacted, for the tests.
var Redacted = redacted
