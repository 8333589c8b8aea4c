// Package evidence writes and checks the evidence bucket: the key layout of
// cases and runs, streamed and hashed puts that never overwrite, server-side
// copies that keep the source's metadata and ask S3 for the SHA-256, the
// manifest that is a run's chain of custody with its JSON Schema, and the
// verification of a run, downloaded or in the bucket, against its manifest.
//
// Every error that leaves the Writer is one of the faults package's named
// types (EvidenceError, ThrottledError, TransientError), so the state
// machine can retry or catch it by name.
package evidence
