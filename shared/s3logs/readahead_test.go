package s3logs

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadAheadWriteTo checks that the read-ahead hands over every byte
// of its source, across many chunks, in order, then the source's error
// (none for io.EOF), through WriteTo as through Read.
func TestReadAheadWriteTo(t *testing.T) {
	data := strings.Repeat("0123456789abcdef", 5*readAheadSize/16+3) // past the chunks it holds
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		src     io.Reader
		want    string
		wantErr error
	}{
		{"whole", strings.NewReader(data), data, nil},
		{"empty", strings.NewReader(""), "", nil},
		{"an error after the data", io.MultiReader(strings.NewReader(data[:1000]), iotest.ErrReader(boom)), data[:1000], boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra := newReadAhead(tc.src)
			var got bytes.Buffer
			n, err := ra.WriteTo(&got)
			ra.stop()
			ra.wait()
			if !errors.Is(err, tc.wantErr) || got.String() != tc.want || n != int64(len(tc.want)) {
				t.Fatalf("WriteTo: %d bytes (equal: %v), err %v; want %d, %v", n, got.String() == tc.want, err, len(tc.want), tc.wantErr)
			}
		})
	}
}
