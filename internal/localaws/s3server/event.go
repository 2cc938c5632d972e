package s3server

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// EncodeKey encodes an object key as S3 writes it into event notifications:
// form-encoded (a space becomes "+", "+" becomes "%2B"), with the "/"
// separators kept.
func EncodeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

// MarshalEvent writes an S3 event notification in S3's wire shape, which
// differs from encoding events.S3Event directly: eventTime has milliseconds
// and a Z, size is present even when 0, and there is no urlDecodedKey (a
// field aws-lambda-go derives when decoding).
func MarshalEvent(e events.S3Event) ([]byte, error) {
	type object struct {
		Key       string `json:"key"`
		Size      int64  `json:"size"`
		ETag      string `json:"eTag"`
		VersionID string `json:"versionId,omitempty"`
		Sequencer string `json:"sequencer"`
	}
	type bucket struct {
		Name          string                `json:"name"`
		OwnerIdentity events.S3UserIdentity `json:"ownerIdentity"`
		Arn           string                `json:"arn"`
	}
	type entity struct {
		SchemaVersion   string `json:"s3SchemaVersion"`
		ConfigurationID string `json:"configurationId"`
		Bucket          bucket `json:"bucket"`
		Object          object `json:"object"`
	}
	type record struct {
		EventVersion      string                     `json:"eventVersion"`
		EventSource       string                     `json:"eventSource"`
		AWSRegion         string                     `json:"awsRegion"`
		EventTime         string                     `json:"eventTime"`
		EventName         string                     `json:"eventName"`
		UserIdentity      events.S3UserIdentity      `json:"userIdentity"`
		RequestParameters events.S3RequestParameters `json:"requestParameters"`
		ResponseElements  map[string]string          `json:"responseElements"`
		S3                entity                     `json:"s3"`
	}
	out := struct {
		Records []record `json:"Records"`
	}{Records: make([]record, 0, len(e.Records))}
	for _, r := range e.Records {
		out.Records = append(out.Records, record{
			EventVersion:      r.EventVersion,
			EventSource:       r.EventSource,
			AWSRegion:         r.AWSRegion,
			EventTime:         r.EventTime.UTC().Format("2006-01-02T15:04:05.000Z"),
			EventName:         r.EventName,
			UserIdentity:      r.PrincipalID,
			RequestParameters: r.RequestParameters,
			ResponseElements:  r.ResponseElements,
			S3: entity{
				SchemaVersion:   r.S3.SchemaVersion,
				ConfigurationID: r.S3.ConfigurationID,
				Bucket:          bucket(r.S3.Bucket),
				Object: object{
					Key: r.S3.Object.Key, Size: r.S3.Object.Size, ETag: r.S3.Object.ETag,
					VersionID: r.S3.Object.VersionID, Sequencer: r.S3.Object.Sequencer,
				},
			},
		})
	}
	return json.Marshal(out)
}

// objectInfo is what an ObjectCreated record says about the object.
type objectInfo struct {
	Bucket, Key       string
	Size              int64
	ETag, VersionID   string
	Sequencer         string
	RequestID, HostID string
	SourceIP          string
}

// objectCreated builds one ObjectCreated record (eventVersion 2.1, as S3
// sends today).
func objectCreated(name, region, configID string, at time.Time, o objectInfo) events.S3EventRecord {
	return events.S3EventRecord{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         region,
		EventTime:         at.UTC().Truncate(time.Millisecond),
		EventName:         name,
		PrincipalID:       events.S3UserIdentity{PrincipalID: localPrincipal},
		RequestParameters: events.S3RequestParameters{SourceIPAddress: o.SourceIP},
		ResponseElements:  map[string]string{"x-amz-request-id": o.RequestID, "x-amz-id-2": o.HostID},
		S3: events.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: configID,
			Bucket: events.S3Bucket{
				Name:          o.Bucket,
				OwnerIdentity: events.S3UserIdentity{PrincipalID: localOwner},
				Arn:           "arn:aws:s3:::" + o.Bucket,
			},
			Object: events.S3Object{
				Key:           EncodeKey(o.Key),
				URLDecodedKey: o.Key,
				Size:          o.Size,
				ETag:          o.ETag,
				VersionID:     o.VersionID,
				Sequencer:     o.Sequencer,
			},
		},
	}
}

// Identities of the local "account" in events.
const (
	localPrincipal = "AWS:AIDALOCALPATIENTSYNC"
	localOwner     = "LOCALPATIENTSYNCOWNER"
)
