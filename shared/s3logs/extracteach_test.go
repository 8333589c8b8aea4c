package s3logs

import (
	"context"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/custody-ir/custody/shared/incident"
)

// memObjects serves each key's body from memory.
type memObjects map[string]string

func (m memObjects) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(m[aws.ToString(in.Key)]))}, nil
}

type sliceWriter []string

func (s *sliceWriter) WriteRecord(v any, _ time.Time) error {
	*s = append(*s, v.(string))
	return nil
}

// TestExtractEachReadsAhead checks that a reader that finishes before an
// earlier object goes on to the next object at once, while the records
// still reach the writer in object order: the first object's decoder
// waits for the third's to start, which it could not if each reader's
// CPU were held until the writer took its object.
func TestExtractEachReadsAhead(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	objs := []Object{{Key: "a"}, {Key: "b"}, {Key: "c"}, {Key: "d"}}
	client := memObjects{"a": "a1\na2\n", "b": "b1\n", "c": "c1\nc2\n", "d": "d1\n"}
	thirdStarted := make(chan struct{})
	decodeFor := func(o Object) Decoder {
		lines := Lines(func(line []byte) (Record, error) { return Record{Value: string(line)}, nil })
		return func(r io.Reader, emit func(Record) error, bad func(error)) error {
			switch o.Key {
			case "a":
				select {
				case <-thirdStarted:
				case <-time.After(5 * time.Second):
					t.Error("the third object was not started while the first was read")
				}
			case "c":
				close(thirdStarted)
			}
			return lines(r, emit, bad)
		}
	}
	var got sliceWriter
	all := incident.Window{Start: time.Unix(0, 0), End: time.Unix(1<<40, 0)}
	st, err := ExtractEach(context.Background(), client, objs, decodeFor, func(Record) bool { return true }, all, &got)
	if want := []string{"a1", "a2", "b1", "c1", "c2", "d1"}; err != nil || !reflect.DeepEqual([]string(got), want) || st.Objects != 4 || st.Kept != 6 {
		t.Errorf("wrote %q (%+v, %v), want %q", got, st, err, want)
	}
}
